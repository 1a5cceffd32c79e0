"""A program's own `sys.setprofile` / `sys.settrace` under `run --exact` and
line timing: its functions see exactly what they see under plain `python`
(tests/scripts/program_hooks.py prints every event they get, what
`sys.getprofile()` / `sys.gettrace()` return, the local trace protocol,
'opcode' events, a local set through `f_locals`, exceptions raised by the
functions, `threading.setprofile`/`settrace` and 3.12's
`setprofile_all_threads`), while our measurements stay exact: the call
counts and line hits below are known by construction."""

from __future__ import annotations

import pstats
import shutil
import subprocess
from pathlib import Path

import pytest

from support import RECORD_TIMEOUT, REPO, script, target_env
from test_lines import hits, parse

PROGRAM = "program_hooks.py"

# By construction (program_hooks.py): `call_work` runs 12 iterations in all,
# each calling `helper`, which calls `work`; `part_replace` calls `helper`
# twice more. In two iterations the program's function raises at helper's
# 'call' event, so `work` runs 10 + 2 times. The one raised by the trace
# function is raised before the profile hook's 'call' event (CPython calls
# the trace function first), so the profile hook sees 13 calls of `helper`.
WORK_CALLS = 12
HELPER_CALLS = 13
LOOP = 5
WORK_HITS = {"total = 0": WORK_CALLS, "for i in range(n):": 10 * (LOOP + 1) + 3 + 4,
             "total += i": 10 * LOOP + 2 + 3, "return total": WORK_CALLS}

MODES = {
    "exact": ["--exact"],
    "exact+lines": ["--exact", "--lines", "program_hooks:work"],
    "lines": ["--lines", "program_hooks:work"],
}


def _call_work_calls(version: tuple[int, int]) -> int:
    # part_all_threads calls call_work(2) before 3.12, call_work(1) on two threads since.
    return 10 + (version >= (3, 12))


def _runs(snakescope: str, python, tmp_path: Path, options: list[str], *parts: str):
    """The program under plain `python` and under `snakescope run OPTIONS`
    (copied next to the outputs: the rooted interpreters see /tmp)."""
    target = tmp_path / PROGRAM
    shutil.copy(script(PROGRAM), target)
    env = target_env({"PYTHONPATH": str(REPO / "python")})
    plain = subprocess.run([python.path, str(target), *parts], capture_output=True, text=True,
                           timeout=RECORD_TIMEOUT, cwd=tmp_path, env=target_env())
    # pstats with --exact, else a capture (`run` refuses a .pstats name for one)
    out = tmp_path / ("prof.pstats" if "--exact" in options else "prof.json")
    ours = subprocess.run([snakescope, "run", "--python", python.path, "-q", "-o", str(out),
                           *options, str(target), *parts],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path, env=env)
    return plain, ours


def _own_stderr(text: str) -> str:
    """stderr without snakescope's own lines (with sampling, `-q` still says
    when a program this short got no sample)."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("snakescope: "))


@pytest.mark.parametrize("mode", sorted(MODES))
def test_program_hooks_see_what_they_see_under_python(snakescope, python, tmp_path, mode):
    plain, ours = _runs(snakescope, python, tmp_path, MODES[mode])
    assert plain.returncode == 0, plain.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == plain.stdout
    assert f"work calls {WORK_CALLS}\n" in plain.stdout
    if mode == "lines":
        assert _own_stderr(ours.stderr) == plain.stderr
    else:
        assert ours.stderr == plain.stderr
    if "exact" in mode:
        calls = {k[2]: v[:2] for k, v in pstats.Stats(str(tmp_path / "prof.pstats")).stats.items()
                 if k[0].endswith(PROGRAM)}
        assert calls["work"] == (WORK_CALLS, WORK_CALLS), calls
        assert calls["helper"] == (HELPER_CALLS, HELPER_CALLS), calls
        n = _call_work_calls(tuple(int(p) for p in python.version.split(".")[:2]))
        assert calls["call_work"] == (n, n), calls
        # part_raise_c_call: two calls of leaf_caller, four of leaf each (one
        # of whose `len` the program's function stops at its c_call).
        assert (calls["leaf_caller"], calls["leaf"]) == ((2, 2), (8, 8)), calls
    if "lines" in mode:
        table = parse((tmp_path / "prof.lines.txt").read_text())
        assert hits(table, "work") == WORK_HITS


@pytest.mark.parametrize("mode", ["exact", "exact+lines"])
def test_uncaught_exception_of_the_programs_trace_function(snakescope, python, tmp_path, mode):
    """The program dies of its trace function's exception: the same
    traceback (the trampoline's frame entry included), the same status."""
    plain, ours = _runs(snakescope, python, tmp_path, MODES[mode], "uncaught")
    assert plain.returncode == 1 and "LookupError: uncaught in the trace function" in plain.stderr
    assert (ours.returncode, ours.stdout, ours.stderr) == (plain.returncode, plain.stdout, plain.stderr)


def test_new_threads_are_profiled_after_the_program_resets_threading_setprofile(snakescope, python, tmp_path):
    """`threading.setprofile(None)` by the program leaves new threads
    measured (we do not use threading's hook), and `threading.getprofile()`
    (3.10+) says what it says without snakescope."""
    code = (
        "import threading\n"
        "def unit(): return 1\n"
        "def worker():\n"
        "    for _ in range(100): unit()\n"
        "print(getattr(threading, 'getprofile', lambda: None)())\n"
        "threading.setprofile(lambda *a: None)\n"
        "threading.setprofile(None)\n"
        "t = threading.Thread(target=worker); t.start(); t.join()\n"
    )
    target = tmp_path / "threads_reset.py"
    target.write_text(code)
    out = tmp_path / "t.pstats"
    env = target_env({"PYTHONPATH": str(REPO / "python")})
    ours = subprocess.run([snakescope, "run", "--python", python.path, "--exact", "-q", "-o", str(out), str(target)],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path, env=env)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == "None\n"
    calls = {k[2]: v[:2] for k, v in pstats.Stats(str(out)).stats.items() if k[0] == str(target)}
    assert calls["unit"] == (100, 100) and calls["worker"] == (1, 1), calls


def test_the_replaced_functions_look_like_the_originals(snakescope, python, tmp_path):
    """What the program can ask of `sys.setprofile` & co: name, module,
    `__self__`, signature, and errors for a wrong call."""
    code = (
        "import inspect, sys, threading\n"
        "for f in (sys.setprofile, sys.settrace):\n"
        "    print(repr(f), f.__module__, f.__self__ is sys, f.__qualname__)\n"
        "    try: print(inspect.signature(f))\n"
        "    except ValueError as e: print('no signature')\n"
        "    try: f()\n"
        "    except TypeError as e: print(e)\n"
        "start = getattr(threading, '_start_new_thread', None) or threading._start_joinable_thread\n"
        "print(repr(start), start.__module__)\n"
    )
    target = tmp_path / "looks.py"
    target.write_text(code)
    env = target_env({"PYTHONPATH": str(REPO / "python")})
    plain = subprocess.run([python.path, str(target)], capture_output=True, text=True,
                           timeout=RECORD_TIMEOUT, cwd=tmp_path, env=target_env())
    ours = subprocess.run([snakescope, "run", "--python", python.path, "--exact", "-q", "-o",
                           str(tmp_path / "l.pstats"), str(target)],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path, env=env)
    assert plain.returncode == 0, plain.stderr
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, plain.stdout, plain.stderr)


CPROFILE_INSIDE = """\
import cProfile, pstats
def work(n):
    return sum(range(n))
for _ in range(3):
    work(10)
p = cProfile.Profile()
p.enable()
for _ in range(5):
    work(10)
p.disable()
print("inner cProfile saw work", {k[2]: v[1] for k, v in pstats.Stats(p).stats.items()}["work"])
"""


def test_cprofile_inside_the_program(snakescope, python, tmp_path):
    """cProfile inside the program installs a C-level hook of its own:
    before 3.12 it replaces ours (which `sys.setprofile` never sees), so
    --exact counts `work` until then and says so in one line; since 3.12
    cProfile uses sys.monitoring and both count everything. The program's
    output is the same either way."""
    target = tmp_path / "cprofile_inside.py"
    target.write_text(CPROFILE_INSIDE)
    out = tmp_path / "c.pstats"
    env = target_env({"PYTHONPATH": str(REPO / "python")})
    plain = subprocess.run([python.path, str(target)], capture_output=True, text=True,
                           timeout=RECORD_TIMEOUT, cwd=tmp_path, env=target_env())
    ours = subprocess.run([snakescope, "run", "--python", python.path, "--exact", "-q", "-o", str(out), str(target)],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path, env=env)
    assert plain.stdout == "inner cProfile saw work 5\n", plain.stderr
    assert (ours.returncode, ours.stdout) == (0, plain.stdout), ours.stderr
    calls = {k[2]: v[:2] for k, v in pstats.Stats(str(out)).stats.items() if k[0] == str(target)}
    if tuple(int(p) for p in python.version.split(".")[:2]) >= (3, 12):
        assert ours.stderr == plain.stderr
        assert calls["work"] == (8, 8), calls
    else:
        assert ours.stderr == ("snakescope: the program replaced snakescope's profile hook with a C-level one of "
                               "its own (cProfile?): --exact's call counts on its main thread stop where it did\n")
        assert calls["work"] == (3, 3), calls
