"""`snakescope stat`'s own cost next to `/usr/bin/time -v` and `perf stat`:
each wraps the same short command (an empty Python script by default), in
one shuffled order per repetition, timed from outside (wall clock of the
whole wrapper). Reported per tool: the median and interquartile range of its
run minus the plain run of the same repetition, in milliseconds, and of the
ratio (stdlib only; see bench/README.md).

Then what `--stat` adds to `record`: `record` and `record --stat` of
bench/workloads/julia.py in a shuffled order per repetition; the median and
IQR of the ratio of each pair (--record-reps, 0 to skip).

    python3 bench/stat.py [--reps N] [--record-reps N] [--snakescope PATH] [--python PATH] [--out FILE] [--seed N]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import random
import shutil
import sys
from pathlib import Path

from run import cpu_model, log, md_table, put_section, quartiles, timed

REPO = Path(__file__).resolve().parent.parent


def tools(snakescope: str) -> dict[str, list[str]]:
    """Each wrapper's command prefix; those not installed are left out."""
    found = {"plain": []}
    if os.path.exists("/usr/bin/time"):
        found["/usr/bin/time -v"] = ["/usr/bin/time", "-v", "-o", os.devnull]
    if shutil.which("perf"):
        found["perf stat"] = ["perf", "stat", "-o", os.devnull]
    found["snakescope stat"] = [snakescope, "stat", "-o", os.devnull, "--"]
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--record-reps", type=int, default=11)
    ap.add_argument("--snakescope", default=str(REPO / "target/release/snakescope"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    target = [args.python, "-c", "pass"]
    wrappers = tools(args.snakescope)
    rng = random.Random(args.seed)
    extra: dict[str, list[float]] = {name: [] for name in wrappers if name != "plain"}
    ratio: dict[str, list[float]] = {name: [] for name in extra}
    for rep in range(args.reps):
        order = list(wrappers)
        rng.shuffle(order)
        walls = {name: timed(wrappers[name] + target) for name in order}
        for name in extra:
            extra[name].append((walls[name] - walls["plain"]) * 1e3)
            ratio[name].append(walls[name] / walls["plain"])
        log(f"rep {rep + 1}/{args.reps}")
    rows = []
    for name in extra:
        q1, med, q3 = quartiles(extra[name])
        r1, rmed, r3 = quartiles(ratio[name])
        rows.append([name, f"{med:+.2f} ms", f"{q1:+.2f} … {q3:+.2f}", f"{rmed:.3f}×", f"{r1:.3f}–{r3:.3f}"])
    load = os.getloadavg()[0]
    report = (
        "## `snakescope stat` vs `/usr/bin/time -v` and `perf stat`: cost over the plain command\n\n"
        f"{_dt.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs, load {load:.1f} at the end; "
        f"`{' '.join(target)}`, {args.reps} shuffled repetitions.\n"
        f"Command: `python3 bench/stat.py --reps {args.reps}`\n\n"
        + md_table(["wrapper", "extra wall (median)", "IQR", "ratio (median)", "IQR"], rows)
    )
    if args.record_reps:
        report += "\n" + record_stat_cost(args, rng)
    print(report)
    if args.out:
        log(put_section(Path(args.out), "stat", report))


def record_stat_cost(args, rng: random.Random) -> str:
    """`record --stat` over `record` of the same workload: ratio per pair."""
    workload = [args.python, str(REPO / "bench/workloads/julia.py"), "300"]
    base = [args.snakescope, "record", "-q", "-o", os.devnull, "-f", "collapsed"]
    configs = {"record": base + ["--"] + workload, "record --stat": base + ["--stat", "--"] + workload}
    ratios = []
    for rep in range(args.record_reps):
        order = list(configs)
        rng.shuffle(order)
        walls = {name: timed(configs[name]) for name in order}
        ratios.append(walls["record --stat"] / walls["record"])
        log(f"record rep {rep + 1}/{args.record_reps}")
    q1, med, q3 = quartiles(ratios)
    return (
        "### `record --stat` over `record` (counters and rusage kept in the capture)\n\n"
        f"`{' '.join(workload[1:])}` at 1 kHz, {args.record_reps} shuffled pairs; "
        f"load {os.getloadavg()[0]:.1f} at the end. "
        f"Command: `python3 bench/stat.py --record-reps {args.record_reps}`\n\n"
        + md_table(["pair", "ratio (median)", "IQR"], [["record --stat / record", f"{med:.3f}×", f"{q1:.3f}–{q3:.3f}"]])
    )


if __name__ == "__main__":
    main()
