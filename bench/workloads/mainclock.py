"""Runs a script (argv[1], with the rest as its arguments) as __main__ and
prints, on stderr, how long the main thread was blocked meanwhile: its wall
time less its time on a CPU and runnable without one, from the kernel's
clocks (/proc/self/task/TID/schedstat). For a CPU-bound script that never
sleeps this is the time it waited for the GIL — what another thread's work
under the GIL cost it, whatever the machine's load (bench/advise.py)."""
import runpy
import sys
import threading
import time

TID = threading.get_native_id()


def clocks():
    with open(f"/proc/self/task/{TID}/schedstat") as f:
        on_cpu, runnable, _ = map(int, f.read().split())
    return time.monotonic(), (on_cpu + runnable) / 1e9


wall0, busy0 = clocks()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
wall1, busy1 = clocks()
print(f"main-blocked-ms {1e3 * ((wall1 - wall0) - (busy1 - busy0)):.3f}", file=sys.stderr)
