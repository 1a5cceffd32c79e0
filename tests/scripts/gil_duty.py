"""Two Python threads contending for the GIL with a known duty cycle, and
their own measure of how they spent their time (the ground truth).

    hog     spins in Python for the duration: it runs while it holds the
            GIL and waits for it otherwise
    duty    spins in Python for DUTY_CPU seconds of its own CPU time, then
            sleeps REST seconds (time.sleep releases the GIL), over and over

Each thread reads its kernel counters (/proc/self/task/TID/schedstat: time
on a CPU, time runnable but not running) at its start and end. A thread
that runs only Python code runs only while it holds the GIL, so over its
wall time: holding = on-CPU time; sleeping (duty) = the sleeps asked for;
waiting for the GIL = the rest, less the time it was runnable without a
CPU. The switch interval is 1 ms (the default 5 ms makes the sampler's
looks at one thread correlated over five samples).

Usage: gil_duty.py SECONDS OUT_JSON. Writes OUT_JSON at the end:
{"threads": {name: {"tid", "wall_s", "cpu_s", "runnable_s", "slept_s"}}}.
Prints nothing.
"""

import json
import os
import sys
import threading
import time

DUTY_CPU = 0.02
REST = 0.01


def counters():
    with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
        on_cpu, runnable, _ = f.read().split()
    return int(on_cpu) / 1e9, int(runnable) / 1e9


def hog(deadline):
    n = 0
    while time.perf_counter() < deadline:
        for _ in range(1_000):
            n += 1
    return 0.0


def duty(deadline):
    n, slept = 0, 0.0
    while time.perf_counter() < deadline:
        start = time.thread_time()
        while time.thread_time() - start < DUTY_CPU:
            for _ in range(200):
                n += 1
        time.sleep(REST)
        slept += REST
    return slept


def measured(work, deadline, start, truth):
    start.wait()
    t0, (cpu0, queued0) = time.perf_counter(), counters()
    slept = work(deadline)
    wall, (cpu1, queued1) = time.perf_counter() - t0, counters()
    truth[threading.current_thread().name] = {
        "tid": threading.get_native_id(), "wall_s": wall, "cpu_s": cpu1 - cpu0,
        "runnable_s": queued1 - queued0, "slept_s": slept,
    }


def main(seconds, out):
    sys.setswitchinterval(0.001)
    truth, start = {}, threading.Barrier(2)
    deadline = time.perf_counter() + seconds
    threads = [threading.Thread(target=measured, args=(work, deadline, start, truth), name=work.__name__)
               for work in (hog, duty)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"pid": os.getpid(), "threads": truth}, f)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
