"""How long `snakescope attach` pauses a running program (issue 17's bar:
attach + detach under 50 ms), quiet and with both CPUs busy.

The target is tests/scripts/attach_target.py: a main thread beating every
1 ms (a `time.sleep(0.001)` loop that keeps the longest gap between two
beats), a little known work, then beating again until told to end. For each
interpreter, mode (`attach` sampling only, `attach --memory`) and load
(quiet, or two busy-loop spinners beside it on this 2-CPU machine), each
repetition runs the target once without any attach (its own longest gap:
what the OS and the sleep give anyway) and once with `attach --duration 1`
started while it beats; the attach happens during the first beat phase, the
detach during the second. Reported: the median and the worst of the
longest gap around the attach and around the detach, beside the plain
run's. Stdlib only.

    python3 bench/attach.py [--reps N] [--pythons P,...] [--snakescope PATH] [--out FILE]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
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
TARGET = REPO / "tests" / "scripts" / "attach_target.py"
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def default_pythons() -> list[str]:
    """3.8, 3.11 and 3.13 from pyenv, 3.14 from the project's roots (as test_attach.py)."""
    found = []
    for minor in ("3.8", "3.11", "3.13"):
        hits = sorted(PYENV.glob(f"{minor}.*/bin/python3"))
        found += [str(hits[-1])] if hits else []
    rooted = REPO / ".pyroots" / "bin" / "sid-python3.14"
    return found + ([str(rooted)] if rooted.exists() else [])


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the target stopped or hung before {path.name}")
        time.sleep(0.005)


def one_run(python: str, snakescope: str, package: str, options: list[str] | None) -> dict:
    """One target run (with an attach when `options` is not None): its report."""
    with tempfile.TemporaryDirectory() as tmpd:
        control, out = Path(tmpd), Path(tmpd) / "out.json"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        target = subprocess.Popen([python, str(TARGET), str(control), "split", "0.1"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  cwd=TARGET.parent)
        wait_for(control / "ready", target)
        session = None
        if options is not None:
            err = control / "attach.stderr"
            with open(err, "wb") as e:
                session = subprocess.Popen([snakescope, "attach", "--pid", str(target.pid), "--duration", "1",
                                            "-o", str(out), *options], stdout=subprocess.DEVNULL, stderr=e,
                                           env={**env, "SNAKESCOPE_PACKAGE": package})
            deadline = time.monotonic() + 60
            while "snakescope: attached to pid" not in err.read_text():
                if session.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"attach failed: {err.read_text()[-2000:]}")
                time.sleep(0.01)
        (control / "go").touch()
        wait_for(control / "done", target)
        if session is not None and session.wait(timeout=120) != 0:
            raise SystemExit(f"attach failed: {(control / 'attach.stderr').read_text()[-2000:]}")
        (control / "finish").touch()
        target.wait(timeout=60)
        return json.loads((control / "report.json").read_text())


def spinners(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pythons", default=",".join(default_pythons()))
    ap.add_argument("--snakescope", default=str(REPO / "target" / "release" / "snakescope"))
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    import snakescope  # the package `make develop` built, lent to the targets

    package = os.path.dirname(os.path.abspath(snakescope.__file__))
    started, load = _dt.datetime.now(_dt.timezone.utc), os.getloadavg()[0]
    rows = []
    for python in [p for p in args.pythons.split(",") if p]:
        version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        for load_name, busy in (("quiet", 0), ("2 spinners", 2)):
            spun = spinners(busy)
            try:
                for mode, options in (("attach", []), ("attach --memory", ["--memory"])):
                    plain, attach, detach = [], [], []
                    for _ in range(args.reps):
                        base = one_run(python, args.snakescope, package, None)
                        plain.append(max(base["longest_gap_attach_s"], base["longest_gap_detach_s"]))
                        r = one_run(python, args.snakescope, package, options)
                        attach.append(r["longest_gap_attach_s"])
                        detach.append(r["longest_gap_detach_s"])
                    ms = lambda xs: f"{1000 * statistics.median(xs):.1f} / {1000 * max(xs):.1f}"  # noqa: E731
                    rows.append([version, load_name, mode, ms(plain), ms(attach), ms(detach)])
                    print(f"{version} {load_name} {mode}: {rows[-1][3:]}", file=sys.stderr)
            finally:
                for s in spun:
                    s.kill()
    cmdline = "python3 bench/attach.py " + shlex.join(argv)
    report = "\n".join([
        "## `snakescope attach`: how long the target pauses (`bench/attach.py`)", "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; load average {load:.2f} at start",
        f"- Command: `{cmdline.strip()}`; repetitions: {args.reps}", "",
        "The target's main thread beats every 1 ms; each cell is the longest gap between two beats, "
        "median / worst over the repetitions, in ms. *Plain*: the same program without any attach "
        "(what `sleep(0.001)` and the OS give anyway); *around the attach*: the beat phase during "
        "which `attach --duration 1` loads the agent and starts it; *around the detach*: the one "
        "during which it stops and takes the agent out. *2 spinners*: two busy loops beside it on "
        "this 2-CPU machine.", "",
        md_table(["Python", "load", "mode", "plain", "around the attach", "around the detach"], rows),
    ])
    print(report)
    if args.out:
        print(put_section(Path(args.out), "attach", report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
