"""Shares under load: the statistics every share assertion goes through, the
targets' own CPU-time reference, and the spinning processes that saturate
every core (conftest's `saturated` fixture).

Ground truth. The targets fix their splits by construction in CPU time
(split 70/30, lines 50/25/15/10, GIL 50/50), and they run for a given amount
of their own CPU time, so a run on a busy machine lasts longer but does the
same work. Without --idle or --gil snakescope counts a sample only when its
thread was on a CPU at that tick (crates/snakescope-remote/src/oncpu.rs): its
counts are CPU time too. split_70_30.py and line_shares.py also time each
phase with the thread's CPU clock (`time.thread_time()`); the tests compare
snakescope with that measurement of the very run, after checking that it
agrees with the construction (to within CONSTRUCTION_SANITY: a gross error
means the target did not run as designed). The same tests run on a quiet
machine and with every core saturated by spinning processes (`saturated`):
the reference does not move with the load, and neither may snakescope.

Random error. A share p estimated from N samples is, if the samples were
independent draws, binomial with standard deviation sqrt(p(1-p)/N); we allow
K_SIGMA = 4 of those (a false failure rate below 1e-4 per assertion).
Periodic sampling of a steady workload has less variance than that, so this
term is conservative on its own account.

Systematic error, which does not shrink with N: SYSTEMATIC = 0.02 absolute
is added to the tolerance, for
 * the judgement of each sample: the kernel settles a thread's CPU time only
   at context switches and scheduler ticks, so whether a sample read within
   a period of a preemption was on a CPU is decided from counters accurate
   to a period. A misjudged sample lies at or near the place where the
   thread was preempted, which is not independent of the program
   (preemption favours system calls, e.g. the targets' clock reads). Measured
   on 2 cores with 4 spinning processes and other builds (load 10-15; the
   table in docs/architecture.md): heavy's share of split_70_30 was off by
   +0.028 on average (sd 0.010, max 0.039) over 8 runs of N ~ 1700, line 50
   of line_shares by -0.020 (sd 0.035, max 0.068) over 7 runs of N ~ 1500
   (4 sigma + SYSTEMATIC = 0.064 and 0.072 there); counting every runnable
   sample (wall time, before): +0.061 to +0.067 and up to +0.11. On a quiet
   machine preemptions are rare and this term is far smaller;
 * phase: ticks are periodic and so are the workloads (rounds of ~10 ms);
   near-commensurate periods bias a share by a fraction of a tick per round;
 * the windows differ slightly: the target times itself from its first
   round, the sampler from when it found the interpreter.
Shares are only computed from at least MIN_SAMPLES samples; below that the
test fails as "too few samples", which is a finding in its own right.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator

K_SIGMA = 4.0
SYSTEMATIC = 0.02
MIN_SAMPLES = 500

# A target's own CPU-time measurement must agree with its construction to
# within this; it guards the test's premise, not snakescope. CPU time is not
# work: a core shared with a busy sibling (SMT) or a sampler reading the
# target 10,000 times a second runs the same loop slower, so heavy's
# measured CPU share moved to 0.643 and 0.754 in two runs at 10 kHz under
# load (the test then compares with that measurement, as it should).
CONSTRUCTION_SANITY = 0.1


def share_tolerance(p: float, n: int) -> float:
    """Allowed |measured - p| for a share p estimated from n samples."""
    return K_SIGMA * math.sqrt(p * (1.0 - p) / n) + SYSTEMATIC


def assert_share(hits: int, n: int, expected: float, what: str) -> float:
    """Asserts hits/n is within share_tolerance(expected, n) of expected."""
    assert n >= MIN_SAMPLES, (
        f"{what}: only {n} samples, need at least {MIN_SAMPLES} to judge a share"
    )
    measured = hits / n
    tol = share_tolerance(expected, n)
    assert abs(measured - expected) <= tol, (
        f"{what}: measured {measured:.4f} ({hits}/{n} samples), expected "
        f"{expected:.4f} +/- {tol:.4f} ({K_SIGMA:g} sigma + {SYSTEMATIC})"
    )
    return measured


def expected_share(measured: float, by_construction: float, what: str) -> float:
    """The CPU-time share the target measured of itself, checked against its
    construction (see the module's docstring)."""
    assert abs(measured - by_construction) <= CONSTRUCTION_SANITY, (
        f"{what}: the target itself measured a CPU-time share of {measured:.4f}, far from "
        f"its construction {by_construction}: it did not run as designed"
    )
    return measured


# Spinning processes per core: twice as many as cores, so each core has two
# more runnable threads than the target's and snakescope's.
SPINNERS_PER_CORE = 2


@contextmanager
def spinning() -> Iterator[int]:
    """Every core busy inside the block: SPINNERS_PER_CORE processes per core
    spinning at the default priority (nice 0, like the target). Yields their
    number; kills and reaps them on the way out."""
    cores = len(os.sched_getaffinity(0))
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         start_new_session=True)
        for _ in range(SPINNERS_PER_CORE * cores)
    ]
    try:
        _wait_until_spinning(spinners)
        yield len(spinners)
    finally:
        for p in spinners:
            p.send_signal(signal.SIGKILL)
        for p in spinners:
            p.wait()


def _wait_until_spinning(spinners: list[subprocess.Popen]) -> None:
    """Returns once every spinner has used CPU time (interpreter started)."""
    deadline = time.monotonic() + 30
    for p in spinners:
        while _cpu_ticks(p.pid) < 2:
            assert p.poll() is None, f"spinner {p.pid} exited with {p.returncode}"
            assert time.monotonic() < deadline, "the spinners did not start within 30 s"
            time.sleep(0.01)


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
