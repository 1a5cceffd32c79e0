"""`snakescope run` keeps the capture, and the program its behaviour, however the program ends.

Each program here does a known piece of work in a function called `work`
(pure-Python CPU time, so the CPU sampler sees it) and then ends in one of the
ways that skip the interpreter's normal exit: `os._exit` (from the main thread
and from another thread), a segmentation fault, `abort()`, a re-`exec` of
itself, a `chdir` before the end, a closed stdout pipe, a `fork` whose child
exits on its own, an uncaught KeyboardInterrupt, daemon threads still running. Ground truth is plain
`python` running the same program: under `run -q` the exit status, stdout and
stderr must be identical, and a readable capture must hold samples in `work`
and the status the program ended with.

And two launch conditions: SIGINT and SIGTERM ignored by whoever started
snakescope (`nohup`, supervisors) stay ignored in the program, under `run` and
`record`.
"""

from __future__ import annotations

import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from support import RECORD_TIMEOUT, REPO, Capture, Interpreter, target_env

WORK = textwrap.dedent("""\
    import os, sys
    def work():
        s = 0
        for i in range(3_000_000):
            s += i
        return s
    print("worked", work(), flush=True)
""")

# name -> (program after WORK, what the capture's exit_code must be)
ENDINGS = {
    "os_exit": ("os._exit(7)\n", 7),
    "os_exit_from_thread": (textwrap.dedent("""\
        import threading, time
        threading.Thread(target=lambda: os._exit(5)).start()
        time.sleep(30)
    """), 5),
    "segfault": ("import ctypes\nctypes.string_at(0)\n", -signal.SIGSEGV),
    "abort": ("os.abort()\n", -signal.SIGABRT),
    "reexec": (textwrap.dedent("""\
        if len(sys.argv) == 1:
            os.execv(sys.executable, [sys.executable, sys.argv[0], "again"])
        print("second image")
    """), None),
    # The interpreter ends daemon threads waiting for the GIL at its exit with
    # pthread_exit, an unwind through their thread-start frame (snakescope's
    # wrapper: once a Rust call that aborted the program).
    "daemon_threads_at_exit": (textwrap.dedent("""\
        import threading, time
        def beat():
            while True:
                time.sleep(0.001)
        for _ in range(8):
            threading.Thread(target=beat, daemon=True).start()
        time.sleep(0.1)
    """), 0),
}


def _env() -> dict[str, str]:
    return target_env({"PYTHONPATH": str(REPO / "python")})


def _run(snakescope: str, python: Interpreter, args: list[str], cwd: Path, **kwargs):
    return subprocess.run([snakescope, "run", "--python", python.path, "-q", *args], cwd=cwd,
                          env=_env(), capture_output=True, text=True, timeout=RECORD_TIMEOUT,
                          **kwargs)


def _plain(python: Interpreter, args: list[str], cwd: Path, **kwargs):
    return subprocess.run([python.path, *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=RECORD_TIMEOUT, **kwargs)


def _same(plain, profiled) -> None:
    assert (profiled.returncode, profiled.stdout, profiled.stderr) == \
        (plain.returncode, plain.stdout, plain.stderr), \
        f"\nplain: {plain.returncode}\n{plain.stdout}\n{plain.stderr}\n" \
        f"run: {profiled.returncode}\n{profiled.stdout}\n{profiled.stderr}"


def _worked(path: Path, exit_code) -> Capture:
    assert path.is_file(), f"no capture at {path}"
    capture = Capture.load(path)
    assert capture.meta["exit_code"] == exit_code, capture.summary()
    assert capture.count(lambda s: s.has("work")) > 0, capture.summary()
    return capture


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_capture_kept_whatever_the_ending(snakescope, python, tmp_path, ending):
    body, exit_code = ENDINGS[ending]
    prog = tmp_path / "prog.py"
    prog.write_text(WORK + body)
    plain = _plain(python, [str(prog)], tmp_path)
    out = tmp_path / "out.json"
    profiled = _run(snakescope, python, ["-o", str(out), str(prog)], tmp_path)
    _same(plain, profiled)
    _worked(out, exit_code)


def test_relative_output_stays_where_the_program_started(snakescope, python, tmp_path):
    prog = tmp_path / "prog.py"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    prog.write_text(WORK + f"os.chdir({str(elsewhere)!r})\n")
    r = _run(snakescope, python, ["-o", "out.json", str(prog)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (elsewhere / "out.json").exists()
    _worked(tmp_path / "out.json", 0)


def test_closed_stdout_pipe(snakescope, python, tmp_path):
    """`run prog | head -1`: the program meets a closed pipe as it would alone."""
    prog = tmp_path / "prog.py"
    prog.write_text(WORK + "for i in range(200_000):\n    print(i)\n")
    out = tmp_path / "out.json"
    results = []
    for command in ([python.path, str(prog)],
                    [snakescope, "run", "--python", python.path, "-q", "-o", str(out), str(prog)]):
        proc = subprocess.Popen(command, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        first = proc.stdout.readline()
        proc.stdout.close()  # what `| head -1` does
        err = proc.stderr.read()
        proc.stderr.close()
        results.append((proc.wait(timeout=RECORD_TIMEOUT), first, err))
    # Python itself ends such a program in one of two ways, by a race with
    # the reader: the BrokenPipeError raised by print (status 1) leaves
    # output in stdout's buffer or not; when it does, the final flush fails
    # too and the status becomes 120 (Py_RunMain). Plain python shows both
    # from run to run, so the status must be one of the two, and the same
    # as the capture records, rather than equal to another run's.
    (plain_status, plain_first, plain_err), (status, first, err) = results
    assert (first, err.splitlines()[-1:]) == (plain_first, plain_err.splitlines()[-1:])
    assert plain_status in (1, 120) and status in (1, 120), results
    _worked(out, status)


def test_forked_child_neither_writes_nor_speaks(snakescope, python, tmp_path):
    """The child of a fork ends through sys.exit after the parent is done:
    it must not replace the parent's capture nor print anything."""
    prog = tmp_path / "prog.py"
    prog.write_text(WORK + textwrap.dedent("""\
        import time
        r, w = os.pipe()
        if os.fork() == 0:
            os.close(w)
            os.read(r, 1)  # the parent has exited
            time.sleep(0.2)
            sys.exit(0)
        os.close(r)
        sys.exit(3)
    """))
    out = tmp_path / "out.json"
    r = _run(snakescope, python, ["-o", str(out), str(prog)], tmp_path)
    plain = _plain(python, [str(prog)], tmp_path)
    _same(plain, r)
    # subprocess.run returned once both processes closed their stderr: the
    # child ended (through its atexit functions) after the parent wrote.
    _worked(out, 3)


def test_keyboard_interrupt_ends_as_under_python(snakescope, python, tmp_path):
    """Traceback, then non-daemon threads, atexit functions, flushed
    buffers, and death by SIGINT: in Python's order."""
    prog = tmp_path / "prog.py"
    prog.write_text(WORK + textwrap.dedent("""\
        import atexit, threading, time
        atexit.register(lambda: print("atexit ran"))
        def late():
            time.sleep(0.2)
            print("thread finished")
        threading.Thread(target=late).start()
        sys.stdout.write("buffered, no newline")
        raise KeyboardInterrupt
    """))
    out = tmp_path / "out.json"
    plain = _plain(python, [str(prog)], tmp_path)
    profiled = _run(snakescope, python, ["-o", str(out), str(prog)], tmp_path)
    _same(plain, profiled)
    assert plain.returncode == -signal.SIGINT
    _worked(out, -signal.SIGINT)


SIGNALS_IGNORED = textwrap.dedent("""\
    import os, signal, time
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.1)
    print("survived", signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
          signal.getsignal(signal.SIGTERM) == signal.SIG_IGN)
""")


def _ignore_int_and_term():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@pytest.mark.parametrize("command", ["run", "record"])
def test_ignored_signals_stay_ignored(snakescope, any_python, tmp_path, command):
    prog = tmp_path / "prog.py"
    prog.write_text(SIGNALS_IGNORED)
    out = tmp_path / "out.json"
    if command == "run":
        args = [snakescope, "run", "--python", any_python.path, "-q", "-o", str(out), str(prog)]
    else:
        args = [snakescope, "record", "-q", "-o", str(out), "--", any_python.path, str(prog)]
    results = [subprocess.run(c, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                              timeout=RECORD_TIMEOUT, preexec_fn=_ignore_int_and_term)
               for c in ([any_python.path, str(prog)], args)]
    assert results[0].stdout == "survived True True\n"
    assert (results[1].returncode, results[1].stdout) == (0, results[0].stdout), results[1].stderr


@pytest.mark.parametrize("command", ["run", "record"])
def test_closed_stdout_and_stderr_pipe(snakescope, any_python, tmp_path, command):
    """`snakescope … 2>&1 | head -1`, summary on: the summary meets the closed
    pipe too; the status stays the program's and the capture is written."""
    prog = tmp_path / "prog.py"
    prog.write_text(WORK + "for i in range(200_000):\n    print(i)\n")
    out = tmp_path / "out.json"
    if command == "run":
        args = [snakescope, "run", "--python", any_python.path, "-o", str(out), str(prog)]
    else:
        args = [snakescope, "record", "-o", str(out), "--", any_python.path, str(prog)]
    codes = []
    for c in ([any_python.path, str(prog)], args):
        proc = subprocess.Popen(c, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        proc.stdout.readline()
        proc.stdout.close()
        codes.append(proc.wait(timeout=RECORD_TIMEOUT))
    assert codes[0] == codes[1] != 0
    _worked(out, codes[0])
