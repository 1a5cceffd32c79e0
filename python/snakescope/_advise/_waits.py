"""The waiting sampler: where the program's threads wait off the CPU.

``run`` counts on-CPU samples only (its clocks judge each sample), so the
capture ``advise`` records shows no blocked time; ``--idle`` would record it
but judges every sample by the thread's state instead of its CPU clock,
changing the other rules' CPU shares. So the operand sampler (``_operands``)
measures the waiting itself, beside the capture: at each of its looks (every
40 ms, later 250 ms) it reads each thread's time on a CPU and time waiting for one (runnable)
from the kernel (Linux: ``/proc/self/task/TID/schedstat``, nanoseconds) and,
when the thread was blocked (neither) for at least four fifths of the
interval since the previous look, notes that blocked time against the
thread's stack at this look: its frames (file, line, function; root first;
snakescope's own left out), the innermost one where it waits (a library's
line or the program's own). Without /proc nothing is measured (no ``waits``
section). Written into the operand file as ``"waits": {"threads": [{ident,
thread, looks, wall_s, cpu_s}], "rows": [{ident, thread, stack, looks,
waited_s}]}`` (``wall_s``: the time watched; ``waited_s``: blocked).
"""

import os
import threading
import time

BLOCKED = 0.8  # blocked for at least this share of the interval: the thread waited
_TASKS = "/proc/self/task"


class Waits:
    def __init__(self, own):
        self.own = own  # file -> whether it is snakescope's (left out of stacks)
        self.enabled = os.path.isdir(_TASKS)
        self.last = {}  # ident -> (ns on a CPU, ns runnable, monotonic s)
        self.threads = {}  # ident -> {"thread", "looks", "wall_s", "cpu_s"}
        self.rows = {}  # (ident, stack) -> {"looks", "waited_s"}
        self.fds = {}  # native id -> its schedstat file, kept open (an open is ~0.4 ms here)

    def look(self, frames, me):
        if not self.enabled:
            return
        now = time.monotonic()
        for t in threading.enumerate():
            ident, native = t.ident, getattr(t, "native_id", None)
            if ident == me or ident not in frames or native is None:
                continue
            clocks = self.schedstat(native)
            if clocks is None:
                continue
            before, self.last[ident] = self.last.get(ident), (*clocks, now)
            if before is None or now <= before[2]:
                continue
            wall, ran = now - before[2], max(0, clocks[0] - before[0]) / 1e9
            blocked = wall - ran - max(0, clocks[1] - before[1]) / 1e9
            totals = self.threads.setdefault(ident, {"thread": t.name, "looks": 0,
                                                     "wall_s": 0.0, "cpu_s": 0.0})
            totals["looks"] += 1
            totals["wall_s"] += wall
            totals["cpu_s"] += ran
            if blocked >= BLOCKED * wall:
                row = self.rows.setdefault((ident, self.stack(frames[ident])),
                                           {"looks": 0, "waited_s": 0.0})
                row["looks"] += 1
                row["waited_s"] += blocked

    def schedstat(self, native_id):
        """(ns on a CPU, ns runnable waiting for one) of a thread, or None."""
        try:
            fd = self.fds.get(native_id)
            if fd is None:
                fd = self.fds[native_id] = os.open(f"{_TASKS}/{native_id}/schedstat",
                                                   os.O_RDONLY | os.O_CLOEXEC)
            run, queued = os.pread(fd, 128, 0).split()[:2]
            return int(run), int(queued)
        except (OSError, ValueError):
            fd = self.fds.pop(native_id, None)
            if fd is not None:
                os.close(fd)
            return None

    def close(self):
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def stack(self, frame):
        found = []
        while frame is not None:
            code = frame.f_code
            if not self.own(code.co_filename):
                found.append((code.co_filename, frame.f_lineno or 0,
                              getattr(code, "co_qualname", code.co_name)))
            frame = frame.f_back
        return tuple(reversed(found))

    def section(self):
        if not self.enabled:
            return None
        names = {i: t["thread"] for i, t in self.threads.items()}
        return {
            "threads": [dict(t, ident=i) for i, t in self.threads.items()],
            "rows": [{"ident": i, "thread": names.get(i, ""), "stack": [list(f) for f in s],
                      "looks": r["looks"], "waited_s": r["waited_s"]}
                     for (i, s), r in self.rows.items()],
        }


