"""Running snakescope and its targets: the environment, children in their own
session with timeouts and cleanup, and the contract for errors.

Timeouts only stop a hung run; they are never used to judge speed (nothing in
the suite asserts on wall time).
"""

from __future__ import annotations

import dataclasses
import os
import re
import selectors
import signal
import subprocess
import time
from pathlib import Path
from typing import Sequence

import pytest

# Timeouts for one snakescope or target run.
RECORD_TIMEOUT = 60.0
QUICK_TIMEOUT = 30.0


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



LIVE_PAGE_LINE = re.compile(r"snakescope: live page at (http://127\.0\.0\.1:\d+)/\?token=([0-9a-f]{32})$")


def live_page(stderr, lines: int = 20) -> tuple[str, str]:
    """The live page's address and token from a `--live-web` process's
    stderr (a binary pipe): the first line that announces it, among the
    first `lines` (a note may come first on a busy machine)."""
    seen = []
    for _ in range(lines):
        line = stderr.readline().decode()
        if not line:
            break
        m = LIVE_PAGE_LINE.match(line.strip())
        if m:
            return m[1], m[2]
        seen.append(line)
    pytest.fail(f"no live page's URL on stderr; it said: {''.join(seen)!r}")
