"""snakescope: a profiler for Python programs.

The command line is ``snakescope`` (``record``, ``dump``, ``report``, ``run``);
this package is its Python side: the native agent that ``snakescope run``
loads into the program, and the API usable from code.
"""

import contextlib
import functools
import sys
import time

from snakescope import _lines
from snakescope._api import Profiler
from snakescope._memory import checkpoint, heap, label
from snakescope._native import __version__

__all__ = ["Profiler", "__version__", "checkpoint", "heap", "label", "profile", "timefn", "timer"]


def profile(func):
    """kernprof-style ``@profile``: times the function's lines while a line
    profiler runs (``snakescope run``, ``Profiler(lines=...)``); returns
    ``func`` itself, unchanged, so decorated code and its tests keep working
    without a profiler."""
    return _lines.profile(func)


def timefn(fn):
    """The timing decorator of *High Performance Python*, chapter 2: prints
    ``@timefn: NAME took X seconds`` (to stderr) after every call."""

    @functools.wraps(fn)
    def measure_time(*args, **kwargs):
        t1 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            t2 = time.perf_counter()
            print(f"@timefn: {fn.__name__} took {t2 - t1} seconds", file=sys.stderr)

    return measure_time


@contextlib.contextmanager
def timer(label="block"):
    """``with snakescope.timer("load"): ...`` prints ``@timer: load took X seconds``
    (to stderr) when the block ends, whether it returns or raises."""
    t1 = time.perf_counter()
    try:
        yield
    finally:
        print(f"@timer: {label} took {time.perf_counter() - t1} seconds", file=sys.stderr)
