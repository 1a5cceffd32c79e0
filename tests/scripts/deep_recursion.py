"""A stack DEPTH `recurse` frames deep, then a spin in `leaf` at the bottom.

The stack while spinning is, root first:
    <module>, recurse x DEPTH (the outer DEPTH-1 at the `recursive-call` line,
    the innermost at the `leaf-call` line), leaf.
The script is run directly (`python deep_recursion.py`), so `<module>` is the
root frame and nothing Python sits above it.

Usage: deep_recursion.py [SECONDS]   (default 2.0). Prints nothing.
"""

import sys
import time

DEPTH = 1200


def leaf():
    while time.perf_counter() < deadline:  # marker: spin
        pass


def recurse(n):
    if n > 1:
        recurse(n - 1)  # marker: recursive-call
    else:
        leaf()  # marker: leaf-call


sys.setrecursionlimit(DEPTH + 1000)
deadline = time.perf_counter() + (float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
recurse(DEPTH)
