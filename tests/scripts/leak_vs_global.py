"""A known global cache and a known leak, alive at exit: CACHE (a module
global) holds 64 bytearrays of 1 MiB; leak() makes a reference cycle
holding 32 more and leaks a reference to it through the C API, so nothing
the program can reach holds it, yet it is never freed. Prints "ok"."""
import ctypes

CACHE = [bytearray(1 << 20) for _ in range(64)]  # kept


class Node:
    pass


def leak():
    a, b = Node(), Node()
    a.other, b.other = b, a
    a.payload = [bytearray(1 << 20) for _ in range(32)]  # leaked
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(a))


leak()
print("ok")
