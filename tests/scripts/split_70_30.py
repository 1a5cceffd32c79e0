"""CPU time split 70/30 between `heavy` and `light`, by construction.

Both functions spend their time in the same `work(UNIT)` call: `heavy` makes 7
calls per round and `light` 3, and the rounds alternate heavy, light, heavy,
light... until the program has used SECONDS of CPU time. Every call of `work`
does identical work, so of the CPU time spent inside `heavy` or `light`, 7/10
is in `heavy`. The per-round overhead outside them (the loop, a few clock
reads) is about a microsecond against ~10 ms of work per round.

The duration is CPU time, not wall time, so a run on a busy machine takes
longer but does the same work (and a CPU-time profiler records as many
samples); a wall-clock cap of 20 x SECONDS stops it on a starved machine.
When REPORT_PATH is given the target writes its own measurement of the split
there as JSON, timed with the thread's CPU clock around each phase:
    {"cpu_share":  <heavy / (heavy + light), thread CPU time: 0.70 by construction>,
     "wall_share": <the same in wall time, which preemption moves on a busy machine>}

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
    cpu_end, wall_cap = cpu() + seconds, wall() + 20 * seconds
    while cpu() < cpu_end and wall() < wall_cap:
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
            json.dump({"cpu_share": cpu_heavy / (cpu_heavy + cpu_light),
                       "wall_share": wall_heavy / (wall_heavy + wall_light)}, f)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0,
         sys.argv[2] if len(sys.argv) > 2 else None)
