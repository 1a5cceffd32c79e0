"""A program to attach to (`snakescope attach`): a heartbeat, then known work
on a signal from the test, then a normal exit with known output and status.

Usage: attach_target.py CONTROL_DIR [split SECONDS | memory]

1. Writes CONTROL_DIR/ready, then beats: a loop of 1 ms sleeps that keeps
   the longest gap between two beats (what a pause of the main thread
   shows), until the file CONTROL_DIR/go exists.
2. Does its work, known by construction:
   - `split SECONDS`: split_70_30's `heavy`/`light` rounds for SECONDS of
     CPU time, measuring its own CPU split (as split_70_30.py does);
   - `memory`: each marked line allocates a known number of bytes (see the
     `# bytes:` comments, sizes from sys.getsizeof); it also frees, during
     the work, a block list allocated before step 1 (before any attach).
3. Writes CONTROL_DIR/done, beats again until CONTROL_DIR/finish exists,
   then writes CONTROL_DIR/report.json ({"cpu_share", "sizes",
   "longest_gap_attach_s", "longest_gap_detach_s", "state"}), prints a fixed text and exits with status 3.
   "state" says what an agent must leave as it found it: profile and trace
   functions, threading's hooks, sys.monitoring's tools, sys.path, the
   number of OS threads, and
   which allocator hooks snakescope's native module (when loaded) has.
"""

import json
import os
import sys
import time

import split_70_30

KB = 1024
BEFORE = [bytearray(50 * KB) for _ in range(100)]  # alive before any attach


def beat_until(path, gaps):
    last = time.perf_counter()
    while not os.path.exists(path):
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


def memory_work():
    global BEFORE
    BEFORE = None  # frees blocks the agent never saw allocated
    keep = [bytearray(100 * KB) for _ in range(200)]  # bytes: 200 * getsizeof(bytearray(100 * KB))
    more = [bytes(30 * KB) for _ in range(300)]  # bytes: 300 * getsizeof(bytes(30 * KB))
    return len(keep) + len(more)


def split_work(seconds):
    cpu = time.thread_time
    heavy = light = 0.0
    end = cpu() + seconds
    while cpu() < end:
        c0 = cpu()
        split_70_30.heavy()
        c1 = cpu()
        split_70_30.light()
        c2 = cpu()
        heavy += c1 - c0
        light += c2 - c1
    return heavy / (heavy + light)


def state():
    import threading

    native = sys.modules.get("snakescope._native")
    return {
        "profile": repr(sys.getprofile()),
        "trace": repr(sys.gettrace()),
        "threading_hooks": repr((getattr(threading, "_profile_hook", None), getattr(threading, "_trace_hook", None))),
        "path": list(sys.path),
        "os_threads": len(os.listdir("/proc/self/task")),
        "allocator_hooks": native.memory_hooks() if native is not None else "none",
        "monitoring_tools": [sys.monitoring.get_tool(i) for i in range(6)] if hasattr(sys, "monitoring") else [],
    }


def main(control, mode, args):
    def at(name):
        return os.path.join(control, name)

    gaps = []
    before = state()
    with open(at("ready"), "w"):
        pass
    beat_until(at("go"), gaps)
    report = {"cpu_share": None, "sizes": [sys.getsizeof(bytearray(100 * KB)), sys.getsizeof(bytes(30 * KB))]}
    if mode == "split":
        report["cpu_share"] = split_work(float(args[0]))
        result = "split"
    else:
        result = memory_work()
    with open(at("done"), "w"):
        pass
    report["longest_gap_attach_s"] = max(gaps, default=0.0)  # the attach happens while it beats first
    gaps = []
    beat_until(at("finish"), gaps)
    report["longest_gap_detach_s"] = max(gaps, default=0.0)  # the session ends while it beats again
    report["state"] = [before, state()]
    with open(at("report.json"), "w") as f:
        json.dump(report, f)
    print("work done:", result)
    print("to stderr", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
