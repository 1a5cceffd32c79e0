"""Memory mode's fixed cost against the size of the heap (issue 21): a
program holding N live objects at exit (bench/workloads/live_heap.py: N
distinct ints in one list, N = 10^5, 10^6, 10^7) run plain, under `snakescope
run` (its default: CPU sampling and sampled memory, heap census at exit),
`snakescope run --memory off`, `memray run` (its default) and tracemalloc
(`-X tracemalloc`, one snapshot taken and dumped at exit). Stdlib only.

    python3 bench/census.py [--reps N] [--sizes 100000,1000000,10000000]
                            [--snakescope PATH] [--python PATH] [--memray PATH] [--out FILE]

Each repetition runs every (size, configuration) pair and a plain run of
that size, all in one shuffled order. For each profiled run: the extra wall
time over the plain run of the same repetition and size (its fixed cost, as
milliseconds and as a share of the program's own time, which the workload
measures itself), and its peak RSS over the plain run's (`wait4`'s
ru_maxrss of the run's process tree). Reported: medians over repetitions.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import md_table, put_section

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORKLOAD = BENCH / "workloads" / "live_heap.py"
TRACEMALLOC_MAIN = ("import runpy, sys, tracemalloc; path, out = sys.argv[1:3]; sys.argv = [path]\n"
                    "try:\n    runpy.run_path(path, run_name='__main__')\n"
                    "finally:\n    tracemalloc.take_snapshot().dump(out)")


def commands(args, tmp: Path) -> dict[str, list[str]]:
    py, script = args.python, str(WORKLOAD)
    return {
        "snakescope run": [args.snakescope, "run", "-q", "--python", py, "-o", str(tmp / "s.json"), script],
        "snakescope --memory off": [args.snakescope, "run", "-q", "--memory", "off", "--python", py,
                                    "-o", str(tmp / "off.json"), script],
        "memray run": [args.memray, "run", "-q", "-f", "-o", str(tmp / "m.bin"), script],
        "tracemalloc": [py, "-X", "tracemalloc", "-c", TRACEMALLOC_MAIN, script, str(tmp / "t.snap")],
    }


def run_once(argv: list[str], env: dict) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run (and what it waited for)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {shlex.join(argv)}\n{p.stderr.read().decode()[-2000:]}")
    p.stderr.close()
    return wall, usage.ru_maxrss


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sizes", default="100000,1000000,10000000")
    ap.add_argument("--snakescope", default=str(REPO / ".venv" / "bin" / "snakescope"))
    ap.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"))
    ap.add_argument("--memray", default=str(REPO / ".venv" / "bin" / "memray"))
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(args.seed)
    started, load = _dt.datetime.now(_dt.timezone.utc), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        cmds = commands(args, tmp)
        own_file = tmp / "own"
        results: dict[tuple[int, str], list[tuple[float, int, float]]] = {}
        for rep in range(args.reps):
            jobs = [(n, name) for n in sizes for name in ["plain", *cmds]]
            rng.shuffle(jobs)
            got: dict[tuple[int, str], tuple[float, int, float]] = {}
            for n, name in jobs:
                env = {**os.environ, "HEAP_N": str(n), "HEAP_OWN_TIME": str(own_file),
                       "PYTHONPATH": str(REPO / "python")}
                argv_ = [args.python, str(WORKLOAD)] if name == "plain" else cmds[name]
                wall, rss = run_once(argv_, env)
                got[(n, name)] = (wall, rss, float(own_file.read_text()))
            for (n, name), (wall, rss, own) in got.items():
                if name == "plain":
                    continue
                pw, prss, pown = got[(n, "plain")]
                results.setdefault((n, name), []).append((wall - pw, rss / prss - 1, pown))
            print(f"repetition {rep + 1}/{args.reps} done", file=sys.stderr)
    rows = []
    for n in sizes:
        for name in cmds:
            xs = results[(n, name)]
            cost = statistics.median(x[0] for x in xs)
            own = statistics.median(x[2] for x in xs)
            rows.append([f"{n:,}", name, f"{1000 * cost:+.0f} ms", f"{100 * cost / own:+.0f} %",
                         f"{1000 * own:.0f} ms", f"{100 * statistics.median(x[1] for x in xs):+.1f} %"])
    cmdline = "python3 bench/census.py " + shlex.join(argv)
    report = "\n".join([
        "## Memory mode's fixed cost vs heap size (`bench/census.py`)", "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end",
        f"- Command: `{cmdline.strip()}`; repetitions: {args.reps}; shuffle seed {args.seed}",
        f"- Python: `{args.python}`", "",
        "Workload: N distinct ints alive in one list at exit. *Fixed cost*: median over repetitions "
        "of the profiled run's wall time minus that of the plain run of the same repetition "
        "(start-up, hooks, the exit census or snapshot, writing the output); *% of own*: that over "
        "the program's own time (building the list, measured inside the plain run); *extra RSS*: "
        "median of peak RSS over the plain run's, minus 1.", "",
        md_table(["live objects", "configuration", "fixed cost", "% of own", "own time", "extra RSS"], rows),
    ])
    print(report)
    if args.out:
        print(put_section(Path(args.out), "census", report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
