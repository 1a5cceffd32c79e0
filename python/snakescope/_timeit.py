"""``snakescope.timeit``: the ``snakescope timeit`` command from code."""

import json
import subprocess
import sys


def timeit(stmt, *more, setup="", number=None, repeat=5, processes=4, python=None):
    """Times ``stmt`` (and each of ``more``, compared with it) in fresh worker
    processes, as ``snakescope timeit --json`` does, and returns its report: a
    dict with ``benchmarks`` (per statement and interpreter: ``values_s``,
    ``median``, ``q1``, ``q3``, ``min``, ``outliers``, ``number``...),
    ``comparisons`` (``ratio`` of medians, ``p_value``, ``significant``) and
    ``warnings``. ``python``: an interpreter or a list of them (default: this
    one). Raises ``ValueError`` with snakescope's message when a statement
    fails or an argument is refused."""
    pythons = [python] if isinstance(python, str) else list(python or [sys.executable])
    args = [sys.executable, "-m", "snakescope", "timeit", "--json",
            "--repeat", str(repeat), "--processes", str(processes)]
    if setup:
        args += ["--setup", setup]
    if number is not None:
        args += ["--number", str(number)]
    for p in pythons:
        args += ["--python", p]
    args += ["--", stmt, *more]
    done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(done.stderr.strip())
    return json.loads(done.stdout)
