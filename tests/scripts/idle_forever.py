"""Spins in `target_loop` until killed (for `dump --pid`, `record --pid`, Ctrl-C).

Once the loop is about to start it writes "ready\n" to stdout and flushes; it
prints nothing else. Despite the file name the process is busy: the main thread
runs Python code in `target_loop` the whole time, so a dump at any instant shows
`target_loop` as the innermost frame of the main thread. As a safety net against
a test that dies without killing it, it exits by itself after MAX_SECONDS.

A Ctrl-C (SIGINT) raises KeyboardInterrupt inside the loop, which is not caught,
so the interpreter exits the way it does for any uncaught KeyboardInterrupt.

Usage: idle_forever.py [MAX_SECONDS]   (default 300).
"""

import sys
import time


def target_loop(max_seconds):
    deadline = time.perf_counter() + max_seconds
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    n = 0
    while time.perf_counter() < deadline:  # loop: begin
        for _ in range(10_000):
            n += 1
    return n  # loop: end


if __name__ == "__main__":
    target_loop(float(sys.argv[1]) if len(sys.argv) > 1 else 300.0)
