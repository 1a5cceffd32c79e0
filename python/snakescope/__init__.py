"""snakescope: a profiler for Python programs.

The command line is ``snakescope`` (``record``, ``dump``, ``report``, ``run``);
this package is its Python side: the native agent that ``snakescope run``
loads into the program, and the API usable from code.
"""

import sys
import time

from snakescope import _lines

# Imported when first used (PEP 562): `import snakescope` runs in every
# process `snakescope run` starts, and in the command itself; these modules
# and what they import (functools, contextlib, collections) cost it
# milliseconds that most runs never use. The native extension too: pytest
# imports this package for its plugin (`snakescope._pytest`, entry point
# `pytest11`) in every session, where it stays off unless asked.
_LAZY = {"Profiler": "snakescope._api", "__version__": "snakescope._native", "checkpoint": "snakescope._memory",
         "heap": "snakescope._memory", "label": "snakescope._memory", "timeit": "snakescope._timeit"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'snakescope' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(ipython):
    """``%load_ext snakescope``: the ``%snakescope`` and ``%%snakescope`` magics."""
    from snakescope import _ipython

    _ipython.load(ipython)

__all__ = ["Profiler", "__version__", "checkpoint", "heap", "label", "profile", "timefn", "timeit", "timer"]


def profile(func):
    """kernprof-style ``@profile``: times the function's lines while a line
    profiler runs (``snakescope run``, ``Profiler(lines=...)``); returns
    ``func`` itself, unchanged, so decorated code and its tests keep working
    without a profiler."""
    return _lines.profile(func)


def timefn(fn):
    """The timing decorator of *High Performance Python*, chapter 2: prints
    ``@timefn: NAME took X seconds`` (to stderr) after every call."""

    import functools

    @functools.wraps(fn)
    def measure_time(*args, **kwargs):
        t1 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            t2 = time.perf_counter()
            print(f"@timefn: {fn.__name__} took {t2 - t1} seconds", file=sys.stderr)

    return measure_time


class timer:
    """``with snakescope.timer("load"): ...`` prints ``@timer: load took X seconds``
    (to stderr) when the block ends, whether it returns or raises."""

    def __init__(self, label="block"):
        self.label = label

    def __enter__(self):
        self._t1 = time.perf_counter()
        return None

    def __exit__(self, *exc):
        print(f"@timer: {self.label} took {time.perf_counter() - self._t1} seconds", file=sys.stderr)
        return False
