"""Module globals too big to walk whole, alive at exit: BIG holds 2,000,000
distinct ints (past 2^20 references: the census's shortcut), NESTED 100,000
bytearrays of 1,000 bytes (past 2^16: followed one in two), SMALL 1,000 of
them (walked whole); leak() leaks 2,000 more through the C API. Prints
"ok"."""
import ctypes

BIG = list(range(1_000_000, 3_000_000))  # big
NESTED = [bytearray(1000) for _ in range(100_000)]  # nested
SMALL = [bytearray(1000) for _ in range(1_000)]  # small


def leak():
    hidden = [bytearray(1000) for _ in range(2_000)]  # leaked
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(hidden))


leak()
print("ok")
