"""CPU time split 70/30 between `heavy` and `light`, by construction.

Both functions spend their time in the same `work(UNIT)` call: `heavy` makes 7
calls per round and `light` 3, and the rounds alternate heavy, light, heavy,
light... until the duration has passed. Every call of `work` does identical
work, so of the samples taken inside `heavy` or `light`, 7/10 are in `heavy`.
The per-round overhead outside `work` (one call each, one clock read per round)
is a few hundred nanoseconds against ~10 ms of work per round.

Usage: split_70_30.py [SECONDS]   (default 2.0). Prints nothing.
"""

import sys
import time

# Iterations of the inner loop per unit of work: about 1 ms on CPython 3.11-3.13.
UNIT = 20_000
HEAVY_UNITS = 7
LIGHT_UNITS = 3


def work(n):
    total = 0
    for i in range(n):
        total += i
    return total


def heavy():
    for _ in range(HEAVY_UNITS):
        work(UNIT)


def light():
    for _ in range(LIGHT_UNITS):
        work(UNIT)


def main(seconds):
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        heavy()
        light()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
