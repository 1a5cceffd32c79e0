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
                            [--out bench/RESULTS.md]
Prints a Markdown section; with --out, also puts it in that file as its
`top` section (`make bench` does).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import md_table, put_section  # noqa: E402

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
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=600,
                   cwd=tmp)
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
    ap.add_argument("--out")
    a = ap.parse_args()
    started, load = datetime.datetime.now(datetime.timezone.utc), os.getloadavg()[0]
    rng = random.Random(a.seed)
    rate = f"{a.rate:g}"
    ways = {
        "baseline": [],
        "record": [a.snakescope, "record", "-q", "-r", rate, "-o", "rec.json", "--"],
        "top": [a.snakescope, "top", "--once", "-d", "3600", "-r", rate, "--"],
        # The same from inside (`run`: the agent), and `run --live-web`, whose
        # agent also writes the capture so far every second for the page.
        "run": [a.snakescope, "run", "-q", "-r", rate, "-o", "run.json", "--python"],
        "run --live-web": [a.snakescope, "run", "-q", "-r", rate, "-o", "live.json",
                           "--live-web", "--python"],
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
    profiled = [w for w in ways if w != "baseline"]
    ratio = {w: [x / b for x, b in zip(walls[w], base)] for w in profiled}
    pairs = [t / r for t, r in zip(walls["top"], walls["record"])]
    live_pairs = [t / r for t, r in zip(walls["run --live-web"], walls["run"])]
    rows = [["unprofiled", f"{statistics.median(base):.3f}", "–"]]
    for w in profiled:
        lo, hi = quartiles(ratio[w])
        rows.append([f"`{w}`", f"{statistics.median(walls[w]):.3f}",
                     f"{statistics.median(ratio[w]):.3f}× [{lo:.3f}–{hi:.3f}]"])
    lo, hi = quartiles(pairs)
    live_lo, live_hi = quartiles(live_pairs)
    cmdline = "python3 bench/top.py " + shlex.join(sys.argv[1:])
    report = "\n".join([
        "## Live views: `top` vs `record`, `run --live-web` vs `run` at the same rate (`bench/top.py`)", "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; load average {load:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end",
        f"- Command: `{cmdline.strip()}`; workload `{Path(a.workload).name}`, {a.rate:g} Hz, "
        f"{a.reps} repetitions, shuffle seed {a.seed}",
        f"- Python: `{a.python}`", "",
        "The target's own wall time (timed inside it), alone and under each; `top` is "
        "`top --once -d 3600 -- …`, which samples the whole run through the live view's windows "
        "and shared capture (the full-screen view adds only a redraw a second, on snakescope's "
        "side). `run --live-web` (and `run --live`, which reads the same snapshots into a "
        "terminal) adds, in the program, the agent's thread that writes the capture so far "
        "every second, and live censuses (at most 2 % of the run).", "",
        md_table(["", "median wall s", "vs unprofiled (median [IQR])"], rows), "",
        f"`top` / `record`, same repetition: median {statistics.median(pairs):.3f}× "
        f"[{lo:.3f}–{hi:.3f}]; `run --live-web` / `run`: median "
        f"{statistics.median(live_pairs):.3f}× [{live_lo:.3f}–{live_hi:.3f}].",
    ])
    print(report)
    if a.out:
        print(put_section(Path(a.out), "top", report), file=sys.stderr)


if __name__ == "__main__":
    main()
