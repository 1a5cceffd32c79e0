#!/usr/bin/env python3
"""Benchmark: the cost of `record --native` to the profiled program, against
`py-spy record --native` (default, and `--nonblocking` where py-spy takes it).

Stdlib only. Usage:

    python3 bench/native.py [--reps N] [--rounds R] [--rates 100,1000]
                            [--snakescope PATH] [--py-spy PATH] [--python PATH] [--out FILE]

`--out bench/RESULTS.md` puts the table there too (section `native`).

The workload is bench/workloads/numpy_work.py (numpy in C most of the time,
BLAS kept to one thread), run through a wrapper that writes the workload's own
wall time (perf_counter around it: the target's wall time, without the
profiler's start-up or its writing of the profile). For every repetition,
every configuration runs next to its own unprofiled baseline run, the two in
random order, and the configurations in a shuffled order (interleaved pairs):
the ratio profiled / baseline of each pair is taken, and the table shows the
median and the range of those ratios per configuration. snakescope's mean
pause per sample (from its summary note) is shown too, with the shares of it
spent stopping the thread, reading it, and letting it go.

Bars (issue 15): <= 1.05x at 100 Hz, <= 1.10x at 1 kHz. On a loaded machine
the ratios are noisy: compare configurations within one run, not across runs.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from run import cpu_model, put_section  # noqa: E402

WORKLOAD = BENCH / "workloads" / "numpy_work.py"
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
WRAPPER = (
    "import runpy, sys, time\n"
    "out, path, rounds = sys.argv[1:4]\n"
    "sys.argv = [path, rounds]\n"
    "t = time.perf_counter()\n"
    "runpy.run_path(path, run_name='__main__')\n"
    "open(out, 'w').write(repr(time.perf_counter() - t))\n"
)


def target(python: str, out: Path, rounds: int) -> list[str]:
    return [python, "-c", WRAPPER, str(out), str(WORKLOAD), str(rounds)]


def configs(args) -> dict[str, callable]:
    """Name → function(command, tmpdir) giving the profiler's command line."""
    out: dict[str, callable] = {}
    for rate in args.rates:
        out[f"snakescope --native {rate} Hz"] = lambda cmd, d, r=rate: [
            args.snakescope,
            "record",
            "--native",
            "-r",
            str(r),
            "-o",
            str(d / "s.json"),
            "--",
            *cmd,
        ]
        if args.py_spy:
            out[f"py-spy --native {rate} Hz"] = lambda cmd, d, r=rate: [
                args.py_spy,
                "record",
                "--native",
                "-r",
                str(r),
                "-f",
                "raw",
                "-o",
                str(d / "p.txt"),
                "--",
                *cmd,
            ]
            out[f"py-spy --native --nonblocking {rate} Hz"] = lambda cmd, d, r=rate: [
                args.py_spy,
                "record",
                "--native",
                "--nonblocking",
                "-r",
                str(r),
                "-f",
                "raw",
                "-o",
                str(d / "n.txt"),
                "--",
                *cmd,
            ]
    return out


def timed(cmd: list[str], out: Path) -> tuple[float | None, str]:
    out.unlink(missing_ok=True)
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    if p.returncode != 0 or not out.exists():
        return None, (p.stderr.strip().splitlines() or ["failed"])[-1]
    return float(out.read_text()), p.stderr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=40, help="numpy_work rounds (~2 s)")
    ap.add_argument("--rates", default="100,1000")
    ap.add_argument("--snakescope", default=str(BENCH.parent / "target/release/snakescope"))
    ap.add_argument("--py-spy", dest="py_spy", default=shutil.which("py-spy"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="a Markdown file to put the table in (section `native`)")
    args = ap.parse_args()
    args.rates = [int(r) for r in args.rates.split(",")]
    rng = random.Random(args.seed)
    ratios: dict[str, list[float]] = {}
    pauses: dict[str, list[tuple[float, ...]]] = {}
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        wall = d / "wall.txt"
        all_configs = configs(args)
        for rep in range(args.reps):
            names = list(all_configs)
            rng.shuffle(names)
            for name in names:
                if name in failed:
                    continue
                cmd = target(args.python, wall, args.rounds)
                runs = [("base", cmd), ("prof", all_configs[name](cmd, d))]
                rng.shuffle(runs)
                got = {}
                for kind, c in runs:
                    got[kind] = timed(c, wall)
                (base, _), (prof, err) = got["base"], got["prof"]
                if prof is None or base is None:
                    failed[name] = err
                    continue
                ratios.setdefault(name, []).append(prof / base)
                m = re.search(
                    r"for (\d+) µs on average.*?(\d+) % of it stopping the thread, "
                    r"(\d+) % reading, (\d+) % letting it go",
                    err,
                )
                if m:
                    pauses.setdefault(name, []).append(tuple(float(g) for g in m.groups()))
                print(
                    f"rep {rep + 1}: {name}: {prof:.3f} s / {base:.3f} s = {prof / base:.3f}",
                    file=sys.stderr,
                    flush=True,
                )
    lines = [
        "## `record --native` vs `py-spy record --native` (`bench/native.py`)",
        "",
        f"{_dt.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end. "
        f"numpy_work.py ({args.rounds} rounds, BLAS on one thread), the target's own wall time "
        "(perf_counter around the workload) profiled over unprofiled, interleaved pairs, "
        f"{args.reps} repetitions, seed {args.seed}. Bars (issue 15): ≤ 1.05× at 100 Hz, ≤ 1.10× at 1 kHz.",
        f"Command: `python3 bench/native.py --reps {args.reps} --rates {','.join(map(str, args.rates))}`",
        "",
        "| configuration | median ratio | min–max | pairs | mean pause (µs) | stopping / reading / letting go |",
        "|---|---|---|---|---|---|",
    ]
    for name in all_configs:
        if name in failed:
            lines.append(f"| {name} | refused: {failed[name]} | | | | |")
            continue
        r = ratios.get(name, [])
        if not r:
            continue
        p = split = ""
        if name in pauses:
            mean, stopping, reading, going = (statistics.median(col) for col in zip(*pauses[name]))
            p, split = f"{mean:.0f}", f"{stopping:.0f} / {reading:.0f} / {going:.0f} %"
        lines.append(f"| {name} | {statistics.median(r):.3f}× | {min(r):.3f}–{max(r):.3f} | {len(r)} | {p} | {split} |")
    report = "\n".join(lines)
    print(report)
    if args.out:
        print(put_section(Path(args.out), "native", report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
