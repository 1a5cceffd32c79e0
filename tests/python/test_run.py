"""`snakescope run`: the in-process agent (sampling mode) and the Python package.

These run with the interpreter pytest runs in (the Makefile's .venv), which
has the package installed by `maturin develop`. Behaviour is compared with
plain `python` on the same program in the same test: the observable output
and exit status must be identical.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support import (
    MIN_SAMPLES,
    QUICK_TIMEOUT,
    RECORD_TIMEOUT,
    Capture,
    assert_share,
    expected_share,
    run,
    script,
    target_env,
)
from test_record import SECONDS

PYTHON = sys.executable

PROBE = textwrap.dedent("""\
    import json, os, sys
    import __main__
    print(json.dumps({
        "argv": sys.argv,
        "name": __name__,
        "file": globals().get("__file__"),
        "path0": sys.path[0],
        "main_is_this": __main__.__dict__ is globals(),
        "spec": getattr(globals().get("__spec__"), "name", None),
    }))
    print("to stderr", file=sys.stderr)
    raise SystemExit(int(os.environ.get("PROBE_EXIT", "0")))
""")

FAILING = textwrap.dedent("""\
    def inner():
        raise ValueError("boom")

    def outer():
        inner()

    outer()
""")


def _snakescope_run(snakescope: str, args: list[str], out: Path, cwd: Path, env: dict | None = None):
    return subprocess.run([snakescope, "run", "--python", PYTHON, "-q", "-o", str(out), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=RECORD_TIMEOUT)


def _python(args: list[str], cwd: Path, env: dict | None = None):
    return subprocess.run([PYTHON, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=QUICK_TIMEOUT)


@pytest.fixture
def probe_dir(tmp_path: Path) -> Path:
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "failing.py").write_text(FAILING)
    return tmp_path


@pytest.mark.parametrize("status", [0, 3])
def test_script_runs_as_under_python(snakescope, probe_dir, status):
    env = {**__import__("os").environ, "PROBE_EXIT": str(status)}
    out = probe_dir / "p.json"
    plain = _python(["probe.py", "a", "-b", "--c"], probe_dir, env)
    profiled = _snakescope_run(snakescope, ["probe.py", "a", "-b", "--c"], out, probe_dir, env)
    assert profiled.returncode == plain.returncode == status, profiled.stderr
    assert profiled.stdout == plain.stdout
    assert profiled.stderr == plain.stderr
    assert json.loads(plain.stdout)["main_is_this"] is True
    cap = Capture.load(out)
    assert cap.meta["mode"] == "run" and cap.meta["exit_code"] == status


def test_module_runs_as_under_python(snakescope, probe_dir):
    out = probe_dir / "m.json"
    plain = _python(["-m", "probe", "x"], probe_dir)
    profiled = _snakescope_run(snakescope, ["-m", "probe", "x"], out, probe_dir)
    assert profiled.returncode == plain.returncode == 0, profiled.stderr
    assert profiled.stdout == plain.stdout
    assert json.loads(plain.stdout)["name"] == "__main__"


def test_code_runs_as_under_python(snakescope, probe_dir):
    code = "import sys, json; print(json.dumps([sys.argv, sys.path[0], __name__])); raise SystemExit(4)"
    out = probe_dir / "c.json"
    plain = _python(["-c", code, "arg"], probe_dir)
    profiled = _snakescope_run(snakescope, ["-c", code, "arg"], out, probe_dir)
    assert profiled.returncode == plain.returncode == 4, profiled.stderr
    assert profiled.stdout == plain.stdout


def test_uncaught_exception_traceback_is_pythons(snakescope, probe_dir):
    out = probe_dir / "f.json"
    plain = _python(["failing.py"], probe_dir)
    profiled = _snakescope_run(snakescope, ["failing.py"], out, probe_dir)
    assert profiled.returncode == plain.returncode == 1
    # Same text, frame for frame: no snakescope or runpy frames in between.
    assert profiled.stderr == plain.stderr
    assert "ValueError: boom" in plain.stderr
    assert Capture.load(out).meta["exit_code"] == 1


def test_split_70_30_in_process(snakescope, tmp_path):
    target = script("split_70_30.py")
    truth_path = tmp_path / "truth.json"
    out = tmp_path / "run.json"
    result = run([snakescope, "run", "--python", PYTHON, "-q", "-o", str(out),
                  target, f"{SECONDS:g}", str(truth_path)])
    assert result.returncode == 0, result.describe()
    cap = Capture.load(out)
    # The bootstrap's frames are left out: every stack starts at the script.
    # A sample may also catch the interpreter's exit after the script, in
    # threading._shutdown (called by Py_FinalizeEx with no frame below it).
    roots = {s.frames[0]["file"] for s in cap.stacks if s.frames and s.frames[0]["function"] != "_shutdown"}
    assert roots <= {target} | {f for f in roots if f.startswith("<frozen")}, roots
    heavy = cap.count(lambda s: s.has("heavy"))
    either = cap.count(lambda s: s.has("heavy") or s.has("light"))
    truth = json.loads(truth_path.read_text())
    expected = expected_share(truth["cpu_share"], 0.7, "run: share of heavy")
    assert_share(heavy, either, expected, "run: share of heavy among heavy+light")


DENY_PROCESS_VM_READV = textwrap.dedent("""\
    #define _GNU_SOURCE
    #include <errno.h>
    #include <sys/uio.h>
    /* What a seccomp policy that refuses the system call looks like to the caller. */
    ssize_t process_vm_readv(pid_t pid, const struct iovec *l, unsigned long nl,
                             const struct iovec *r, unsigned long nr, unsigned long flags) {
        errno = EPERM;
        return -1;
    }
""")


@pytest.mark.parametrize("command", ["run", "record"])
def test_without_process_vm_readv(snakescope, tmp_path, command):
    # Hosts whose seccomp policy refuses process_vm_readv (container
    # runtimes' default without CAP_SYS_PTRACE): snakescope reads through
    # /proc/PID/mem instead, says so in one line, and the profile is the same.
    source = tmp_path / "deny.c"
    source.write_text(DENY_PROCESS_VM_READV)
    deny = tmp_path / "deny.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(deny), str(source)], check=True)
    env = target_env({"LD_PRELOAD": str(deny)})
    target = script("split_70_30.py")
    truth_path = tmp_path / "truth.json"
    out = tmp_path / "out.json"
    if command == "run":
        args = [snakescope, "run", "--python", PYTHON, "-o", str(out), target]
    else:
        args = [snakescope, "record", "-o", str(out), "--", PYTHON, target]
    result = run([*args, f"{SECONDS:g}", str(truth_path)], env=env)
    assert result.returncode == 0, result.describe()
    notes = [ln for ln in result.stderr.splitlines() if "process_vm_readv is refused" in ln]
    assert len(notes) == 1 and "/proc/PID/mem" in notes[0], result.describe()
    cap = Capture.load(out)
    heavy = cap.count(lambda s: s.has("heavy"))
    either = cap.count(lambda s: s.has("heavy") or s.has("light"))
    truth = json.loads(truth_path.read_text())
    expected = expected_share(truth["cpu_share"], 0.7, f"{command} via /proc/PID/mem: heavy")
    assert_share(heavy, either, expected, f"{command} via /proc/PID/mem: share of heavy")
    if command == "run":
        raw = json.loads(out.read_text())
        # Memory sites are named through the same reader.
        assert raw["memory"]["sites"] and all(s["frames"] for s in raw["memory"]["sites"][:5])


def test_installed_command_is_the_same_cli(tmp_path):
    exe = Path(PYTHON).with_name("snakescope")
    assert exe.exists(), f"{exe}: the package's command is not installed (make develop)"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    import snakescope
    assert version.returncode == 0 and version.stdout.split() == ["snakescope", snakescope.__version__]
    # `run` defaults to the package's own interpreter.
    result = subprocess.run([str(exe), "run", "-q", "-o", str(tmp_path / "x.json"), "-c", "print(6 * 7)"],
                            capture_output=True, text=True, timeout=RECORD_TIMEOUT)
    assert result.returncode == 0 and result.stdout == "42\n", result.stderr


def test_python_m_snakescope_is_the_same_command():
    exe = Path(PYTHON).with_name("snakescope")
    script = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    module = subprocess.run([PYTHON, "-m", "snakescope", "--version"], capture_output=True, text=True,
                            timeout=QUICK_TIMEOUT)
    assert script.returncode == module.returncode == 0, (script.stderr, module.stderr)
    assert module.stdout == script.stdout and module.stdout.split()[0] == "snakescope", (module.stdout, script.stdout)
    # Hints name the command as it was called.
    typo = subprocess.run([PYTHON, "-m", "snakescope", "recrod"], capture_output=True, text=True,
                          timeout=QUICK_TIMEOUT)
    assert typo.returncode != 0 and "-m snakescope" in typo.stderr, typo.stderr


def test_import_loads_only_what_every_process_needs():
    # `import snakescope` runs in every process `run` starts and, for the pytest plugin, in
    # every pytest session: the native extension, IPython's magics and the plugin's
    # budgets load when used (issue 19's budget: `import snakescope` within 20 ms).
    code = ("import sys, snakescope; print(sorted(m for m in sys.modules if m.startswith('snakescope')));"
            " v = snakescope.__version__; print('snakescope._native' in sys.modules, v)")
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    assert done.returncode == 0, done.stderr
    modules, loaded = done.stdout.splitlines()
    assert modules == "['snakescope', 'snakescope._lines']", modules
    assert loaded.split()[0] == "True" and loaded.split()[1][0].isdigit(), loaded


def test_run_errors(snakescope, tmp_path):
    missing = subprocess.run([snakescope, "run", "--python", PYTHON, str(tmp_path / "nope.py")],
                             capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    assert missing.returncode != 0 and missing.stderr.startswith("error: script")
    nothing = subprocess.run([snakescope, "run"], capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    assert nothing.returncode != 0 and nothing.stderr.startswith("error: nothing to run")
    bad_python = subprocess.run([snakescope, "run", "--python", str(tmp_path / "nopython"), "-c", "pass"],
                                capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    assert bad_python.returncode != 0 and bad_python.stderr.startswith("error: cannot run the interpreter")
    assert "panicked" not in missing.stderr + nothing.stderr + bad_python.stderr


def test_profile_decorator_is_a_no_op_and_stub_matches():
    import snakescope
    from snakescope import _native

    def f():
        return 1
    assert snakescope.profile(f) is f
    stub = (Path(snakescope.__file__).parent / "_native.pyi").read_text()
    public = {n for n in dir(_native) if not n.startswith("_")} | {"__version__"}
    declared = {line.split("(")[0].split()[1] for line in stub.splitlines() if line.startswith("def ")}
    declared |= {line.split(":")[0] for line in stub.splitlines() if re.match(r"\w+: ", line)}
    declared |= {line.split(":")[0].split()[1] for line in stub.splitlines() if line.startswith("class ")}
    assert declared == public


# ---- --exact: deterministic function profile with cProfile's accounting ----

def _pstats(path):
    import pstats
    return pstats.Stats(str(path)).stats


def _profiler_own(key) -> bool:
    # cProfile records its own `disable` call; snakescope records nothing of its own.
    return "_lsprof" in key[2]


@pytest.mark.parametrize("program", ["calls.py", "split_70_30.py"])
def test_exact_counts_equal_cprofiles(snakescope, tmp_path, program):
    target = script(program)
    args = [target] + (["0.3"] if program == "split_70_30.py" else [])
    ours, theirs = tmp_path / "s.pstats", tmp_path / "c.pstats"
    r = subprocess.run([snakescope, "run", "--python", PYTHON, "--exact", "-q", "-o", str(ours), *args],
                       capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    c = subprocess.run([PYTHON, "-m", "cProfile", "-o", str(theirs), *args],
                       capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path)
    assert c.returncode == 0, c.stderr
    s_stats, c_stats = _pstats(ours), _pstats(theirs)
    c_stats = {k: v for k, v in c_stats.items() if not _profiler_own(k)}
    if program == "split_70_30.py":
        # A timed loop: how many rounds ran differs between the two runs, so
        # compare the call structure of functions called a fixed number of times.
        fixed = {k for k in c_stats if k[2] in ("<module>", "main")}
        s_stats = {k: v for k, v in s_stats.items() if k in fixed}
        c_stats = {k: v for k, v in c_stats.items() if k in fixed}
    assert set(s_stats) == set(c_stats), set(s_stats) ^ set(c_stats)
    for key, (cc, nc, _, _, callers) in c_stats.items():
        s_cc, s_nc, _, _, s_callers = s_stats[key]
        assert (s_cc, s_nc) == (cc, nc), f"{key}: snakescope {s_nc}/{s_cc}, cProfile {nc}/{cc}"
        assert {f: v[:2] for f, v in s_callers.items() if not _profiler_own(f)} == \
               {f: v[:2] for f, v in callers.items() if not _profiler_own(f)}, key


def test_exact_known_counts_and_table(snakescope, tmp_path):
    out = tmp_path / "calls.pstats"
    r = subprocess.run([snakescope, "run", "--python", PYTHON, "--exact", "-o", str(out), script("calls.py")],
                       capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    stats = _pstats(out)
    by_name = {k[2]: v for k, v in stats.items()}
    # fib(18) makes 2*fib(19)-1 = 8361 calls, one of them primitive.
    assert by_name["fib"][:2] == (1, 8361)
    # A generator is "called" once per resume: 500 values + the final StopIteration.
    assert by_name["countdown"][:2] == (501, 501)
    assert by_name["area"][:2] == (300, 300)
    assert by_name["fails"][:2] == (200, 200)
    assert by_name["<built-in method builtins.abs>"][:2] == (67, 67)
    # The table is pstats' own, sorted by cumulative time as `-s cumulative` does.
    assert "Ordered by: cumulative time" in r.stderr
    assert "ncalls  tottime  percall  cumtime  percall filename:lineno(function)" in r.stderr
    assert "8361/1" in r.stderr


def test_exact_and_line_timings_are_in_the_capture(snakescope, tmp_path):
    """`run --exact --lines` with a capture output: the exact section has
    cProfile's counts and the lines section the hits known by construction
    (fails(i) for i in range(200): 67 multiples of 3 raise, 133 return)."""
    out = tmp_path / "calls.json"
    r = subprocess.run([snakescope, "run", "--python", PYTHON, "--exact", "--lines", "fails", "-o", str(out),
                        script("calls.py")], capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"wrote {out} (json)" in r.stderr
    data = json.loads(out.read_text())
    assert data["meta"]["mode"] == "run" and data["meta"]["exit_code"] == 0
    frames = data["frames"]
    exact = {frames[f["frame"]]["function"]: f for f in data["exact"]["functions"]}
    assert (exact["fib"]["calls"], exact["fib"]["primitive_calls"]) == (8361, 1)
    assert exact["fails"]["calls"] == 200
    callers = {frames[data["exact"]["functions"][c["function"]]["frame"]]["function"]: c["calls"]
               for c in exact["fib"]["callers"]}
    assert callers == {"main": 1, "fib": 8360}
    assert not any(frames[f["frame"]]["file"].endswith("_run.py") for f in data["exact"]["functions"])
    (timed,) = data["lines"]["functions"]
    assert frames[timed["frame"]]["function"] == "fails"
    source = dict(zip(range(frames[timed["frame"]]["line"], 10**6), timed["source"]))
    hits = {source[t["line"]].strip(): t["hits"] for t in timed["lines"]}
    assert hits == {"if i % 3 == 0:": 200, "raise ValueError(i)": 67, "return i": 133}
    assert all(t["time_s"] >= 0 for t in timed["lines"])


def test_exact_profiles_threads_started_later(snakescope, tmp_path):
    out = tmp_path / "threads.pstats"
    r = subprocess.run([snakescope, "run", "--python", PYTHON, "--exact", "-q", "-o", str(out),
                        script("late_threads.py")],
                       capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    by_name = {k[2]: v for k, v in _pstats(out).items()}
    assert by_name["unit"][:2] == (3500, 3500)
    assert by_name["worker"][1] == 3


def test_timefn_and_timer(capsys):
    import snakescope

    @snakescope.timefn
    def work(n):
        return sum(range(n))

    assert work(1000) == 499500 and work.__name__ == "work"
    with pytest.raises(ZeroDivisionError), snakescope.timer("div"):
        1 / 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("@timefn: work took ") and err[0].endswith(" seconds")
    assert float(err[0].split()[3]) >= 0
    assert err[1].startswith("@timer: div took ")


def _spin(seconds):
    import time
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def _fib(n):
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


def test_agent_work_above_the_program_is_not_counted():
    # Ground truth: a stack where the agent's own code (start or stop of the
    # API) has called back into Python, as an import's `_handle_fromlist`
    # does, is the agent's work. `<agent>` plays the agent's file: half the
    # spinning runs under it, half directly; only the latter is the program's.
    from snakescope import _native
    from snakescope._api import Profiler

    space = {}
    exec(compile("def busy(f, s):\n    return f(s)\n", "<agent>", "exec"), space)
    p = Profiler(rate_hz=1000)
    _native.start(p.rate_hz, hide_files=[], own_files=["<agent>"])
    try:
        space["busy"](_spin, 0.4)
        _spin(0.4)
    finally:
        cap = Capture(_native.stop_capture().to_dict())
    assert not any(f["file"] == "<agent>" for s in cap.stacks for f in s.frames)
    spin = cap.count(lambda s: s.has("_spin"))
    assert spin >= MIN_SAMPLES // 4, cap.summary()


@pytest.mark.parametrize("memory", [False, True])
def test_profiler_api_runs_no_program_code_while_it_samples(memory):
    """Between the sampler's start and its stop, the API's own start/stop run
    no Python code but their own: a sample then would be the program's (an
    import statement there put importlib's `_handle_fromlist` at a stack's
    root). Traced, deterministically, with the interpreter's profile hook."""
    import snakescope
    from snakescope import _native

    p = snakescope.Profiler(rate_hz=1000, memory=memory)
    sampling, foreign = False, []

    def hook(frame, event, arg):
        nonlocal sampling
        if event == "c_return" and arg is _native.start:
            sampling = True
        elif event == "c_call" and arg is _native.stop_capture:
            sampling = False
        elif sampling and event == "call" and frame.f_code.co_filename not in p._own_files:
            foreign.append((frame.f_code.co_filename, frame.f_code.co_name))

    sys.setprofile(hook)
    try:
        p.start()
        p.stop()
    finally:
        sys.setprofile(None)
    assert foreign == [], foreign


def test_profiler_api_sampling(tmp_path):
    import snakescope

    with snakescope.Profiler(rate_hz=1000) as p:
        _spin(1.0)
    assert p.capture().sections == ["samples"]
    cap = Capture(p.capture().to_dict())
    assert cap.meta["mode"] == "api"
    # Ground truth: the block spent its time in _spin; none of the API's own frames show.
    spin = cap.count(lambda s: s.has("_spin"))
    assert cap.total >= MIN_SAMPLES // 2
    assert spin / cap.total > 0.9, cap.summary()
    assert not any(f["file"].endswith("_api.py") for s in cap.stacks for f in s.frames)
    p.save(tmp_path / "p.svg")
    p.save(tmp_path / "p.json")
    assert (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml")
    assert Capture.load(tmp_path / "p.json").total == cap.total


def test_profiler_api_exact(tmp_path):
    import io
    import pstats

    import snakescope

    with snakescope.Profiler(exact=True) as p:
        _fib(15)
    assert p.capture().sections == ["exact"]
    by_name = {k[2]: v for k, v in p.capture().pstats().items()}
    assert by_name["_fib"][:2] == (1, 1973)  # 2*fib(16)-1 calls, one primitive
    # The capture's own exact section says the same, and nothing of the API's own code.
    data = p.capture().to_dict()
    functions = {data["frames"][f["frame"]]["function"]: f for f in data["exact"]["functions"]}
    assert (functions["_fib"]["calls"], functions["_fib"]["primitive_calls"]) == (1973, 1)
    assert not any(data["frames"][f["frame"]]["file"].endswith("_api.py") for f in data["exact"]["functions"])
    out = io.StringIO()
    p.print(sort="ncalls", file=out)
    assert "1973/1" in out.getvalue() and "Ordered by: call count" in out.getvalue()
    p.save(tmp_path / "fib.pstats")
    assert {k[2]: v[:2] for k, v in pstats.Stats(str(tmp_path / "fib.pstats")).stats.items()}["_fib"] == (1, 1973)
    with pytest.raises(ValueError, match="no sampled stacks"):
        p.capture().render("collapsed")


def test_run_survives_fork_and_setprofile(snakescope, tmp_path):
    program = tmp_path / "forks.py"
    program.write_text(textwrap.dedent("""\
        import os, sys
        seen = []
        sys.setprofile(lambda frame, event, arg: seen.append(event))
        sys.setprofile(None)
        pid = os.fork()
        if pid == 0:
            print("child ok", flush=True)
            sys.exit(7)
        _, status = os.waitpid(pid, 0)
        print("parent saw", os.waitstatus_to_exitcode(status), bool(seen), flush=True)
    """))
    for mode in ([], ["--exact"]):
        out = tmp_path / ("f.pstats" if mode else "f.json")
        r = subprocess.run([snakescope, "run", "--python", PYTHON, "-q", *mode, "-o", str(out), str(program)],
                           capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path)
        plain = _python([str(program)], tmp_path)
        assert r.returncode == plain.returncode == 0, r.stderr
        assert sorted(r.stdout.splitlines()) == sorted(plain.stdout.splitlines()) == ["child ok", "parent saw 7 True"]
        assert "Traceback" not in r.stderr, r.stderr
        assert out.exists()
