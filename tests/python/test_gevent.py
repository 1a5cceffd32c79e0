"""gevent: a greenlet's own Python stack, not only the hub's.

tests/scripts/gevent_split.py runs three greenlets, `alpha`, `beta` and
`gamma`, that burn 1, 2 and 3 units of thread CPU time per round and then
yield to gevent's hub. A greenlet runs on the thread's own stack of
frames while it runs (greenlet switches the thread state's frame), so a
sample taken then is rooted at the greenlet's function: by construction
the CPU samples under `alpha`, `beta` and `gamma` are 1/6, 2/6 and 3/6 of
those under any of them, and every sample in `spin` is under one of them.
Both `record` (from outside) and `run` (inside) are checked.

gevent is a test requirement (tests/python/requirements.txt), so these run
on the test environment's interpreter; by hand, the same split holds on
3.8, 3.12 and 3.13 (gevent 26.9 installed with `pip --target`).
Tolerances are binomial: 4 standard deviations of a share estimated from
the number of samples counted.
"""

from __future__ import annotations

import math
import sys

from support import Capture, record, run, script, target_env

GREENLETS = {"alpha": 1, "beta": 2, "gamma": 3}
SCRIPT = script("gevent_split.py")
ARGS = ["30", "8"]  # 30 rounds of 6 units of 8 ms: about 1.5 s of CPU


def tolerance(share: float, n: int) -> float:
    return 4 * math.sqrt(share * (1 - share) / n)


def check_split(cap: Capture) -> None:
    names = [f["function"] for f in cap.frames]
    under = {g: 0 for g in GREENLETS}
    spin_outside = 0
    for s in cap.stacks:
        functions = [f["function"] for f in s.frames]
        roots = [g for g in GREENLETS if g in functions]
        if "spin" in functions and not roots:
            spin_outside += s.count
        for g in roots:
            under[g] += s.count
    total = sum(under.values())
    assert total >= 300, f"only {total} samples under the greenlets: {under} (frames: {sorted(set(names))})"
    assert spin_outside <= 0.01 * total, \
        f"{spin_outside} samples in spin() are not under their greenlet (of {total})"
    for g, units in GREENLETS.items():
        want, got = units / 6, under[g] / total
        assert abs(got - want) <= tolerance(want, total), (g, got, want, under)


def test_record_roots_samples_at_the_running_greenlet(snakescope, tmp_path):
    _, cap = record(snakescope, [sys.executable, SCRIPT, *ARGS], tmp_path / "g.json")
    check_split(cap)


def test_run_roots_samples_at_the_running_greenlet(snakescope, tmp_path):
    out = tmp_path / "g.json"
    result = run([snakescope, "run", "-q", "--python", sys.executable, "-o", str(out), "--", SCRIPT, *ARGS],
                 env=target_env())
    assert result.returncode == 0, result.describe()
    check_split(Capture.load(out))

