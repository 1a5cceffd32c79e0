"""What installing from the wheel costs at start-up (issue 19's budget).

1. `snakescope record -- PYTHON empty.py` with the wheel's command (the
   binary pip put into a venv's bin/) against the cargo-built
   target/release/snakescope, in one shuffled order per repetition, timed
   from outside (wall clock of the whole command); plus the plain
   `PYTHON empty.py`, and `python -m snakescope record` (the Python start-up
   the package's former console script paid). Reported: the median and IQR of each one's wall, and of
   the wheel's minus the cargo binary's in the same repetition (budget: ≤ 5 ms).
2. `python -X importtime -c 'import snakescope'` in that venv: the total of
   the package's own modules (the `snakescope` line's cumulative time),
   median and IQR over the repetitions (budget: ≤ 20 ms).

    python3 bench/startup.py --venv DIR [--reps N] [--snakescope PATH] [--out FILE] [--seed N]

DIR is a venv with the wheel installed (`python3 -m venv DIR && DIR/bin/pip
install out/wheels/snakescope-*-abi3-*.whl`); stdlib only.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import cpu_model, log, md_table, put_section, quartiles

REPO = Path(__file__).resolve().parent.parent


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench/startup.py: `{' '.join(command)}` exited with {done.returncode}")
    return wall


def import_ms(python: str, env: dict[str, str]) -> float:
    """The cumulative import time of `snakescope` (µs in -X importtime's table) in ms."""
    done = subprocess.run([python, "-X", "importtime", "-c", "import snakescope"], capture_output=True,
                          text=True, env=env, check=True)
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == "snakescope":
            return int(parts[1]) / 1e3
    raise SystemExit(f"bench/startup.py: no `snakescope` line in -X importtime's output:\n{done.stderr}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", required=True, help="a venv with the wheel installed")
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--snakescope", default=str(REPO / "target/release/snakescope"), help="the cargo-built binary")
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    venv = Path(args.venv).resolve()
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.py"
        empty.write_text("")
        out = Path(tmp) / "p.json"
        target = [python, str(empty)]
        commands = {
            "plain": target,
            "cargo binary": [args.snakescope, "record", "-q", "-o", str(out), "--", *target],
            "wheel's command": [str(venv / "bin" / "snakescope"), "record", "-q", "-o", str(out), "--", *target],
            # What the package's former console script paid: a Python start-up first.
            "python -m snakescope": [python, "-m", "snakescope", "record", "-q", "-o", str(out), "--", *target],
        }
        rng = random.Random(args.seed)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        diff: list[float] = []
        imports: list[float] = []
        for rep in range(args.reps):
            order = list(commands)
            rng.shuffle(order)
            this = {name: timed(commands[name], env) for name in order}
            for name, wall in this.items():
                walls[name].append(wall * 1e3)
            diff.append((this["wheel's command"] - this["cargo binary"]) * 1e3)
            imports.append(import_ms(python, env))
            log(f"rep {rep + 1}/{args.reps}")
    rows = []
    for name, values in walls.items():
        q1, med, q3 = quartiles(values)
        rows.append([name, f"{med:.2f} ms", f"{q1:.2f} … {q3:.2f}"])
    q1, med, q3 = quartiles(diff)
    rows.append(["wheel's − cargo's (same repetition)", f"{med:+.2f} ms", f"{q1:+.2f} … {q3:+.2f}"])
    i1, imed, i3 = quartiles(imports)
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, env=env, check=True).stdout.strip()
    load = os.getloadavg()[0]
    report = (
        "## Start-up from the wheel: `record` of an empty script, `import snakescope`\n\n"
        f"{_dt.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs, load {load:.1f} at the end; "
        f"Python {version} (a venv with the abi3 wheel), {args.reps} shuffled repetitions.\n"
        f"Command: `make wheel && python3 -m venv V && V/bin/pip install out/wheels/snakescope-*-abi3-*.whl && "
        f"python3 bench/startup.py --venv V --reps {args.reps} --out bench/RESULTS.md`\n\n"
        + md_table(["command", "wall (median)", "IQR"], rows)
        + f"\n\n`python -X importtime -c 'import snakescope'`: the package's cumulative import "
        f"{imed:.2f} ms median (IQR {i1:.2f} … {i3:.2f}); budget 20 ms.\n"
    )
    print(report)
    if args.out:
        log(put_section(Path(args.out), "startup", report))


if __name__ == "__main__":
    sys.exit(main())
