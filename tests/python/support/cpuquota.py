"""A CPU quota, as a container's CPU limit sets one (Kubernetes' `limits.cpu`,
`docker run --cpus`): the processes inside get QUOTA of every PERIOD of CPU
time and are throttled, every thread at once, for the rest of the period.

For `snakescope run` this is the hard case. Its sampler is a thread of the
target, so it is throttled with the program: it wakes when the group is let
run again, long after its last read, and the program's thread has been off
its CPU all that while without a settled count of it in `schedstat`. Counted
by `schedstat` alone (an estimate of when each wait ended) heavy's share of
split_70_30 was off by -0.019 on average and by up to -0.053 in 4 runs here
(25 % of one CPU; the share's wall-time split moved to 0.44); the CI saw
-0.074. The thread's own CPU clock (crates/snakescope-remote/src/threadclock.rs)
judges every sample at its tick instead, and a sample stands for the CPU
time banked since the thread's last read; a late tick (after a throttle)
gives it to the stack the thread had before the stall. Without that, the
target's clock reads at its phase ends, where the kernel enforces the quota,
locked the throttles onto phase ends and CI saw -0.08 (docs/architecture.md).

Needs root and a cgroup `cpu` controller (v1 at /sys/fs/cgroup/cpu, or v2
with `cpu` enabled); the tests skip, saying so, without them.
"""

from __future__ import annotations

import os
import shlex
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

PERIOD_US = 40_000
QUOTA_US = 10_000  # a quarter of one CPU

_V1 = Path("/sys/fs/cgroup/cpu")
_V2 = Path("/sys/fs/cgroup")


@contextmanager
def cpu_quota() -> Iterator[list[str]]:
    """A cgroup limited to QUOTA_US of CPU time per PERIOD_US; yields the
    command prefix that runs a command inside it. Skips when cgroups cannot
    be written here."""
    group = _make_group()
    try:
        procs = group / ("tasks" if (group / "tasks").exists() else "cgroup.procs")
        yield ["sh", "-c", f'echo $$ > {shlex.quote(str(procs))} && exec "$@"', "sh"]
    finally:
        group.rmdir()


def _make_group() -> Path:
    name = f"snakescope-test-{uuid.uuid4().hex[:8]}"
    if os.access(_V1, os.W_OK) and (_V1 / "cpu.cfs_quota_us").exists():
        group = _V1 / name
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(QUOTA_US))
        return group
    enabled = _V2 / "cgroup.subtree_control"
    if os.access(_V2, os.W_OK) and enabled.exists() and "cpu" in enabled.read_text().split():
        group = _V2 / name
        group.mkdir()
        (group / "cpu.max").write_text(f"{QUOTA_US} {PERIOD_US}")
        return group
    pytest.skip("no writable cgroup cpu controller here (needs root): cannot set a CPU quota")
