/* Prints the object-internal offsets in src/objects.rs (sys.modules, dict,
 * module, heap type) for one interpreter, to check them against its headers:
 *   gcc -I$PREFIX/include/python3.X object_offsets.c -o obj && ./obj   (3.8 and later)
 * (Debian's headers: add -idirafter /usr/include, for its multiarch pyconfig.h.) */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stdio.h>
#include <stddef.h>
#if PY_MINOR_VERSION < 11
/* 3.8-3.10 (objects::V3_8 to V3_10): PyDictKeysObject (Objects/dict-common.h)
 * and PyModuleObject (Objects/moduleobject.c) are not in the installed headers;
 * objects.rs takes them from those sources (dk_size at 8, dk_nentries at 32,
 * dk_indices at 40, 24-byte entries; md_dict right after the object header). */
#if PY_MINOR_VERSION >= 9
#include "internal/pycore_interp.h"
#else
#include "internal/pycore_pystate.h"
#endif
int main(void){
  printf("modules %zu\n", offsetof(PyInterpreterState, modules));
  printf("ma_keys %zu ma_values %zu\n", offsetof(PyDictObject, ma_keys), offsetof(PyDictObject, ma_values));
  printf("ht_cached_keys %zu tp_flags %zu tp_dictoffset %zu\n", offsetof(PyHeapTypeObject, ht_cached_keys), offsetof(PyTypeObject, tp_flags), offsetof(PyTypeObject, tp_dictoffset));
  printf("long ob_size %zu ob_digit %zu\n", offsetof(PyVarObject, ob_size), offsetof(PyLongObject, ob_digit));
  return 0;
}
#else
#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_moduleobject.h"
#include "internal/pycore_object.h"
int main(void){
#if PY_MINOR_VERSION == 11
  printf("modules %zu\n", offsetof(PyInterpreterState, modules));
#else
  printf("modules %zu\n", offsetof(PyInterpreterState, imports.modules));
#endif
  printf("ma_keys %zu ma_values %zu\n", offsetof(PyDictObject, ma_keys), offsetof(PyDictObject, ma_values));
  printf("dk_log2_size %zu dk_log2_index_bytes %zu dk_kind %zu dk_nentries %zu dk_indices %zu\n", offsetof(PyDictKeysObject, dk_log2_size), offsetof(PyDictKeysObject, dk_log2_index_bytes), offsetof(PyDictKeysObject, dk_kind), offsetof(PyDictKeysObject, dk_nentries), offsetof(PyDictKeysObject, dk_indices));
  printf("md_dict %zu\n", offsetof(PyModuleObject, md_dict));
  printf("ht_cached_keys %zu tp_basicsize %zu tp_flags %zu\n", offsetof(PyHeapTypeObject, ht_cached_keys), offsetof(PyTypeObject, tp_basicsize), offsetof(PyTypeObject, tp_flags));
  printf("managed_dict %lu inline %lu\n", (unsigned long)Py_TPFLAGS_MANAGED_DICT,
#ifdef Py_TPFLAGS_INLINE_VALUES
  (unsigned long)Py_TPFLAGS_INLINE_VALUES
#else
  0ul
#endif
  );
#if PY_VERSION_HEX >= 0x030d0000
  printf("managed_dict_offset %ld\n", (long)MANAGED_DICT_OFFSET);
#endif
  return 0;
}
#endif
