/* Prints where each _Py_DebugOffsets field snakescope reads sits in the table
 * (in uint64_t words), and the frame-owner values it needs from the same
 * headers, as one Rust constant of src/debug_tables.rs.
 *
 * Compiled against one interpreter's own headers (including internal/) by
 * debug_tables.sh; 3.13 and later only (the versions with _Py_DebugOffsets).
 * The table's *values* are read from the running interpreter; only its shape
 * (which field is where) is fixed per minor version, and that is what this
 * records. The shape does not depend on the build (free-threaded or not): every
 * field is a uint64_t.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#if PY_VERSION_HEX >= 0x030e0000
#  include "internal/pycore_debug_offsets.h"
#  include "internal/pycore_interpframe_structs.h"
#  include "internal/pycore_stackref.h"
#else
#  include "internal/pycore_runtime.h"
#  include "internal/pycore_frame.h"
#endif

#define W(field) ((unsigned long)(offsetof(_Py_DebugOffsets, field) / 8))
#define F(name, field) printf("    " name ": %lu,\n", W(field))
#define SOME(name, field) printf("    " name ": Some(%lu),\n", W(field))
#define NONE(name) printf("    " name ": None,\n")

int main(void) {
    printf("/// The %d.%d table.\n", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    printf("pub(crate) const V%d_%d: Fields = Fields {\n", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    printf("    minor: %d,\n", PY_MINOR_VERSION);
    printf("    words: %lu,\n", (unsigned long)(sizeof(_Py_DebugOffsets) / 8));
    F("version", version);
    F("free_threaded", free_threaded);
    F("runtime_size", runtime_state.size);
    F("runtime_interpreters_head", runtime_state.interpreters_head);
    F("interp_size", interpreter_state.size);
    F("interp_next", interpreter_state.next);
    F("interp_threads_head", interpreter_state.threads_head);
    F("interp_imports_modules", interpreter_state.imports_modules);
    F("interp_gil_locked", interpreter_state.gil_runtime_state_locked);
    F("interp_gil_holder", interpreter_state.gil_runtime_state_holder);
    F("thread_size", thread_state.size);
    F("thread_next", thread_state.next);
    F("thread_interp", thread_state.interp);
    F("thread_current_frame", thread_state.current_frame);
    F("thread_thread_id", thread_state.thread_id);
    F("thread_native_thread_id", thread_state.native_thread_id);
    F("thread_datastack_chunk", thread_state.datastack_chunk);
    F("frame_size", interpreter_frame.size);
    F("frame_previous", interpreter_frame.previous);
    F("frame_executable", interpreter_frame.executable);
    F("frame_instr_ptr", interpreter_frame.instr_ptr);
    F("frame_owner", interpreter_frame.owner);
    F("code_size", code_object.size);
    F("code_filename", code_object.filename);
    F("code_name", code_object.name);
    F("code_qualname", code_object.qualname);
    F("code_linetable", code_object.linetable);
    F("code_firstlineno", code_object.firstlineno);
    F("code_adaptive", code_object.co_code_adaptive);
    F("object_size", pyobject.size);
    F("object_type", pyobject.ob_type);
    F("type_size", type_object.size);
    F("type_flags", type_object.tp_flags);
    F("dict_size", dict_object.size);
    F("dict_keys", dict_object.ma_keys);
    F("dict_values", dict_object.ma_values);
    F("long_size", long_object.size);
    F("long_lv_tag", long_object.lv_tag);
    F("long_digit", long_object.ob_digit);
    F("bytes_size", bytes_object.size);
    F("bytes_ob_size", bytes_object.ob_size);
    F("bytes_ob_sval", bytes_object.ob_sval);
    F("unicode_size", unicode_object.size);
    F("unicode_state", unicode_object.state);
    F("unicode_length", unicode_object.length);
    F("unicode_ascii_size", unicode_object.asciiobject_size);
#if PY_VERSION_HEX >= 0x030f0000
    SOME("heap_type_size", heap_type_object.size);
    SOME("heap_type_cached_keys", heap_type_object.ht_cached_keys);
#else
    NONE("heap_type_size");
    NONE("heap_type_cached_keys");
#endif
    printf("    owner_generator: %d,\n", FRAME_OWNED_BY_GENERATOR);
    /* Frames owned by the interpreter's entry point or by C code (shims)
     * have this owner value or a higher one. */
#if PY_VERSION_HEX >= 0x030e0000
    printf("    owner_shim_min: %d,\n", FRAME_OWNED_BY_INTERPRETER);
    /* f_executable is a _PyStackRef: a pointer with tag bits. */
    printf("    executable_tag_bits: %lu,\n", (unsigned long)Py_TAG_BITS);
#else
    printf("    owner_shim_min: %d,\n", FRAME_OWNED_BY_CSTACK);
    printf("    executable_tag_bits: 0,\n");
#endif
    printf("};\n");
    return 0;
}
