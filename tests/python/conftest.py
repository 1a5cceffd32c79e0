"""Fixtures and helpers for snakescope's integration tests.

The tests run the real `snakescope` binary against the target programs in
tests/scripts/, whose behaviour is known by construction, and compare what the
profiler reports with that ground truth. Everything here is plain pytest and
the standard library.

The binary is $SNAKESCOPE_BIN, else <repo>/target/release/snakescope. When
$SNAKESCOPE_BIN is set but not executable the tests fail; when it is unset and
the release binary has not been built, they are skipped with a reason.

Helpers are imported by the test modules with `from conftest import ...`
(pytest puts this directory on sys.path, as there is no __init__.py).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import os
import re
import selectors
import signal
import subprocess
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "tests" / "scripts"

# Timeouts for one snakescope or target run. They only stop a hung run; they
# are never used to judge speed (nothing in the suite asserts on wall time).
RECORD_TIMEOUT = 60.0
QUICK_TIMEOUT = 30.0

# Statistics: every share assertion goes through assert_share(), whose
# tolerance is derived in loadgen.py (with the load fixture and the targets'
# CPU-time reference); re-exported here for the modules that import it from conftest.
from loadgen import K_SIGMA, MIN_SAMPLES, SYSTEMATIC, assert_share, share_tolerance  # noqa: E402,F401


# Stack shapes. Reading a stack while the target changes it can yield a stack
# that never existed. snakescope discards the tears it detects (torn_stacks),
# but a read that races a generator's resume or a call/return can look
# consistent (the same frame address is reused), so assertions about the
# shape of stacks through code that calls, returns, yields or awaits every
# millisecond allow TORN_ALLOWANCE of the samples to be malformed. Found
# rate: about 1 sample in 1000 through `crunch`/`produce` (gen_async.py).
# Where the stack cannot change while sampled (deep_recursion.py spinning in
# leaf) the shape is checked on every sample.
TORN_ALLOWANCE = 0.01


def assert_shapes(stacks: Iterable["Stack"], ok: Callable[["Stack"], bool], what: str) -> None:
    """All but TORN_ALLOWANCE of the samples in `stacks` satisfy `ok`."""
    stacks = list(stacks)
    total = sum(s.count for s in stacks)
    bad = [s for s in stacks if not ok(s)]
    n_bad = sum(s.count for s in bad)
    assert total > 0, f"{what}: no samples"
    shown = "\n".join(f"  {s.count:5d} x {s.functions}" for s in bad[:5])
    assert n_bad <= TORN_ALLOWANCE * total, (
        f"{what}: {n_bad} of {total} samples have an impossible stack:\n{shown}"
    )


# --------------------------------------------------------------------------
# Interpreters
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Interpreter:
    id: str
    path: str
    # Runs in a root filesystem built by scripts/pyroots.sh: `path` is then its
    # wrapper in .pyroots/bin, which runs like a host interpreter (same PID,
    # the repository and the temporary directory at the same paths) but needs
    # root.
    rooted: bool = False
    # A free-threaded build: no GIL (dump says null, --gil is refused).
    free_threaded: bool = False

    @property
    def present(self) -> bool:
        return (os.path.isfile(self.path) and os.access(self.path, os.X_OK)
                and (not self.rooted or os.geteuid() == 0))

    @functools.cached_property
    def version(self) -> str:
        """platform.python_version() of this interpreter, e.g. '3.11.7'."""
        out = subprocess.run(
            [self.path, "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, timeout=QUICK_TIMEOUT, check=True,
            env=target_env(),
        )
        return out.stdout.strip()


def _expand(path: str) -> str:
    return os.path.expanduser(path)


# The interpreters of the CLI contract. Absent ones are skipped with a reason.
SUPPORTED = (
    Interpreter("pyenv-3.11", _expand("~/.pyenv/versions/3.11.7/bin/python3.11")),
    Interpreter("pyenv-3.12", _expand("~/.pyenv/versions/3.12.1/bin/python3.12")),
    Interpreter("pyenv-3.13", _expand("~/.pyenv/versions/3.13.0/bin/python3.13")),
    Interpreter("debian-3.11", "/usr/bin/python3.11"),
)
# Older versions: frame objects (crates/snakescope-layouts/src/v3_8.rs to
# v3_10.rs) for `record` and `dump`, and the profile and trace hooks (no
# sys.monitoring) for `run`'s --exact and line timing.
OLDER = (
    Interpreter("pyenv-3.8", _expand("~/.pyenv/versions/3.8.18/bin/python3.8")),
    Interpreter("pyenv-3.9", _expand("~/.pyenv/versions/3.9.18/bin/python3.9")),
    Interpreter("pyenv-3.10", _expand("~/.pyenv/versions/3.10.13/bin/python3.10")),
)
# A version no command reads (older than 3.8).
UNSUPPORTED = Interpreter("pyenv-3.7", _expand("~/.pyenv/versions/3.7.16/bin/python3.7"))

# The interpreters of Debian's newer suites, in the root filesystems that
# scripts/pyroots.sh builds under .pyroots (`make roots`; `make test` builds
# them when it can). Each runs through its wrapper in .pyroots/bin.
PYROOTS = REPO / ".pyroots"


def _rooted(id: str, wrapper: str, free_threaded: bool = False) -> Interpreter:
    return Interpreter(id, str(PYROOTS / "bin" / wrapper), rooted=True,
                       free_threaded=free_threaded)


ROOTED = (
    _rooted("trixie-3.13", "trixie-python3.13"),       # 3.13.5, linked into the executable
    _rooted("trixie-3.13t", "trixie-python3.13t", free_threaded=True),  # built by FT=1
    _rooted("sid-3.13", "sid-python3.13"),
    _rooted("sid-3.14", "sid-python3.14"),
    _rooted("sid-3.15", "sid-python3.15"),
)
ROOTED_PYPY = (_rooted("trixie-pypy3", "trixie-pypy3"), _rooted("sid-pypy3", "sid-pypy3"))

# The version matrix: the host's interpreters and those in the roots. The
# record and dump tests run on all of them.
MATRIX = SUPPORTED + OLDER + ROOTED

# `make test-all-versions` sets this: a rooted interpreter that is absent is
# then a failure, not a skip.
REQUIRE_ROOTS = os.environ.get("SNAKESCOPE_REQUIRE_ROOTS") == "1"


def _require(interp: Interpreter) -> Interpreter:
    if interp.present:
        return interp
    if not interp.rooted:
        pytest.skip(f"interpreter {interp.id} not present on this machine ({interp.path})")
    if os.geteuid() != 0:
        why = f"interpreter {interp.id} runs in a root filesystem, which needs root (chroot)"
    else:
        why = (f"interpreter {interp.id} not present ({interp.path}): build the roots with "
               f"`make roots` (scripts/pyroots.sh{', FT=1' if interp.free_threaded else ''})")
    if REQUIRE_ROOTS:
        pytest.fail(why)
    pytest.skip(why)


# For the modules whose tests run on the whole matrix (test_record.py,
# test_dump.py): they define their `python` fixture with this.
require_interpreter = _require


# The interpreters `run` is tested on (test_run_versions, test_memory,
# test_lines, test_errors): every version of the matrix.
RUN_MATRIX = SUPPORTED + OLDER + ROOTED


@pytest.fixture(params=RUN_MATRIX, ids=[i.id for i in RUN_MATRIX])
def python(request: pytest.FixtureRequest) -> Interpreter:
    """Each interpreter of `run`'s matrix in turn; skipped when absent."""
    return _require(request.param)


@pytest.fixture(scope="session")
def present_interpreters() -> list[Interpreter]:
    """The supported interpreters present on this machine."""
    return [i for i in SUPPORTED if i.present]


@pytest.fixture(scope="session")
def any_python(present_interpreters: list[Interpreter]) -> Interpreter:
    """One supported interpreter, for tests that are not about the interpreter."""
    if not present_interpreters:
        pytest.skip("none of the supported interpreters is present: "
                    + ", ".join(i.path for i in SUPPORTED))
    return present_interpreters[0]


@pytest.fixture
def unsupported_python() -> Interpreter:
    return _require(UNSUPPORTED)


# --------------------------------------------------------------------------
# The binary and running things
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def snakescope() -> str:
    """Path of the snakescope binary under test."""
    explicit = os.environ.get("SNAKESCOPE_BIN")
    if explicit:
        assert os.path.isfile(explicit) and os.access(explicit, os.X_OK), (
            f"SNAKESCOPE_BIN={explicit} is not an executable file"
        )
        return os.path.abspath(explicit)
    default = REPO / "target" / "release" / "snakescope"
    if not (default.is_file() and os.access(default, os.X_OK)):
        pytest.skip(f"{default} not built (run `cargo build --release`, or set SNAKESCOPE_BIN)")
    return str(default)


def target_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for snakescope and its targets.

    PYTHON* variables of the test runner (PYTHONPATH, PYTHONUNBUFFERED, a
    venv's PYTHONHOME...) are dropped so targets behave as when run by hand;
    bytecode writing is off so tests/scripts stays clean. RUST_BACKTRACE is
    dropped so that a panic, if any, prints Rust's usual note mentioning it.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and k not in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


def script(name: str) -> str:
    """Absolute path of a target script (name in NFC, as stored)."""
    path = SCRIPTS / unicodedata.normalize("NFC", name)
    assert path.is_file(), f"missing target script {path}"
    return str(path)


@dataclasses.dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        def cut(text: str) -> str:
            return text if len(text) < 4000 else text[:2000] + "\n[...]\n" + text[-2000:]
        return (f"\n$ {' '.join(self.args)}\nexit status: {self.returncode}\n"
                f"--- stdout ---\n{cut(self.stdout)}\n--- stderr ---\n{cut(self.stderr)}")


def _killpg(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Proc:
    """A child in its own session (so its whole process group can be signalled
    and cleaned up), with stdout and stderr captured.

    Tests create these through the `spawn` fixture, which kills and reaps them
    at teardown whatever happened.
    """

    def __init__(self, args: Sequence[str], *, cwd: str | os.PathLike | None = None,
                 env: dict[str, str] | None = None):
        self.args = [str(a) for a in args]
        self.popen = subprocess.Popen(
            self.args, cwd=cwd, env=target_env() if env is None else env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self._stdout_head = b""
        self._done: Result | None = None

    def wait_for_line(self, line: str, timeout: float = QUICK_TIMEOUT) -> None:
        """Reads stdout until a line equal to `line` arrives."""
        want = b"\n" + line.encode() + b"\n"
        fd = self.popen.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while want not in b"\n" + self._stdout_head:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail(f"no line {line!r} on stdout within {timeout:g} s")
                if sel.select(left):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        self.fail(f"stdout closed before a line {line!r}")
                    self._stdout_head += chunk

    def wait_for_file(self, path: Path, timeout: float = QUICK_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.popen.poll() is not None:
                self.fail(f"exited before writing {path}")
            if time.monotonic() > deadline:
                self.fail(f"did not write {path} within {timeout:g} s")
            time.sleep(0.01)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        os.killpg(self.pid, sig)

    def finish(self, timeout: float = RECORD_TIMEOUT) -> Result:
        """Waits for the child to exit and returns what it printed."""
        if self._done is None:
            try:
                out, err = self.popen.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"timed out after {timeout:g} s{self.result().describe()}")
            self._done = Result(self.args, self.popen.returncode,
                                (self._stdout_head + out).decode("utf-8", "replace"),
                                err.decode("utf-8", "replace"))
            # Strays left in the group (e.g. a target snakescope did not reap).
            _killpg(self.pid)
        return self._done

    def kill(self) -> Result:
        """Kills the whole process group and reaps the child."""
        if self._done is None:
            _killpg(self.pid)
            out, err = self.popen.communicate()
            self._done = Result(self.args, self.popen.returncode,
                                (self._stdout_head + out).decode("utf-8", "replace"),
                                err.decode("utf-8", "replace"))
        return self._done

    def result(self) -> Result:
        return self._done or Result(self.args, self.popen.returncode or 0,
                                    self._stdout_head.decode("utf-8", "replace"), "")

    def fail(self, why: str) -> None:
        result = self.kill()
        pytest.fail(f"{why}{result.describe()}")


@pytest.fixture
def spawn() -> Iterator[Callable[..., Proc]]:
    """Factory for Proc; every process started is killed and reaped at teardown."""
    procs: list[Proc] = []

    def start(args: Sequence[str], **kwargs: Any) -> Proc:
        proc = Proc(args, **kwargs)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()


def run(args: Sequence[str], *, timeout: float = RECORD_TIMEOUT,
        cwd: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> Result:
    """Runs a command to completion (in its own session; strays are killed)."""
    proc = Proc(args, cwd=cwd, env=env)
    try:
        return proc.finish(timeout)
    finally:
        proc.kill()


def assert_clean_stderr(result: Result) -> None:
    """No error line, no panic, no backtrace note."""
    lines = result.stderr.splitlines()
    assert not any(line.startswith("error:") for line in lines), \
        f"unexpected error{result.describe()}"
    assert "panicked" not in result.stderr and "RUST_BACKTRACE" not in result.stderr, \
        f"snakescope panicked{result.describe()}"


def assert_error(result: Result, *, strict: bool = True) -> tuple[str, str | None]:
    """Checks the contract for errors; returns (error line, hint line or None).

    Contract: non-zero exit, stderr is one line starting `error: `, optionally
    followed by one line starting `hint: `, and never a panic or backtrace.
    `strict=False` (for command-line usage errors, which the argument parser
    words) only requires the first line to start with `error:`.
    """
    assert result.returncode != 0, f"expected a failure{result.describe()}"
    assert result.returncode > 0, f"killed by a signal instead of failing{result.describe()}"
    assert "panicked" not in result.stderr and "RUST_BACKTRACE" not in result.stderr, \
        f"snakescope panicked{result.describe()}"
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("error:"), \
        f"stderr's first line does not start with 'error:'{result.describe()}"
    if not strict:
        return lines[0], None
    assert lines[0].startswith("error: ") and lines[0][len("error: "):].strip(), \
        f"empty error message{result.describe()}"
    assert len(lines) <= 2, f"more than an error line and a hint line{result.describe()}"
    hint = None
    if len(lines) == 2:
        assert lines[1].startswith("hint: "), f"second line is not a hint{result.describe()}"
        hint = lines[1]
    return lines[0], hint


# --------------------------------------------------------------------------
# The capture (docs/capture-format.md)
# --------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _opt(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


_META_FIELDS = {
    "tool_version": _is_str,
    "mode": _is_str,
    "command": lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v),
    "pid": _opt(_is_int),
    "python_version": _opt(_is_str),
    "requested_rate_hz": _is_num,
    "started_unix_s": _is_num,
    "duration_s": _is_num,
    "ticks": _is_int,
    "lost_ticks": _is_int,
    "torn_stacks": _is_int,
    "include_idle": _is_bool,
    "gil_only": _is_bool,
    "exit_code": _opt(_is_int),
}
_THREAD_FIELDS = {"tid": _is_int, "name": _opt(_is_str), "samples": _is_int,
                  "idle_samples": _is_int, "gil_samples": _is_int}
_FRAME_FIELDS = {"function": _is_str, "qualname": _opt(_is_str), "file": _is_str, "line": _is_int}
_STACK_FIELDS = {"thread": _is_int, "frames": lambda v: isinstance(v, list) and all(map(_is_int, v)),
                 "idle": _is_bool, "gil": _is_bool, "count": _is_int}


def _check_fields(obj: Any, fields: dict[str, Callable[[Any], bool]], where: str) -> None:
    assert isinstance(obj, dict), f"{where} is not an object: {obj!r}"
    for key, ok in fields.items():
        assert key in obj, f"{where} lacks `{key}`: {obj!r}"
        assert ok(obj[key]), f"{where}.{key} has the wrong type: {obj[key]!r}"


def validate_capture(data: Any) -> None:
    """Asserts `data` is a well-formed, self-consistent version-1 capture."""
    assert isinstance(data, dict), "a capture is a JSON object"
    assert data.get("format") == "snakescope-capture", f"format is {data.get('format')!r}"
    assert data.get("version") == 1, f"version is {data.get('version')!r}"
    _check_fields(data.get("meta"), _META_FIELDS, "meta")
    meta = data["meta"]
    assert 0 <= meta["lost_ticks"] <= meta["ticks"], f"lost_ticks/ticks: {meta}"
    assert meta["torn_stacks"] >= 0 and meta["duration_s"] >= 0, f"meta: {meta}"
    assert meta["requested_rate_hz"] > 0, f"meta: {meta}"
    for key in ("threads", "frames", "stacks"):
        assert isinstance(data.get(key), list), f"`{key}` is not a list"
    for i, t in enumerate(data["threads"]):
        _check_fields(t, _THREAD_FIELDS, f"threads[{i}]")
    for i, f in enumerate(data["frames"]):
        _check_fields(f, _FRAME_FIELDS, f"frames[{i}]")
        assert f["line"] >= 0, f"frames[{i}].line is negative"
    keys = [(f["function"], f["qualname"], f["file"], f["line"]) for f in data["frames"]]
    assert len(set(keys)) == len(keys), "frames are not distinct"
    tids = [t["tid"] for t in data["threads"]]
    assert len(set(tids)) == len(tids), "a tid has more than one thread entry"

    sums = [[0, 0, 0] for _ in data["threads"]]
    seen = set()
    for i, s in enumerate(data["stacks"]):
        _check_fields(s, _STACK_FIELDS, f"stacks[{i}]")
        assert 0 <= s["thread"] < len(data["threads"]), f"stacks[{i}].thread out of range"
        assert all(0 <= f < len(data["frames"]) for f in s["frames"]), \
            f"stacks[{i}].frames has an index out of range"
        assert s["count"] >= 1, f"stacks[{i}].count is {s['count']}"
        key = (s["thread"], tuple(s["frames"]), s["idle"], s["gil"])
        assert key not in seen, f"stacks[{i}] repeats an earlier (thread, frames, idle, gil)"
        seen.add(key)
        sums[s["thread"]][0] += s["count"]
        sums[s["thread"]][1] += s["count"] if s["idle"] else 0
        sums[s["thread"]][2] += s["count"] if s["gil"] else 0
        if not meta["include_idle"]:
            assert not s["idle"], f"stacks[{i}] is idle in a capture without --idle"
        if meta["gil_only"]:
            assert s["gil"], f"stacks[{i}] lacks the GIL in a --gil capture"
    for t, (samples, idle, gil) in zip(data["threads"], sums):
        assert t["samples"] == samples, f"thread {t['tid']}: samples {t['samples']} != {samples}"
        assert t["idle_samples"] == idle, f"thread {t['tid']}: idle_samples {t['idle_samples']} != {idle}"
        assert t["gil_samples"] == gil, f"thread {t['tid']}: gil_samples {t['gil_samples']} != {gil}"
        # A thread is sampled at most once per sampling instant.
        assert t["samples"] <= meta["ticks"], f"thread {t['tid']} has more samples than ticks"


@dataclasses.dataclass(frozen=True)
class Stack:
    thread: dict
    frames: tuple  # frame dicts, root first
    idle: bool
    gil: bool
    count: int

    @property
    def functions(self) -> list[str]:
        return [f["function"] for f in self.frames]

    @property
    def tid(self) -> int:
        return self.thread["tid"]

    @property
    def leaf(self) -> dict | None:
        return self.frames[-1] if self.frames else None

    def has(self, function: str) -> bool:
        return any(f["function"] == function for f in self.frames)


class Capture:
    """A validated capture with its stacks resolved."""

    def __init__(self, data: dict):
        validate_capture(data)
        self.data = data
        self.meta: dict = data["meta"]
        self.threads: list[dict] = data["threads"]
        self.frames: list[dict] = data["frames"]
        self.stacks: list[Stack] = [
            Stack(self.threads[s["thread"]], tuple(self.frames[i] for i in s["frames"]),
                  s["idle"], s["gil"], s["count"])
            for s in data["stacks"]
        ]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Capture":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    @property
    def total(self) -> int:
        return sum(s.count for s in self.stacks)

    def count(self, pred: Callable[[Stack], bool]) -> int:
        return sum(s.count for s in self.stacks if pred(s))

    def samples_by_tid(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for s in self.stacks:
            out[s.tid] = out.get(s.tid, 0) + s.count
        return out

    def summary(self) -> str:
        """A short text for assertion messages: meta and the top stacks."""
        top = sorted(self.stacks, key=lambda s: -s.count)[:8]
        lines = [f"meta: {json.dumps(self.meta)}"]
        for s in top:
            names = ";".join(f["function"] for f in s.frames[-6:])
            lines.append(f"  {s.count:6d} tid={s.tid} idle={s.idle} gil={s.gil} ...{names}")
        return "\n".join(lines)


def record(snakescope: str, command: Sequence[str], out: Path, *, options: Sequence[str] = (),
           expect_status: int = 0, timeout: float = RECORD_TIMEOUT,
           cwd: str | os.PathLike | None = None) -> tuple[Result, Capture]:
    """`snakescope record -o OUT [options] -- command`, OUT a .json capture."""
    assert out.suffix == ".json" and not out.name.endswith(".speedscope.json")
    args = [snakescope, "record", "-o", str(out), *options, "--", *command]
    result = run(args, timeout=timeout, cwd=cwd)
    assert result.returncode == expect_status, \
        f"exit status {result.returncode}, expected {expect_status}{result.describe()}"
    assert_clean_stderr(result)
    assert out.is_file(), f"no capture written to {out}{result.describe()}"
    return result, Capture.load(out)


def attach(snakescope: str, pid: int, out: Path, *, seconds: float,
           options: Sequence[str] = ()) -> tuple[Result, Capture]:
    """`snakescope record --pid PID --duration SECONDS -o OUT [options]`."""
    args = [snakescope, "record", "--pid", str(pid), "--duration", f"{seconds:g}",
            "-o", str(out), *options]
    result = run(args, timeout=seconds + RECORD_TIMEOUT)
    assert result.returncode == 0, f"exit status {result.returncode}{result.describe()}"
    assert_clean_stderr(result)
    assert out.is_file(), f"no capture written to {out}{result.describe()}"
    return result, Capture.load(out)


# --------------------------------------------------------------------------
# Reading the target scripts (ground truth comes from their source)
# --------------------------------------------------------------------------


def source_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def marker_lines(path: str, pattern: str) -> dict[str, int]:
    """{marker value: line number} for lines whose comment matches `pattern`
    (a regex with one group), e.g. r"#\\s*share:\\s*(\\d+)"."""
    found: dict[str, int] = {}
    for number, text in enumerate(source_lines(path), start=1):
        m = re.search(pattern, text)
        if m:
            assert m.group(1) not in found, f"marker {m.group(1)} twice in {path}"
            found[m.group(1)] = number
    assert found, f"no marker {pattern!r} in {path}"
    return found


def module_constant(path: str, name: str) -> Any:
    """The literal value of a module-level `NAME = literal` in a script."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"no constant {name} in {path}")


def function_spans(path: str) -> dict[str, tuple[int, int]]:
    """{function name: (first line, last line)} of every def in a script."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    spans = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            spans[node.name] = (node.lineno, node.end_lineno)
    return spans


def assert_lines_inside_functions(capture: Capture, path: str) -> None:
    """Every frame of function F in `path` is at a line inside F's def."""
    spans = function_spans(path)
    checked = 0
    for frame in capture.frames:
        if frame["file"] == path and frame["function"] in spans:
            first, last = spans[frame["function"]]
            assert first <= frame["line"] <= last, (
                f"frame {frame} is outside {frame['function']} (lines {first}-{last} of {path})"
            )
            checked += 1
    assert checked, f"no frame from {path} in the capture\n{capture.summary()}"


def read_info(path: Path) -> dict[int, str]:
    """The {native tid: threading name} map written by many_threads.py / gil.py."""
    with open(path, encoding="utf-8") as f:
        info = json.load(f)
    return {int(tid): name for tid, name in info["threads"].items()}


def wait_until_main_blocks(pid: int) -> None:
    """Waits until the main thread of `pid` is blocked (not running per the
    kernel, 5 polls in a row 10 ms apart). many_threads.py and gil.py write
    their info file and only then block in join: a test that attaches as
    soon as the file appears can see main still running its last lines."""
    stat = f"/proc/{pid}/task/{pid}/stat"
    deadline = time.monotonic() + QUICK_TIMEOUT
    still = 0
    while still < 5:
        assert time.monotonic() < deadline, f"the main thread of {pid} never blocked"
        with open(stat, encoding="utf-8") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        still = still + 1 if state not in ("R", "D") else 0
        time.sleep(0.01)


def has_qualnames(interp: Interpreter) -> bool:
    """Whether code objects carry a qualified name (co_qualname, 3.11+); before,
    snakescope reports the function's name as its qualname."""
    major, minor = (int(p) for p in interp.version.split(".")[:2])
    return (major, minor) >= (3, 11)


def accepted_names(interp: Interpreter, name: str) -> set[str]:
    """Names snakescope may report for a thread whose threading name is `name`:
    exactly that — snakescope reads `threading._active` in the target."""
    return {name}


# --------------------------------------------------------------------------
# Output formats (docs/formats.md)
# --------------------------------------------------------------------------

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
COLLAPSED_LINE = re.compile(r"^(?P<stack>thread \((?P<tid>\d+)\)(?:: [^;]*)?(?:;[^;]+)*) (?P<count>\d+)$")


def _sanitize(text: str) -> str:
    return text.replace(";", ":")


def frame_label(frame: dict) -> str:
    """A frame in collapsed stacks: `qualname (file:line)` or `qualname (file)`."""
    name = _sanitize(frame["qualname"] if frame["qualname"] is not None else frame["function"])
    file = _sanitize(frame["file"])
    return f"{name} ({file}:{frame['line']})" if frame["line"] else f"{name} ({file})"


def thread_label(thread: dict) -> str:
    if thread["name"] is None:
        return f"thread ({thread['tid']})"
    return f"thread ({thread['tid']}): {_sanitize(thread['name'])}"


def expected_collapsed(capture: Capture) -> dict[str, int]:
    """The collapsed stacks docs/formats.md prescribes for a capture."""
    out: dict[str, int] = {}
    for s in capture.stacks:
        text = ";".join([thread_label(s.thread), *map(frame_label, s.frames)])
        out[text] = out.get(text, 0) + s.count
    return out


def parse_collapsed(text: str) -> dict[str, int]:
    """Parses collapsed stacks, checking the line syntax and sort order."""
    lines = text.splitlines()
    assert lines, "collapsed output is empty"
    stacks: dict[str, int] = {}
    for line in lines:
        m = COLLAPSED_LINE.match(line)
        assert m, f"not a collapsed-stack line: {line!r}"
        assert m["stack"] not in stacks, f"stack printed twice: {line!r}"
        assert int(m["count"]) > 0, f"zero count: {line!r}"
        stacks[m["stack"]] = int(m["count"])
    assert list(stacks) == sorted(stacks), "collapsed lines are not sorted"
    return stacks


def check_speedscope(data: Any, capture: Capture | None = None) -> dict[str, list]:
    """Checks a speedscope file; returns {profile name: [(names root first, weight)]}.

    With a capture, also checks it holds exactly the capture's samples, per
    thread, as docs/formats.md describes.
    """
    assert isinstance(data, dict), "speedscope file is not an object"
    assert data.get("$schema") == SPEEDSCOPE_SCHEMA, f"$schema is {data.get('$schema')!r}"
    frames = data["shared"]["frames"]
    assert isinstance(frames, list) and frames, "no shared frames"
    for f in frames:
        assert isinstance(f.get("name"), str) and isinstance(f.get("file"), str), f"frame {f}"
        assert "line" not in f or (_is_int(f["line"]) and f["line"] > 0), f"frame {f}"
    profiles = data["profiles"]
    assert isinstance(profiles, list) and profiles, "no profiles"
    out: dict[str, list] = {}
    for p in profiles:
        assert p["type"] == "sampled" and p["unit"] == "none", f"profile {p.get('name')}"
        assert len(p["samples"]) == len(p["weights"]) > 0, f"profile {p['name']}"
        assert all(0 <= i < len(frames) for s in p["samples"] for i in s), f"profile {p['name']}"
        assert sum(p["weights"]) == p["endValue"] - p["startValue"], f"profile {p['name']}"
        assert p["startValue"] == 0, f"profile {p['name']}"
        assert p["name"] not in out, f"two profiles named {p['name']}"
        out[p["name"]] = [(tuple((frames[i]["name"], frames[i]["file"], frames[i].get("line"))
                                 for i in s), w) for s, w in zip(p["samples"], p["weights"])]
    biggest = max(range(len(profiles)), key=lambda i: profiles[i]["endValue"])
    assert profiles[data["activeProfileIndex"]]["endValue"] == profiles[biggest]["endValue"], \
        "the profile with the most samples is not the one that opens first"
    if capture is not None:
        want: dict[str, dict] = {}
        for s in capture.stacks:
            t = s.thread
            name = f"{t['name'] if t['name'] is not None else 'thread'} (tid {t['tid']})"
            key = tuple((f["qualname"] if f["qualname"] is not None else f["function"],
                         f["file"], f["line"] or None) for f in s.frames)
            want.setdefault(name, {})
            want[name][key] = want[name].get(key, 0) + s.count
        got = {}
        for name, samples in out.items():
            got[name] = {}
            for key, w in samples:
                got[name][key] = got[name].get(key, 0) + w
        assert got == want, "speedscope profiles do not hold the capture's samples"
    return out


def check_svg(text: str, names: Iterable[str]) -> None:
    """A well-formed SVG flame graph mentioning each of `names`."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg"), f"root element is {root.tag}"
    all_text = " ".join(t for el in root.iter() for t in (el.text, el.tail) if t)
    assert "snakescope" in all_text, "the flame graph's title does not name snakescope"
    for name in names:
        assert name in all_text, f"{name!r} does not appear in the flame graph"


# A small hand-written capture (docs/capture-format.md), used by the report
# tests (exact expected renderings) and the malformed-capture tests.
SYNTHETIC = {
    "format": "snakescope-capture",
    "version": 1,
    "meta": {
        "tool_version": "0.1.0", "mode": "record", "command": ["python3", "app.py"],
        "pid": 4242, "python_version": "3.11.7", "requested_rate_hz": 1000.0,
        "started_unix_s": 1795000000.25, "duration_s": 0.1, "ticks": 100, "lost_ticks": 0,
        "torn_stacks": 0, "include_idle": True, "gil_only": False, "exit_code": 0,
    },
    "threads": [
        {"tid": 4242, "name": "MainThread", "samples": 85, "idle_samples": 0, "gil_samples": 85},
        {"tid": 4243, "name": None, "samples": 20, "idle_samples": 10, "gil_samples": 5},
    ],
    "frames": [
        {"function": "<module>", "qualname": "<module>", "file": "/src/app.py", "line": 30},
        {"function": "main", "qualname": "main", "file": "/src/app.py", "line": 25},
        {"function": "heavy", "qualname": "heavy", "file": "/src/app.py", "line": 10},
        {"function": "work", "qualname": "Worker.work", "file": "/src/app.py", "line": 5},
        {"function": "light", "qualname": "light", "file": "/src/app.py", "line": 15},
        {"function": "work", "qualname": "Worker.work", "file": "/src/app.py", "line": 6},
        {"function": "poll", "qualname": None, "file": "/src/we;ird.py", "line": 0},
        {"function": "run", "qualname": "Thread.run", "file": "/usr/lib/python3.11/threading.py",
         "line": 0},
    ],
    "stacks": [
        {"thread": 0, "frames": [0, 1, 2, 3], "idle": False, "gil": True, "count": 56},
        {"thread": 0, "frames": [0, 1, 2], "idle": False, "gil": True, "count": 7},
        {"thread": 0, "frames": [0, 1, 4, 5], "idle": False, "gil": True, "count": 22},
        {"thread": 1, "frames": [7, 6], "idle": True, "gil": False, "count": 10},
        {"thread": 1, "frames": [7, 6], "idle": False, "gil": False, "count": 5},
        {"thread": 1, "frames": [7, 6], "idle": False, "gil": True, "count": 5},
    ],
}


def validate_dump(data: Any) -> list[dict]:
    """Checks `dump --json` output against the contract's schema."""
    assert isinstance(data, list) and data, "dump --json is not a non-empty array"
    # "gil" is null on a free-threaded build (no GIL to hold).
    thread_fields = {"tid": _is_int, "name": _opt(_is_str), "idle": _is_bool, "gil": _opt(_is_bool),
                     "frames": lambda v: isinstance(v, list)}
    for i, t in enumerate(data):
        _check_fields(t, thread_fields, f"dump[{i}]")
        for j, f in enumerate(t["frames"]):
            _check_fields(f, _FRAME_FIELDS, f"dump[{i}].frames[{j}]")
    tids = [t["tid"] for t in data]
    assert len(set(tids)) == len(tids), "a thread is listed twice"
    return data
