/* Prints the object-internal offsets in src/objects.rs (sys.modules, dict,
 * module, heap type) for one interpreter, to check them against its headers:
 *   gcc -I$PREFIX/include/python3.X object_offsets.c -o obj && ./obj
 * (Debian's headers: add -idirafter /usr/include, for its multiarch pyconfig.h.) */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stdio.h>
#include <stddef.h>
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
