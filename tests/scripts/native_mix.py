"""A numpy matrix product next to a pure-Python loop: the ground truth of
`record --native`'s Python / native split.

For SECONDS of the thread's CPU time): rounds of `product(a)` (one
200x200 `a @ a`: BLAS's dgemm, in one thread: OPENBLAS_NUM_THREADS=1 is set
before numpy is imported) then `python_loop(UNIT)` (bytecode only). The
program times each product with the thread's CPU clock; the native share of
`rounds`' time is the products' share (the clock reads and the loop around
them are a few microseconds a round against ~2 ms of work).

When REPORT_PATH is given the program writes its own measurement there:
    {"native_s": <CPU time inside the products>, "rounds_s": <CPU time of `rounds`>}

Usage: native_mix.py [SECONDS [REPORT_PATH]]   (default 2.0 s). Prints nothing.
"""

import json
import os
import sys
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402  (after the thread count is set)

UNIT = 20_000
SIZE = 200


def product(a):
    return a @ a


def python_loop(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def rounds(seconds, a):
    native = 0.0
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        before = time.thread_time()
        product(a)
        native += time.thread_time() - before
        python_loop(UNIT)
    return native, time.thread_time() - start


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    a = np.random.default_rng(0).random((SIZE, SIZE))
    native, total = rounds(seconds, a)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            json.dump({"native_s": native, "rounds_s": total}, f)


main()
