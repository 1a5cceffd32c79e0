"""C calling back into Python, for `record --native`'s placement of frames:
`sort_with_callback` sorts arrays with the C library's `qsort` through
ctypes, and the comparison is a Python function, `compare`. A sample inside
`compare` has native frames (ctypes' call, `qsort`, the closure that calls
back) between the two Python frames; standard library only, so it runs on
every interpreter.

Usage: native_callback.py [SECONDS]   (CPU time, default 1.0). Prints nothing.
"""

import ctypes
import ctypes.util
import sys
import time


def compare(x, y):
    return (x[0] > y[0]) - (x[0] < y[0])


def sort_with_callback(seconds):
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    pointer = ctypes.POINTER(ctypes.c_int)
    callback = ctypes.CFUNCTYPE(ctypes.c_int, pointer, pointer)(compare)
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        values = (ctypes.c_int * 500)(*range(500, 0, -1))
        libc.qsort(values, len(values), ctypes.sizeof(ctypes.c_int), callback)


sort_with_callback(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
