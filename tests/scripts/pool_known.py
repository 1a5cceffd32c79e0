"""A multiprocessing Pool (4 workers, or --workers N) measured by its own workers.

Sixteen tasks of known, unequal size (task i spins i * SCALE units of the
same loop) go to the Pool with chunksize 1, so which worker gets which task
is up to the pool; each task measures its own CPU time with
`time.thread_time()` around the work and returns it with its pid. The parent
writes, as JSON to REPORT:
    {"main": <its pid>,
     "workers": {"<pid>": <CPU seconds spent in `task` by that worker>},
     "grandchild": <pid of a Python process a worker started>  (--grandchild),
     "grandchild_parent": <the worker that started it>,
     "killed": <pid of a child killed with SIGKILL while it ran> (--kill),
     "not_python": <pid of a `sleep 0.3` it ran>                 (--kill)}
Each worker's share of the CPU time in `task` is therefore known by
measurement, whatever the scheduling.

Usage: pool_known.py METHOD REPORT [--workers N] [--grandchild] [--kill] [--executor] [--exit N]
METHOD: fork, spawn or forkserver. --workers: the pool's size (default 4).
--executor: a ProcessPoolExecutor instead of the Pool. Exits with N (default 0).
"""

import concurrent.futures
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

UNIT = 20_000  # iterations: about 1 ms on CPython 3.11-3.13
SCALE = 40
TASKS = 16


def spin(units):
    total = 0
    for _ in range(units):
        for i in range(UNIT):
            total += i
    return total


def task(units):
    c0 = time.thread_time()
    spin(units)
    return os.getpid(), time.thread_time() - c0


def grandchild_work():
    spin(150)


def start_grandchild():
    """Runs in a pool worker: starts a Python grandchild and waits for it."""
    code = "import sys; sys.path.insert(0, %r); import pool_known; pool_known.grandchild_work()"
    child = subprocess.Popen([sys.executable, "-c", code % os.path.dirname(__file__)])
    child.wait()
    return os.getpid(), child.pid


def spin_forever():
    while True:
        spin(1)


def pool_tasks(ctx, workers, grandchild, out):
    """The tasks on a Pool, and a grandchild started by one of its workers."""
    with ctx.Pool(workers) as pool:
        pending = pool.apply_async(start_grandchild) if grandchild else None
        results = pool.map(task, [i * SCALE for i in range(1, TASKS + 1)], chunksize=1)
        if pending is not None:
            out["grandchild_parent"], out["grandchild"] = pending.get()
    return results


def executor_tasks(ctx, workers):
    """The tasks on a ProcessPoolExecutor."""
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        return list(pool.map(task, [i * SCALE for i in range(1, TASKS + 1)]))


def main(method, report, grandchild, kill, executor, workers=4):
    ctx = mp.get_context(method)
    out = {"main": os.getpid()}
    if executor:
        results = executor_tasks(ctx, workers)
    else:
        results = pool_tasks(ctx, workers, grandchild, out)
    workers = {}
    for pid, cpu in results:
        workers[str(pid)] = workers.get(str(pid), 0.0) + cpu
    out["workers"] = workers
    if kill:
        victim = ctx.Process(target=spin_forever)
        victim.start()
        time.sleep(0.3)
        os.kill(victim.pid, signal.SIGKILL)
        victim.join()
        out["killed"] = victim.pid
        sleeper = subprocess.Popen(["sleep", "0.3"])
        sleeper.wait()
        out["not_python"] = sleeper.pid
    with open(report, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    args = sys.argv[1:]
    code = int(args[args.index("--exit") + 1]) if "--exit" in args else 0
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 4
    main(args[0], args[1], "--grandchild" in args, "--kill" in args, "--executor" in args, workers)
    sys.exit(code)
