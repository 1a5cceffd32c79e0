"""Benchmark: following child processes — `snakescope record --subprocesses`
against `py-spy record --subprocesses` (default, blocking mode, and
`--nonblocking`) and `austin -C`, on a multiprocessing Pool(4) workload
(bench/workloads/pool_pi.py, the book's chapter-9 pi estimation).

Each repetition runs the plain program and every profiler once, in a
shuffled order, back to back; the figure is the profiler's wall time over
the plain run's in the same repetition, and the table gives the median of
those ratios (and their range) over the repetitions, so a load that comes
and goes moves both sides of a pair. Standard library only; peers are
looked up as bench/run.py does (`.venv/bin`, then PATH). Inside the
program: `snakescope run` (which follows children by default) against
scalene's CPU profile (scalene follows a Pool's workers too). Prints a
Markdown table; `--out bench/RESULTS.md` puts it there too.

Bar (issue 15): following children adds at most 2 % to the wall time.

    .venv/bin/python bench/subprocesses.py [--reps 5] [--rate 100] [--method fork] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import Tool, cpu_model, find_peer, find_snakescope, put_section  # noqa: E402

WORKLOAD = Path(__file__).parent / "workloads" / "pool_pi.py"


def commands(tools, python, rate, method, tmp: Path) -> dict[str, list[str]]:
    target = [python, str(WORKLOAD), "40000000", method]
    interval_us = str(max(1, round(1_000_000 / rate)))
    out = {"plain": target}
    snake = tools["snakescope"].path
    if snake:
        out["snakescope --subprocesses"] = [snake, "record", "--subprocesses", "--rate", str(rate),
                                            "-q", "-o", str(tmp / "s.json"), "--", *target]
        out["snakescope run"] = [snake, "run", "--rate", str(rate), "-q", "--python", python,
                                 "-o", str(tmp / "r.json"), "--", *target[1:]]
    spy = tools["py-spy"].path if tools["py-spy"].status == "ok" else None
    if spy:
        base = [spy, "record", "--subprocesses", "--rate", str(rate), "-o", str(tmp / "p.svg")]
        out["py-spy --subprocesses"] = [*base, "--", *target]
        out["py-spy --subprocesses --nonblocking"] = [*base, "--nonblocking", "--", *target]
    austin = tools["austin"].path if tools["austin"].status == "ok" else None
    if austin:
        out["austin -C"] = [austin, "-C", "-t", "5000", "-i", interval_us,
                            "-o", str(tmp / "a.austin"), *target]
    if tools["scalene"].status == "ok":
        out["scalene --cpu-only"] = [python, "-m", "scalene", "run", "--cpu-only",
                                     "-o", str(tmp / "sc.json"), *target[1:]]  # no "--": scalene takes none
    return out


def scalene(python: str):
    """scalene, importable by the target's interpreter (it runs inside it)."""
    done = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('scalene'))"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return Tool("scalene", None, None, "not installed")
    return Tool("scalene", python, done.stdout.strip(), "ok")


def wall(argv: list[str]) -> float | None:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=300, check=False)
    elapsed = time.perf_counter() - start
    return elapsed if done.returncode == 0 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rate", type=int, default=100, help="samples per second, all profilers")
    ap.add_argument("--method", default="fork", choices=["fork", "spawn", "forkserver"])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--snakescope", default=None)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", help="a Markdown file to put the table in (section `subprocesses`)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    tools = {"snakescope": find_snakescope(args.snakescope),
             "py-spy": find_peer("py-spy"), "austin": find_peer("austin"),
             "scalene": scalene(args.python)}
    ratios: dict[str, list[float]] = {}
    failed: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(tools, args.python, args.rate, args.method, Path(tmp))
        for rep in range(args.reps):
            order = list(cmds)
            rng.shuffle(order)
            times = {name: wall(cmds[name]) for name in order}
            print(f"rep {rep + 1}/{args.reps}: " + ", ".join(
                f"{n} {t:.2f}s" if t else f"{n} failed" for n, t in times.items()),
                file=sys.stderr)
            plain = times["plain"]
            for name, t in times.items():
                if name == "plain":
                    continue
                if t is None or plain is None:
                    failed[name] = failed.get(name, 0) + 1
                else:
                    ratios.setdefault(name, []).append(t / plain)
    lines = [
        "## Following child processes: `record --subprocesses` and `run` vs py-spy, austin, scalene "
        "(`bench/subprocesses.py`)",
        "",
        f"{_dt.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end. "
        f"Pool(4) pi workload (`bench/workloads/pool_pi.py`, {args.method}), {args.rate} Hz, "
        f"{args.reps} interleaved repetitions, seed {seed}; wall time of the whole command over the plain "
        "program's in the same repetition.",
        f"Command: `python3 bench/subprocesses.py --reps {args.reps} --rate {args.rate} --method {args.method}`",
        "",
        "| profiler | version | wall time / plain (median) | range | failed runs |",
        "|---|---|---|---|---|",
    ]
    for name in cmds:
        if name == "plain":
            continue
        r = ratios.get(name, [])
        tool = tools[name.split(" ")[0]]
        med = f"{statistics.median(r):.3f}×" if r else "-"
        rng_text = f"{min(r):.3f}–{max(r):.3f}" if r else "-"
        lines.append(f"| {name} | {tool.version or tool.status} | {med} | {rng_text} | "
                     f"{failed.get(name, 0)} |")
    missing = [t.name for t in tools.values() if t.status != "ok"]
    if missing:
        lines.append(f"\nnot run: {', '.join(missing)}")
    report = "\n".join(lines)
    print(report)
    if args.out:
        print(put_section(Path(args.out), "subprocesses", report), file=sys.stderr)


if __name__ == "__main__":
    main()
