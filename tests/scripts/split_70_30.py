"""CPU time split 70/30 between `heavy` and `light`, by construction.

Both functions spend their time in the same `work(UNIT)` call: `heavy` makes 7
calls per round and `light` 3, and the rounds alternate heavy, light, heavy,
light... until the duration has passed. Every call of `work` does identical
work, so of the CPU time spent inside `heavy` or `light`, 7/10 is in `heavy`.
The per-round overhead outside them (the loop, a few clock reads) is about a
microsecond against ~10 ms of work per round.

A sampling profiler sees wall time, not CPU time: when the machine is busy, the
scheduler preempts the target in millisecond blocks, and each block counts for
whichever function was running. So the target also measures the wall-time
split itself and, when REPORT_PATH is given, writes it there as JSON:
    {"wall_share": <heavy / (heavy + light), wall time>,
     "cpu_share":  <the same in thread CPU time: 0.70 by construction>}

Usage: split_70_30.py [SECONDS [REPORT_PATH]]   (default 2.0 s). Prints nothing.
"""

import json
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


def main(seconds, report_path):
    wall = time.perf_counter
    cpu = time.thread_time
    wall_heavy = wall_light = cpu_heavy = cpu_light = 0.0
    deadline = wall() + seconds
    while wall() < deadline:
        w0, c0 = wall(), cpu()
        heavy()
        w1, c1 = wall(), cpu()
        light()
        w2, c2 = wall(), cpu()
        wall_heavy += w1 - w0
        wall_light += w2 - w1
        cpu_heavy += c1 - c0
        cpu_light += c2 - c1
    if report_path:
        with open(report_path, "w", encoding="utf-8") as f:
            json.dump({"wall_share": wall_heavy / (wall_heavy + wall_light),
                       "cpu_share": cpu_heavy / (cpu_heavy + cpu_light)}, f)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0,
         sys.argv[2] if len(sys.argv) > 2 else None)
