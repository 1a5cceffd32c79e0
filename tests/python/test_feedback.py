"""What `record` says while it records: a banner and a progress line on a
terminal (a pseudo-terminal made by util-linux `script`), nothing of either
when stderr is a pipe; and a note when many ticks were lost."""

from __future__ import annotations

import shlex
import shutil
import sys

import pytest

from support import Capture, run, target_env

# Three seconds of CPU: past the progress line's first draw (2 s).
BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < 3: pass\n"
BANNER = "snakescope: recording `"


def _on_a_terminal(args: list[str]):
    if shutil.which("script") is None:
        pytest.skip("util-linux `script` is not installed: no pseudo-terminal to test with")
    line = " ".join(shlex.quote(a) for a in args)
    return run(["script", "-qec", line, "/dev/null"], env=target_env())


def test_banner_and_progress_on_a_terminal(snakescope, tmp_path):
    out = tmp_path / "t.json"
    r = _on_a_terminal([snakescope, "record", "-o", str(out), "--", sys.executable, "-c", BUSY])
    assert r.returncode == 0, r.describe()
    text = r.stdout  # the terminal: stdout and stderr together
    assert BANNER in text and f"then writing {out}" in text and "Ctrl-C" in text, text[:500]
    assert "at 1000 Hz, CPU time" in text, text[:500]
    progress = [p for p in text.split("\r") if "thread-samples," in p and " Hz" in p]
    assert progress, f"no progress line: {text[:800]!r}"
    assert "\x1b[K" in text, "the progress line is erased before the summary"
    assert out.exists()


def test_quiet_on_a_terminal_says_nothing(snakescope, tmp_path):
    r = _on_a_terminal([snakescope, "record", "-q", "-o", str(tmp_path / "q.json"), "--",
                        sys.executable, "-c", "pass"])
    assert r.returncode == 0, r.describe()
    assert BANNER not in r.stdout and "thread-samples" not in r.stdout, r.stdout


def test_neither_when_stderr_is_a_pipe(snakescope, tmp_path):
    r = run([snakescope, "record", "-o", str(tmp_path / "p.json"), "--", sys.executable, "-c", BUSY],
            env=target_env())
    assert r.returncode == 0, r.describe()
    assert BANNER not in r.stderr and "\r" not in r.stderr and "\x1b[K" not in r.stderr
    assert "thread-samples recorded" in r.stderr  # the summary stays


def test_many_lost_ticks_are_explained(snakescope, tmp_path):
    out = tmp_path / "fast.json"
    # A rate no sampler keeps up with on this machine: most ticks are lost.
    r = run([snakescope, "record", "-r", "1000000", "-o", str(out), "--", sys.executable, "-c",
             "sum(range(10_000_000))"], env=target_env())
    assert r.returncode == 0, r.describe()
    meta = Capture.load(out).meta
    lost = meta["lost_ticks"] / meta["ticks"]
    assert ("of the ticks were lost" in r.stderr) == (lost > 0.1), (lost, r.stderr)
    assert lost > 0.1, "1 MHz should be beyond this machine's sampler"
