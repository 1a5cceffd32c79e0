"""`snakescope run` on every supported interpreter, not only the .venv's.

The pyenv (and Debian) interpreters of the matrix (support/interpreters.py) do not have the
snakescope package installed, so these runs exercise how `run` lends its
package to such an interpreter: the environment's `snakescope` command (the
.venv's binary) finds the package of its environment, and the standalone
binary elsewhere takes it from SNAKESCOPE_PACKAGE. Each run is compared with that same interpreter: plain
`python` for what the program sees, its own cProfile for exact call counts,
and the target's own CPU-time measurement for the sampled 70/30 split, on a
quiet machine and with every core saturated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support import (
    QUICK_TIMEOUT,
    RECORD_TIMEOUT,
    ROOTED,
    UNSUPPORTED,
    Capture,
    Interpreter,
    Result,
    assert_error,
    require_interpreter,
    script,
    target_env,
)
from support.cpuquota import PERIOD_US, QUOTA_US, cpu_quota
from support.interpreters import _expand
from test_record import SECONDS, _split_share
from test_run import _profiler_own, _pstats

# The environment's command (the binary `make develop` installs as the wheel does), next to
# the interpreter running pytest (.venv): it lends the environment's package.
COMMAND = str(Path(sys.executable).with_name("snakescope"))

# Interpreters `run` must refuse with one error line: older than 3.8 (2.7
# cannot even parse the package). Absent ones are skipped with a reason.
TOO_OLD = (
    UNSUPPORTED,
    Interpreter("pyenv-2.7", _expand("~/.pyenv/versions/2.7.18/bin/python2.7")),
)

PROBE = textwrap.dedent("""\
    import json, os, sys
    import __main__
    print(json.dumps({
        "argv": sys.argv,
        "name": __name__,
        "file": globals().get("__file__"),
        "path": sys.path,
        "environ": dict(os.environ),
        "main_is_this": __main__.__dict__ is globals(),
        "spec": getattr(globals().get("__spec__"), "name", None),
    }, sort_keys=True))
    print("to stderr", file=sys.stderr)
    raise SystemExit(int(os.environ.get("PROBE_EXIT", "0")))
""")


@pytest.fixture(scope="session")
def package_dir() -> str:
    """The package `make develop` built (what the .venv imports)."""
    import snakescope

    return os.path.dirname(os.path.abspath(snakescope.__file__))


def _run_with(entry: str, snakescope: str, package_dir: str, python: Interpreter,
              args: list[str], *, cwd: Path, env: dict[str, str],
              prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    """`snakescope run --python PYTHON ARGS`, through the package's command
    (which lends its package by itself) or the binary (told where it is)."""
    if entry == "command":
        assert os.path.exists(COMMAND), f"{COMMAND}: the package's command is not installed (make develop)"
        cli = COMMAND
    else:
        cli = snakescope
        env = {**env, "SNAKESCOPE_PACKAGE": package_dir}
    return subprocess.run([*(prefix or []), cli, "run", "--python", python.path, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT)


def _describe(r: subprocess.CompletedProcess) -> str:
    return f"\n$ {' '.join(r.args)}\nexit {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"


# (entry point, what runs, PYTHONPATH: None = unset)
AS_UNDER_PYTHON = [
    ("command", "script", None),
    ("command", "script", "lib"),
    ("command", "script", ""),
    ("command", "module", "lib"),
    ("command", "code", None),
    ("binary", "script", None),
    ("binary", "script", "lib"),
]


@pytest.mark.parametrize("entry, kind, pythonpath", AS_UNDER_PYTHON,
                         ids=[f"{e}-{k}-pythonpath={p}" for e, k, p in AS_UNDER_PYTHON])
def test_program_sees_what_plain_python_gives_it(snakescope, package_dir, python, tmp_path,
                                                 entry, kind, pythonpath):
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "lib").mkdir()
    extra = {"PROBE_EXIT": "3"}
    if pythonpath is not None:
        extra["PYTHONPATH"] = str(tmp_path / pythonpath) if pythonpath else ""
    env = target_env(extra)
    target = {"script": ["probe.py", "a", "-b"], "module": ["-m", "probe", "a"],
              "code": ["-c", PROBE, "a"]}[kind]
    out = tmp_path / "p.json"
    profiled = _run_with(entry, snakescope, package_dir, python, ["-q", "-o", str(out), *target],
                         cwd=tmp_path, env=env)
    # The same environment snakescope was given (for the binary, that includes SNAKESCOPE_PACKAGE).
    plain_env = {**env, "SNAKESCOPE_PACKAGE": package_dir} if entry == "binary" else env
    plain = subprocess.run([python.path, *target], cwd=tmp_path, env=plain_env,
                           capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    assert plain.returncode == 3, _describe(plain)
    assert profiled.returncode == 3, _describe(profiled)
    seen, expected = json.loads(profiled.stdout), json.loads(plain.stdout)
    for key in expected:  # one key at a time, for a readable failure
        assert seen[key] == expected[key], f"{key} differs{_describe(profiled)}"
    assert profiled.stdout == plain.stdout and profiled.stderr == plain.stderr
    cap = Capture.load(out)
    assert cap.meta["mode"] == "run" and cap.meta["exit_code"] == 3
    assert cap.meta["python_version"] == python.version, "the profile is not of the interpreter asked for"


def test_lent_package_is_taken_back(snakescope, package_dir, python, tmp_path):
    """The program of an interpreter without the package runs with the lent
    one (a directory of its own), which is gone once snakescope exits."""
    code = "import sys; print(sys.modules['snakescope'].__file__)"
    r = _run_with("binary", snakescope, package_dir, python, ["-q", "-o", str(tmp_path / "x.json"), "-c", code],
                  cwd=tmp_path, env=target_env())
    assert r.returncode == 0, _describe(r)
    lent = Path(r.stdout.strip()).parent
    assert lent.name == "snakescope" and lent.parent.name.startswith("snakescope-run-"), \
        f"{python.id} did not run with the lent package: {r.stdout!r}"
    assert not lent.parent.exists(), f"{lent.parent} was left behind"
    assert os.path.isdir(package_dir), "removing the lent directory must not touch the package"


def test_split_70_30_in_process(snakescope, package_dir, python, tmp_path):
    _check_split_in_process(snakescope, package_dir, python, tmp_path, "")


def test_split_70_30_in_process_under_load(snakescope, package_dir, python, saturated, tmp_path):
    _check_split_in_process(snakescope, package_dir, python, tmp_path,
                            f", {saturated} processes spinning")


def test_split_70_30_in_process_under_a_cpu_quota(snakescope, package_dir, any_python, tmp_path):
    # The sampler is throttled with the program (support/cpuquota.py).
    with cpu_quota() as inside:
        _check_split_in_process(snakescope, package_dir, any_python, tmp_path,
                                f", {QUOTA_US / PERIOD_US:.0%} of a CPU", prefix=inside)


def _check_split_in_process(snakescope, package_dir, python, tmp_path, load: str,
                            prefix: list[str] | None = None) -> None:
    target = script("split_70_30.py")
    truth_path = tmp_path / "truth.json"
    out = tmp_path / "run.json"
    r = _run_with("binary", snakescope, package_dir, python,
                  ["-q", "-o", str(out), target, f"{SECONDS:g}", str(truth_path)],
                  cwd=tmp_path, env=target_env(), prefix=prefix)
    assert r.returncode == 0, _describe(r)
    cap = Capture.load(out)
    assert cap.meta["python_version"] == python.version
    # The bootstrap's frames are left out: no stack has one, and stacks start
    # at the script. Except torn ones: the sampler reads the running thread's
    # frames without stopping it, and before 3.11 frame objects are recycled
    # (free lists), so a read racing a return can follow a recycled `f_back`
    # into an unrelated chain (about 1 sample in 1000 on 3.8 here): at most 1 %.
    bootstrap = os.path.join(package_dir, "_run.py")
    assert not any(f["file"].endswith("/snakescope/_run.py") or f["file"] == bootstrap
                   for s in cap.stacks for f in s.frames), "a bootstrap frame in the profile"
    elsewhere = sum(s.count for s in cap.stacks
                    if s.frames and s.frames[0]["file"] != target and not s.frames[0]["file"].startswith("<frozen"))
    total = sum(s.count for s in cap.stacks)
    assert elsewhere <= 0.01 * total, f"{elsewhere} of {total} samples start outside the script"
    _split_share(cap, json.loads(truth_path.read_text()),
                 f"run on {python.id}: share of heavy{load}")


@pytest.mark.parametrize("program", ["calls.py", "split_70_30.py"])
def test_exact_counts_equal_that_interpreters_cprofile(snakescope, package_dir, python, tmp_path, program):
    target = script(program)
    args = [target] + (["0.3"] if program == "split_70_30.py" else [])
    ours, theirs = tmp_path / "s.pstats", tmp_path / "c.pstats"
    r = _run_with("binary", snakescope, package_dir, python, ["--exact", "-q", "-o", str(ours), *args],
                  cwd=tmp_path, env=target_env())
    assert r.returncode == 0, _describe(r)
    c = subprocess.run([python.path, "-m", "cProfile", "-o", str(theirs), *args], cwd=tmp_path,
                       env=target_env(), capture_output=True, text=True, timeout=RECORD_TIMEOUT)
    assert c.returncode == 0, _describe(c)
    s_stats, c_stats = _pstats(ours), _pstats(theirs)
    c_stats = {k: v for k, v in c_stats.items() if not _profiler_own(k)}
    if program == "split_70_30.py":
        # A timed loop: how many rounds ran differs between the two runs, so
        # compare the call structure of functions called a fixed number of times.
        fixed = {k for k in c_stats if k[2] in ("<module>", "main")}
        s_stats = {k: v for k, v in s_stats.items() if k in fixed}
        c_stats = {k: v for k, v in c_stats.items() if k in fixed}
    else:
        # Known by construction: fib(18) makes 8361 calls, one primitive.
        assert {k[2]: v[:2] for k, v in s_stats.items()}["fib"] == (1, 8361)
    assert set(s_stats) == set(c_stats), set(s_stats) ^ set(c_stats)
    for key, (cc, nc, _, _, callers) in c_stats.items():
        s_cc, s_nc, _, _, s_callers = s_stats[key]
        assert (s_cc, s_nc) == (cc, nc), f"{key}: snakescope {s_nc}/{s_cc}, cProfile {nc}/{cc}"
        assert {f: v[:2] for f, v in s_callers.items() if not _profiler_own(f)} == \
               {f: v[:2] for f, v in callers.items() if not _profiler_own(f)}, key


def test_exact_profiles_threads_started_later(snakescope, package_dir, python, tmp_path):
    out = tmp_path / "threads.pstats"
    r = _run_with("binary", snakescope, package_dir, python,
                  ["--exact", "-q", "-o", str(out), script("late_threads.py")],
                  cwd=tmp_path, env=target_env())
    assert r.returncode == 0, _describe(r)
    by_name = {k[2]: v for k, v in _pstats(out).items()}
    assert by_name["unit"][:2] == (3500, 3500), by_name["unit"][:2]
    assert by_name["worker"][:2] == (3, 3), by_name["worker"][:2]
    # Each worker thread called `unit` from `worker` 1000 times, the main thread 500 from `main`.
    callers = {f[2]: v[:2] for f, v in by_name["unit"][4].items()}
    assert callers == {"worker": (3000, 3000), "main": (500, 500)}, callers


# ---- refusals: one error line, a hint, no traceback ----

FREE_THREADED = [i for i in ROOTED if i.free_threaded]


@pytest.mark.parametrize("ft", FREE_THREADED, ids=[i.id for i in FREE_THREADED])
def test_free_threaded_refuses_gil(snakescope, package_dir, tmp_path, ft):
    """On 3.13t `run` samples, tracks memory, profiles exactly and times lines
    (the tests above and test_lines.py); `--gil` has no GIL to sample by and
    is refused before the program runs."""
    require_interpreter(ft)
    r = _run_with("binary", snakescope, package_dir, ft, ["--gil", "-c", "print('ran')"],
                  cwd=tmp_path, env=target_env())
    line, hint = assert_error(Result(list(r.args), r.returncode, r.stdout, r.stderr))
    assert "--gil" in line and "free-threaded" in line, line
    assert hint is not None and "--python" in hint
    assert r.stdout == "", "the program ran anyway"


@pytest.mark.parametrize("old", TOO_OLD, ids=[i.id for i in TOO_OLD])
@pytest.mark.parametrize("entry", ["command", "binary"])
def test_unsupported_interpreter_is_refused(snakescope, package_dir, tmp_path, old, entry):
    if not old.present:
        pytest.skip(f"interpreter {old.id} not present on this machine ({old.path})")
    r = _run_with(entry, snakescope, package_dir, old, ["-c", "print('ran')"], cwd=tmp_path, env=target_env())
    line, hint = assert_error(Result(list(r.args), r.returncode, r.stdout, r.stderr))
    major_minor = ".".join(old.version.split(".")[:2])
    assert f"Python {major_minor}." in line and "3.8 to 3.15" in line, line
    assert hint is not None and "--python" in hint
    assert r.stdout == "", "the program ran anyway"


def test_binary_without_a_package_to_lend(snakescope, any_python, tmp_path):
    env = {k: v for k, v in target_env().items() if not k.startswith("SNAKESCOPE_")}
    r = subprocess.run([snakescope, "run", "--python", any_python.path, "-c", "print('ran')"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    line, hint = assert_error(Result(list(r.args), r.returncode, r.stdout, r.stderr))
    assert "cannot import the snakescope package" in line and any_python.path in line, line
    assert hint is not None and "SNAKESCOPE_PACKAGE" in hint


def test_binary_with_a_wrong_package_location(snakescope, any_python, tmp_path):
    r = subprocess.run([snakescope, "run", "--python", any_python.path, "-c", "print('ran')"],
                       cwd=tmp_path, env=target_env({"SNAKESCOPE_PACKAGE": str(tmp_path)}),
                       capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    line, _ = assert_error(Result(list(r.args), r.returncode, r.stdout, r.stderr))
    assert "SNAKESCOPE_PACKAGE" in line and str(tmp_path) in line, line


def test_interpreter_that_is_not_python(snakescope, tmp_path):
    r = subprocess.run([snakescope, "run", "--python", "/bin/sh", "-c", "echo ran"],
                       cwd=tmp_path, env=target_env(), capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    line, _ = assert_error(Result(list(r.args), r.returncode, r.stdout, r.stderr))
    assert "/bin/sh" in line and "not run as a Python interpreter" in line, line
    assert r.stdout == ""


def test_package_commands_variables_stay_out_of_programs(tmp_path):
    """What the package's command tells the command line (its interpreter and
    package) reaches neither `run`'s nor `record`'s program."""
    code = "import os; print(sorted(k for k in os.environ if k.startswith('SNAKESCOPE')))"
    env = {k: v for k, v in target_env().items() if not k.startswith("SNAKESCOPE_")}
    for mode in (["run", "-q", "-o", str(tmp_path / "r.json"), "-c", code],
                 ["record", "-q", "-o", str(tmp_path / "c.json"), "--", sys.executable, "-c", code]):
        r = subprocess.run([COMMAND, *mode], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=RECORD_TIMEOUT)
        assert r.returncode == 0, _describe(r)
        assert r.stdout == "[]\n", f"{mode[0]}: {r.stdout}"


STOP_WHILE_RUNNING = textwrap.dedent("""\
    import sys, threading, time
    import snakescope
    stop = False
    def f(x):
        return x + 1
    def worker():
        n = 0
        while not stop:
            n = f(n)
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(30):
        with snakescope.Profiler(exact=True) as p:
            time.sleep(0.02)
        stats = p.capture().pstats()
    stop = True
    for t in threads:
        t.join()
    calls = {k[2]: v for k, v in stats.items()}
    print(sys._is_gil_enabled(), calls["f"][1] > 0, sorted(c[2] for c in calls["f"][4]))
""")


def test_free_threaded_exact_stops_while_threads_run(package_dir, tmp_path):
    """`Profiler(exact=True)` started and stopped 30 times while three
    threads run in parallel (no GIL): each stop waits for threads inside the
    hook, and the hook is taken off by each thread itself (CPython 3.13t
    crashes when a running thread's profile function is removed under it)."""
    for ft in FREE_THREADED:
        require_interpreter(ft)
        (tmp_path / "stop.py").write_text(STOP_WHILE_RUNNING)
        r = subprocess.run([ft.path, str(tmp_path / "stop.py")], cwd=tmp_path,
                           env=target_env({"PYTHONPATH": os.path.dirname(package_dir)}),
                           capture_output=True, text=True, timeout=RECORD_TIMEOUT)
        assert r.returncode == 0, _describe(r)
        # `f` was called on the three threads; no caller is recorded for it,
        # as cProfile records none: `worker` was entered before profiling began.
        assert r.stdout == "False True []\n", _describe(r)
