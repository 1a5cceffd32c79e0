"""Failures: each must be an `error: ` line (optionally a `hint: ` line) on
stderr and a non-zero exit, never a panic or a Rust backtrace. Plus the edge
cases that must NOT be errors (a target that exits before the first sample).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile

import pytest

from support import (
    QUICK_TIMEOUT,
    ROOTED_PYPY,
    SYNTHETIC,
    Capture,
    assert_clean_stderr,
    assert_error,
    require_interpreter,
    run,
    script,
)


def _free_pid() -> int:
    """A pid no process has: scan upward from three quarters of pid_max."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    for pid in range(max(pid_max * 3 // 4, 1000), pid_max):
        if os.path.exists(f"/proc/{pid}"):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    pytest.skip("found no unused pid")


# ---- record / dump ----

def test_command_not_found(snakescope, tmp_path):
    result = run([snakescope, "record", "-o", str(tmp_path / "x.json"), "--",
                  "does-not-exist-cmd"], timeout=QUICK_TIMEOUT)
    line, _ = assert_error(result)
    assert "does-not-exist-cmd" in result.stderr, "the error does not name the command"


@pytest.mark.parametrize("mode", ["record", "dump"])
def test_pid_does_not_exist(snakescope, tmp_path, mode):
    pid = _free_pid()
    args = [snakescope, mode, "--pid", str(pid)]
    if mode == "record":
        args += ["--duration", "1", "-o", str(tmp_path / "x.json")]
    assert_error(run(args, timeout=QUICK_TIMEOUT))


@pytest.mark.parametrize("mode", ["record", "dump"])
def test_pid_is_not_python(snakescope, spawn, tmp_path, mode):
    sleeper = spawn(["sleep", "30"])
    args = [snakescope, mode, "--pid", str(sleeper.pid)]
    if mode == "record":
        args += ["--duration", "1", "-o", str(tmp_path / "x.json")]
    line, hint = assert_error(run(args, timeout=QUICK_TIMEOUT))
    assert "python" in line.lower(), f"the error does not mention Python: {line!r}"
    assert sleeper.alive(), "snakescope killed the process it refused to profile"


def test_unsupported_version_record(snakescope, unsupported_python, tmp_path):
    result = run([snakescope, "record", "-o", str(tmp_path / "x.json"), "--",
                  unsupported_python.path, script("split_70_30.py"), "2"])
    line, _ = assert_error(result)
    assert "3.7" in line, f"the error does not name the version: {line!r}"


def test_unsupported_version_dump(snakescope, unsupported_python, spawn):
    target = spawn([unsupported_python.path, script("idle_forever.py")])
    target.wait_for_line("ready")
    line, _ = assert_error(run([snakescope, "dump", "--pid", str(target.pid)],
                               timeout=QUICK_TIMEOUT))
    assert "3.7" in line, f"the error does not name the version: {line!r}"


@pytest.mark.parametrize("pypy", ROOTED_PYPY, ids=[i.id for i in ROOTED_PYPY])
@pytest.mark.parametrize("mode", ["record", "dump"])
def test_pypy_is_named(snakescope, spawn, tmp_path, pypy, mode):
    # PyPy (in the root filesystems of scripts/pyroots.sh): one error line that
    # says it is PyPy, not CPython, and that nothing works; a hint with what to use.
    pypy = require_interpreter(pypy)
    target = spawn([pypy.path, script("idle_forever.py")])
    target.wait_for_line("ready")
    args = [snakescope, mode, "--pid", str(target.pid)]
    if mode == "record":
        args += ["--duration", "1", "-o", str(tmp_path / "x.json")]
    line, hint = assert_error(run(args, timeout=QUICK_TIMEOUT))
    assert "PyPy" in line and "not CPython" in line and "none of" in line, line
    assert hint is not None and "vmprof" in hint, hint
    assert target.alive(), "snakescope killed the process it refused to profile"


def test_pypy_launched_is_named_and_runs_to_its_end(snakescope, tmp_path):
    pypy = require_interpreter(ROOTED_PYPY[-1])
    result = run([snakescope, "record", "-o", str(tmp_path / "x.json"), "--",
                  pypy.path, script("exit3.py")])
    line, _ = assert_error(result, strict=False)
    assert "PyPy" in line, line
    assert result.stdout == "to stdout\n", "the program did not run to its end"


@pytest.mark.parametrize("mode", ["record", "dump"])
def test_permission_refused(any_python, snakescope, spawn, mode):
    if os.geteuid() != 0:
        pytest.skip("needs root: the target must be root-owned and snakescope run as nobody")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    drop = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    # A copy of the binary that user nobody can reach, and a directory it may
    # write to, so the only thing refused is access to the target.
    workdir = tempfile.mkdtemp(prefix="snakescope-nobody-")
    try:
        os.chmod(workdir, 0o777)
        binary = os.path.join(workdir, "snakescope")
        shutil.copyfile(snakescope, binary)
        os.chmod(binary, 0o755)
        sanity = run([*drop, "/bin/sh", "-c", f"test -x {binary}"], cwd="/", timeout=QUICK_TIMEOUT)
        if sanity.returncode != 0:
            pytest.skip(f"user nobody cannot run {binary} here{sanity.describe()}")

        target = spawn([any_python.path, script("idle_forever.py")])
        target.wait_for_line("ready")
        args = [*drop, binary, mode, "--pid", str(target.pid)]
        if mode == "record":
            args += ["--duration", "1", "-o", os.path.join(workdir, "x.json")]
        line, hint = assert_error(run(args, cwd="/", timeout=QUICK_TIMEOUT))
        assert hint is not None and "CAP_SYS_PTRACE" in hint, \
            f"no hint line mentioning CAP_SYS_PTRACE: {line!r}, {hint!r}"
        assert target.alive()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("code, status", [("pass", 0), ("raise SystemExit(5)", 5)],
                         ids=["pass", "exit5"])
def test_target_exits_before_sampling(python, snakescope, tmp_path, code, status):
    # Not an error: the target may well be gone before the first sample.
    # Repeated, since whether it is depends on timing.
    for i in range(3):
        out = tmp_path / f"quick-{i}.json"
        result = run([snakescope, "record", "-o", str(out), "--", python.path, "-c", code],
                     timeout=QUICK_TIMEOUT)
        assert result.returncode == status, result.describe()
        assert_clean_stderr(result)
        assert out.is_file(), f"no capture written{result.describe()}"
        assert Capture.load(out).meta["exit_code"] == status


# ---- report ----

def _write(tmp_path, name, content) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content),
                        encoding="utf-8")
    return str(path)


def _with(**changes):
    data = copy.deepcopy(SYNTHETIC)
    for key, value in changes.items():
        data[key] = value
    return data


BAD_CAPTURES = {
    "garbage": b"\x00\xff garbage \x89PNG\r\n",
    "empty-file": b"",
    "truncated": json.dumps(SYNTHETIC)[:200],
    "not-a-capture": {"hello": 1},
    "json-array": [1, 2, 3],
    "speedscope-file": {"$schema": "https://www.speedscope.app/file-format-schema.json",
                        "shared": {"frames": []}, "profiles": []},
    "wrong-format-name": _with(format="py-spy"),
    "newer-version": _with(version=2),
    "frame-index-out-of-range": _with(stacks=[{"thread": 0, "frames": [0, 99], "idle": False,
                                               "gil": True, "count": 1}]),
    "thread-index-out-of-range": _with(stacks=[{"thread": 7, "frames": [0], "idle": False,
                                                "gil": True, "count": 1}]),
    "missing-meta": {k: v for k, v in SYNTHETIC.items() if k != "meta"},
}


@pytest.mark.parametrize("kind", list(BAD_CAPTURES))
def test_report_malformed_capture(snakescope, tmp_path, kind):
    path = _write(tmp_path, "bad.json", BAD_CAPTURES[kind])
    out = tmp_path / "out.txt"
    line, _ = assert_error(run([snakescope, "report", path, "--format", "collapsed",
                                "-o", str(out)], timeout=QUICK_TIMEOUT))
    if kind == "newer-version":
        assert "version" in line.lower(), line


def test_report_missing_file(snakescope, tmp_path):
    missing = tmp_path / "nope.json"
    line, _ = assert_error(run([snakescope, "report", str(missing), "--format", "text"],
                               timeout=QUICK_TIMEOUT))
    assert "nope.json" in line, f"the error does not name the file: {line!r}"


def test_report_empty_capture_has_no_flamegraph(snakescope, tmp_path):
    # docs/formats.md: "A capture with no samples has no flame graph:
    # snakescope reports an error instead of writing an empty picture."
    empty = _with(stacks=[], threads=[])
    path = _write(tmp_path, "empty.json", empty)
    Capture(empty)
    out = tmp_path / "out.svg"
    assert_error(run([snakescope, "report", path, "--format", "flamegraph", "-o", str(out)],
                     timeout=QUICK_TIMEOUT))
    assert not out.exists(), "an empty flame graph was written anyway"


# ---- command-line usage (worded by the argument parser: lenient check) ----

@pytest.mark.parametrize("args", [
    ["record"],
    ["record", "-o", "x.json"],
    ["report"],
    ["dump"],
    ["report", "x.json", "--format", "bogus"],
    ["record", "--rate", "fast", "--", "true"],
    ["no-such-subcommand"],
], ids=lambda a: " ".join(a) or "none")
def test_usage_errors(snakescope, tmp_path, args):
    assert_error(run([snakescope, *args], cwd=tmp_path, timeout=QUICK_TIMEOUT), strict=False)
