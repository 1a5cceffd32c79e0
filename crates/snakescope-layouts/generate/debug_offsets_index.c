/* Prints the u64 index of each _Py_DebugOffsets field snakescope reads, to check
 * src/debug_offsets/mod.rs against a 3.13+ interpreter's headers:
 *   gcc -I$PREFIX/include/python3.13 debug_offsets_index.c -o idx && ./idx */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stdio.h>
#include "internal/pycore_runtime.h"
#define P(f) printf(#f " %zu\n", offsetof(_Py_DebugOffsets, f)/8)
int main(void){P(version);P(free_threaded);P(runtime_state.size);P(runtime_state.interpreters_head);P(interpreter_state.size);P(interpreter_state.next);P(interpreter_state.threads_head);P(interpreter_state.gil_runtime_state_locked);P(interpreter_state.gil_runtime_state_holder);P(thread_state.size);P(thread_state.next);P(thread_state.interp);P(thread_state.current_frame);P(thread_state.thread_id);P(thread_state.native_thread_id);P(thread_state.datastack_chunk);P(interpreter_state.imports_modules);P(dict_object.ma_keys);P(dict_object.ma_values);P(type_object.tp_flags);P(interpreter_frame.size);P(interpreter_frame.previous);P(interpreter_frame.executable);P(interpreter_frame.instr_ptr);P(interpreter_frame.owner);P(code_object.size);P(code_object.filename);P(code_object.name);P(code_object.qualname);P(code_object.linetable);P(code_object.firstlineno);P(code_object.co_code_adaptive);P(pyobject.ob_type);P(bytes_object.ob_size);P(bytes_object.ob_sval);P(unicode_object.state);P(unicode_object.length);P(unicode_object.asciiobject_size); printf("total %zu\n", sizeof(_Py_DebugOffsets)/8); printf("owner %zu\n", offsetof(_PyInterpreterFrame, owner));}
