"""`snakescope top` vs `snakescope record` at the same rate: what each costs
the program it watches, as the program's own wall time.

Each repetition runs the workload three ways, in a shuffled order: alone,
under `record -q -o FILE.json -- …` and under `top --once -d 3600 -- …` (which
samples the whole run, like the full-screen view, through the same live
windows and shared capture; the full-screen view only adds a redraw a second
on snakescope's side). The workload is timed by a wrapper inside the target
(`time.perf_counter()` around `runpy.run_path`), so the profilers' start-up
and output are not counted. Reported: per profiler the median over
repetitions of `profiled wall / the same repetition's unprofiled wall`, its
IQR, and the median ratio `top / record` of the pairs.

Usage: python3 bench/top.py [--snakescope BIN] [--python PY] [--reps N]
                            [--rate HZ] [--workload bench/workloads/julia.py]
Prints a Markdown table; writes nothing else (do not paste numbers from a
loaded machine into RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRAPPER = (
    "import runpy, sys, time\n"
    "out, path = sys.argv[1], sys.argv[2]\n"
    "sys.argv = [path]\n"
    "t = time.perf_counter()\n"
    "runpy.run_path(path, run_name='__main__')\n"
    "open(out, 'w').write(repr(time.perf_counter() - t))\n"
)


def timed(prefix: list[str], python: str, workload: str, tmp: Path) -> float:
    out = tmp / "wall.txt"
    out.unlink(missing_ok=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    subprocess.run([*prefix, python, "-c", WRAPPER, str(out), workload], check=True,
                   stdout=subprocess.DEVNULL, env=env, timeout=600, cwd=tmp)
    return float(out.read_text())


def quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snakescope", default=str(HERE.parent / "target/release/snakescope"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--workload", default=str(HERE / "workloads" / "julia.py"))
    ap.add_argument("--seed", type=int, default=random.randrange(2**31))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rate = f"{a.rate:g}"
    ways = {
        "baseline": [],
        "record": [a.snakescope, "record", "-q", "-r", rate, "-o", "rec.json", "--"],
        "top": [a.snakescope, "top", "--once", "-d", "3600", "-r", rate, "--"],
    }
    walls: dict[str, list[float]] = {k: [] for k in ways}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for rep in range(a.reps):
            order = list(ways)
            rng.shuffle(order)
            for way in order:
                walls[way].append(timed(ways[way], a.python, a.workload, tmp))
            print(f"rep {rep + 1}/{a.reps}: " + ", ".join(
                f"{w} {walls[w][-1]:.3f} s" for w in ways), file=sys.stderr)
    base = walls["baseline"]
    ratio = {w: [x / b for x, b in zip(walls[w], base)] for w in ("record", "top")}
    pairs = [t / r for t, r in zip(walls["top"], walls["record"])]
    print(f"workload `{Path(a.workload).name}`, {a.rate:g} Hz, {a.reps} repetitions, "
          f"seed {a.seed}; target's own wall time\n")
    print("| | median wall s | vs unprofiled (median [IQR]) |\n|---|---|---|")
    print(f"| unprofiled | {statistics.median(base):.3f} | – |")
    for w in ("record", "top"):
        lo, hi = quartiles(ratio[w])
        print(f"| {w} | {statistics.median(walls[w]):.3f} | "
              f"{statistics.median(ratio[w]):.3f}× [{lo:.3f}–{hi:.3f}] |")
    lo, hi = quartiles(pairs)
    print(f"\ntop / record, same repetition: median {statistics.median(pairs):.3f}× "
          f"[{lo:.3f}–{hi:.3f}]")


if __name__ == "__main__":
    main()
