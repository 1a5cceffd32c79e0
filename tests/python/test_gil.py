"""GIL holding and waiting per thread without `--native` (issue 15): with
`--idle`, a sample of a thread that neither runs nor holds the GIL, blocked
in a futex on the GIL's own condition variable or mutex, is a GIL wait and
ends in the interpreter's `take_gil` frame (as `--native` shows it).

Ground truth: gil_duty.py (two threads, one spinning in Python, one with a
known duty cycle of spinning and sleeping, a 1 ms switch interval) measures
each thread from its kernel counters: waiting for the GIL = its wall time
less its time on a CPU, runnable without one, and asleep; holding it = its
time on a CPU, plus, at most, its runnable time (a holder preempted by the
OS still holds it). Each share must match within the statistical tolerance
of support/loadgen.py (4 sigma of the binomial at the thread's sample count,
plus 2 points).
"""

from __future__ import annotations

import json
import sys

import pytest

from support import MATRIX, assert_share, record, require_interpreter, run, script
from support.loadgen import share_tolerance

SECONDS = 3.0
RATE = ["--idle", "--rate", "1000"]


@pytest.fixture(params=[i for i in MATRIX if not i.free_threaded], ids=lambda i: i.id)
def python(request):
    return require_interpreter(request.param)


def split(data: dict, tid: int) -> tuple[int, int, int]:
    """(samples, holding the GIL, waiting for it) of thread `tid`."""
    threads = {i for i, t in enumerate(data["threads"]) if t["tid"] == tid}
    n = held = waited = 0
    for s in data["stacks"]:
        if s["thread"] not in threads:
            continue
        n += s["count"]
        if s["gil"]:
            held += s["count"]
        elif s["frames"] and data["frames"][s["frames"][-1]]["function"] == "take_gil":
            waited += s["count"]
    return n, held, waited


def check(data: dict, truth: dict) -> None:
    for name in ("hog", "duty"):
        t = truth["threads"][name]
        wall = t["wall_s"]
        n, held, waited = split(data, t["tid"])
        waiting = (wall - t["cpu_s"] - t["runnable_s"] - t["slept_s"]) / wall
        assert_share(waited, n, max(waiting, 0.0), f"{name}: waiting for the GIL")
        low, high = t["cpu_s"] / wall, (t["cpu_s"] + t["runnable_s"]) / wall
        tol = share_tolerance(max(min(low, 0.5), 0.0), n)
        assert low - tol <= held / n <= high + tol, (
            f"{name}: held the GIL in {held}/{n} samples, its time on a CPU says "
            f"{low:.3f}..{high:.3f} +/- {tol:.3f}"
        )
    # The hog never sleeps; the duty thread waits a share of its own.
    assert truth["threads"]["duty"]["slept_s"] > 0


def test_record_idle_splits_holding_and_waiting(python, snakescope, tmp_path):
    truth_path = tmp_path / "truth.json"
    command = [python.path, script("gil_duty.py"), f"{SECONDS:g}", str(truth_path)]
    record(snakescope, command, tmp_path / "gil.json", options=RATE)
    check(json.loads((tmp_path / "gil.json").read_text()), json.loads(truth_path.read_text()))


def test_run_idle_splits_holding_and_waiting(snakescope, tmp_path):
    truth_path = tmp_path / "truth.json"
    out = tmp_path / "gil.json"
    result = run([snakescope, "run", *RATE, "--python", sys.executable, "-o", str(out), "--",
                  script("gil_duty.py"), f"{SECONDS:g}", str(truth_path)])
    assert result.returncode == 0, result.describe()
    check(json.loads(out.read_text()), json.loads(truth_path.read_text()))
    # The report says it per thread, as the book's chapter 9 argument needs.
    report = run([snakescope, "report", str(out), "--format", "text"])
    assert report.returncode == 0, report.describe()
    lines = {line.split()[1]: line for line in report.stdout.splitlines() if line.strip().startswith("thread ")}
    assert "GIL wait" in lines["hog"] and "GIL held" in lines["hog"], report.stdout


def test_without_idle_no_sample_waits(snakescope, tmp_path):
    """Counting CPU time (the default), a thread off the CPU is not sampled:
    no GIL wait is invented."""
    truth_path = tmp_path / "truth.json"
    out = tmp_path / "gil.json"
    record(snakescope, [sys.executable, script("gil_duty.py"), "1", str(truth_path)], out)
    data = json.loads(out.read_text())
    assert not any(f["function"] == "take_gil" for f in data["frames"])
