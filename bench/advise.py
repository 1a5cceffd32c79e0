"""`snakescope advise`'s cost next to `snakescope run`'s: advise runs the
program under `run --opcodes` with the operand sampler (looks at the
program every 40 ms, then every 250 ms) and then the rules. For each workload, in
one shuffled order per repetition: plain `python`, `snakescope run`, the
pieces of advise's own run (`run --opcodes`, then with the operand sampler)
and `snakescope advise`, each timed from outside (wall clock of the whole
command, so advise's rules after the program are counted). Reported: the
median and interquartile range of the ratio of each pair of the same
repetition (`PAIRS`) — medians of pairs, as this machine is noisy (see
bench/README.md); the "of which" rows split advise / run into its steps.

Second table, insensitive to the machine's load: what the operand sampler's
looks cost julia.py's main thread in time blocked (waiting for the GIL),
measured inside it (bench/workloads/mainclock.py), under `run --opcodes`
with and without the sampler (`--advise-operands`), for each interpreter
given with --looks-python (the looks run in the main thread as pending calls
on 3.8 and 3.13+, from the sampler's thread on 3.9-3.12).

    python3 bench/advise.py [--reps N] [--snakescope PATH] [--python PATH] [--out FILE] [--seed N]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import random
import subprocess
import sys
from pathlib import Path

from run import cpu_model, log, md_table, put_section, quartiles, timed

REPO = Path(__file__).resolve().parent.parent
# The sizes bench/agent.py and bench/memory.py run them at (their defaults: ~1.5 s each here).
WORKLOADS = {
    "julia.py": ["bench/workloads/julia.py"],
    "phonebook.py": ["bench/workloads/phonebook.py"],
    # The fixed part alone (start-up, the rules after the exit), read as a
    # difference in ms: it is what a ratio on the workloads above is made of.
    "empty.py": ["bench/workloads/empty.py"],
}

# Each pair: (numerator, denominator), both commands of the same repetition.
PAIRS = {
    "run / plain": ("run", "plain"),
    "advise / run": ("advise", "run"),
    "advise / plain": ("advise", "plain"),
    "of which run --opcodes / run": ("opcodes", "run"),
    "of which + operand sampler": ("operands", "opcodes"),
    "of which advise / its run": ("advise", "operands"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=11)
    ap.add_argument("--snakescope", default=str(REPO / ".venv/bin/snakescope"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--looks-python", action="append", default=[],
                    help="an interpreter for the main-thread table (repeatable; default: --python)")
    ap.add_argument("--no-looks", action="store_true", help="leave the main-thread table out")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    rows = []
    for name, workload in WORKLOADS.items():
        program = [str(REPO / workload[0]), *workload[1:]]
        run = [args.snakescope, "run", "-q", "--python", args.python, "-o", os.devnull, "-f", "json"]
        commands = {
            "plain": [args.python, *program],
            "run": [*run, "--", *program],
            # advise's program run, piece by piece: the opcodes it records,
            # then its operand sampler; advise adds the rules' process.
            "opcodes": [*run, "--opcodes", "--", *program],
            "operands": [*run, "--opcodes", "--advise-operands", os.devnull, "--", *program],
            "advise": [args.snakescope, "advise", "--python", args.python, *program],
        }
        pairs: dict[str, list[float]] = {p: [] for p in PAIRS}
        extra: list[float] = []
        for rep in range(args.reps):
            order = list(commands)
            rng.shuffle(order)
            walls = {which: timed(commands[which]) for which in order}
            for pair, ratios in pairs.items():
                top, bottom = PAIRS[pair]
                ratios.append(walls[top] / walls[bottom])
            extra.append(1e3 * (walls["advise"] - walls["run"]))
            log(f"{name}: rep {rep + 1}/{args.reps}")
        for pair, ratios in pairs.items():
            q1, med, q3 = quartiles(ratios)
            rows.append([name, pair, f"{med:.3f}×", f"{q1:.3f}–{q3:.3f}"])
        q1, med, q3 = quartiles(extra)
        rows.append([name, "advise − run", f"{med:+.0f} ms", f"{q1:+.0f}…{q3:+.0f} ms"])
    looks = "" if args.no_looks else looks_table(args, rng)
    report = (
        "## `snakescope advise` vs `snakescope run`: what the advisor's evidence costs\n\n"
        f"{_dt.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end; "
        f"{args.reps} shuffled repetitions per workload, wall time of each whole command (advise's "
        "rules after the program included).\n"
        f"Command: `python3 bench/advise.py --reps {args.reps}`\n\n"
        + md_table(["workload", "pair", "ratio (median)", "IQR"], rows)
        + "\n\n" + looks
    )
    print(report)
    if args.out:
        log(put_section(Path(args.out), "advise", report))


def looks_table(args, rng: random.Random) -> str:
    """julia.py's main thread blocked (ms, median and IQR over repetitions)
    under `run --opcodes`, without and with the operand sampler."""
    rows = []
    program = [str(REPO / "bench/workloads/mainclock.py"), str(REPO / WORKLOADS["julia.py"][0])]
    for python in args.looks_python or [args.python]:
        base = [args.snakescope, "run", "-q", "--opcodes", "--python", python, "-o", os.devnull, "-f", "json"]
        commands = {"run --opcodes": [*base, "--", *program],
                    "+ operand sampler": [*base, "--advise-operands", os.devnull, "--", *program]}
        blocked: dict[str, list[float]] = {k: [] for k in commands}
        for rep in range(args.reps):
            order = list(commands)
            rng.shuffle(order)
            for which in order:
                blocked[which].append(main_blocked_ms(commands[which]))
            log(f"looks on {python}: rep {rep + 1}/{args.reps}")
        version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True).stdout.strip()
        for which, values in blocked.items():
            q1, med, q3 = quartiles(values)
            rows.append([version, which, f"{med:.1f} ms", f"{q1:.1f}…{q3:.1f} ms"])
    return ("Main thread of julia.py blocked (waiting for the GIL), measured inside it, "
            f"{args.reps} shuffled repetitions:\n\n"
            + md_table(["Python", "under", "blocked (median)", "IQR"], rows))


def main_blocked_ms(command: list[str]) -> float:
    done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    for line in done.stderr.splitlines():
        if line.startswith("main-blocked-ms "):
            return float(line.split()[1])
    raise SystemExit(f"bench: `{' '.join(command)}` printed no main-blocked-ms ({done.returncode})")


if __name__ == "__main__":
    main()
