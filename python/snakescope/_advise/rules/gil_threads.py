"""CPU-bound threads taking turns on the GIL -> processes (ch. 9, The
multiprocessing Module; the GIL: ch. 1 and 8).

A program-wide rule. Fires when two or more threads of the main process
(child processes, which `run` follows, have GILs of their own, and their
CPU time is not in the capture's figures) each hold at least the
threshold's share of the samples, held the GIL in at least 30 % of their
samples (they run Python: C code that releases it holds it in almost none;
the rest is spent waiting for it, or on a loaded machine for a CPU, as a
runnable thread counts as running), ran the program's own code (a frame of
its own in at least half of their samples: not a library's thread, such as a
Pool's task handler pickling arguments), and the process used
at most 1.5 CPUs over the run (its user + system time over its wall time):
their work was serialised. The finding points at the threads' hottest line in
their outermost function of the program's own (the threads' target).
"""

import os
import sys
import sysconfig
from collections import Counter

from .._finding import Finding, pct

NAME = "gil-threads"
TITLE = "CPU-bound threads share one GIL: use processes"
CHAPTER = "ch. 9, The multiprocessing Module"
MIN_GIL = 0.3
MAX_CPUS = 1.5
_LIBRARY = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def check_program(ev, threshold):
    meta = ev.capture.get("meta", {})
    wall, user = meta.get("duration_s") or 0, meta.get("user_s")
    if not wall or user is None or not ev.total:
        return []
    cpus = (user + (meta.get("sys_s") or 0)) / wall
    own = Counter()
    for stack in ev.stacks:
        if any(_is_own(ev.frames[i]["file"]) for i in stack["frames"]):
            own[stack["thread"]] += stack["count"]
    main = meta.get("pid")
    busy = [(i, t) for i, t in enumerate(ev.threads)
            if t.get("pid", main) == main
            and t["samples"] >= threshold * ev.total and t["samples"]
            and t.get("gil_samples", 0) >= MIN_GIL * t["samples"] and own[i] >= 0.5 * t["samples"]]
    if len(busy) < 2 or cpus > MAX_CPUS:
        return []
    share = sum(t["samples"] for _, t in busy) / ev.total
    hot, func = _hottest_own_line(ev, {i for i, _ in busy})
    if hot is None:
        return []
    n = min(len(busy), os.cpu_count() or 1)
    gain = share * (1 - 1 / n) if n > 1 else 0.0
    gil = sum(t["gil_samples"] for _, t in busy) / sum(t["samples"] for _, t in busy)
    evidence = [f"{len(busy)} threads ran on a CPU in {pct(share)} of the samples, holding the GIL "
                f"in {pct(gil)} of theirs: Python code, not C code that releases it",
                f"the process used {cpus:.2f} CPUs over the run ({user:.2f} s user in "
                f"{wall:.2f} s): one at a time"]
    before = _thread_start(hot, func) or hot.source.lines[hot.line - 1].rstrip()
    after = ("with multiprocessing.Pool() as pool:  # each process has its own GIL\n"
             f"    results = pool.map({func}, work_items)")
    return [Finding(
        sys.modules[__name__], hot, share=share, evidence=evidence,
        remedy=(f"Run `{func}` in worker processes (multiprocessing.Pool or "
                "concurrent.futures.ProcessPoolExecutor) instead of threads: threads of one "
                "interpreter execute Python one at a time."),
        before=before, after=after, gain=gain,
        gain_text=(f"up to {pct(gain)} of the run time with {n} processes on this machine's "
                   f"{os.cpu_count()} CPUs (the threads' share, less one process's)"),
    )]


def _hottest_own_line(ev, threads):
    counts = Counter()
    for stack in ev.stacks:
        if stack["thread"] not in threads:
            continue
        for index in stack["frames"]:  # root first: the thread's own target function
            frame = ev.frames[index]
            if _is_own(frame["file"]):
                counts[(frame["file"], frame.get("line", 0), frame["function"])] += stack["count"]
                break
    for (file, line, function), _ in counts.most_common():
        hot = ev.lines.get((file, line))
        if hot is not None and hot.source is not None:
            return hot, function
    return None, None


def _is_own(file):
    return not file.startswith(_LIBRARY) and not file.startswith("<")


def _thread_start(hot, func):
    """The line that starts the threads on `func`, when the source has one."""
    for text in hot.source.lines:
        if "Thread(" in text and f"target={func}" in text:
            return text.rstrip()
    return None
