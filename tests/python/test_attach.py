"""`snakescope attach`: the in-process agent loaded into a running program
(ptrace call injection on 3.8–3.13, PEP 768's sys.remote_exec on 3.14+), run
for --duration, taken out again.

The target (tests/scripts/attach_target.py) beats a heartbeat until the
test, once the agent runs, tells it to do its known work (the 70/30 split of
split_70_30.py, or allocations of known sizes on known lines), then beats
again until told to exit. Ground truth:
- the capture's shares and per-line bytes are those of the work's
  construction (binomial tolerance; 1 % for exact memory totals);
- with or without an attach, the program prints the same and exits with the
  same status (3): attach and detach change nothing it can see;
- a second attach to the same process works (the package left imported by
  the first is reused).
The longest pause of the target's heartbeat is reported (`record_property`
and stdout), not asserted: timing stays out of pass/fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from support import (
    OLDER,
    QUICK_TIMEOUT,
    RECORD_TIMEOUT,
    ROOTED,
    SUPPORTED,
    Capture,
    assert_error,
    assert_share,
    expected_share,
    require_interpreter,
    script,
    target_env,
)
from support.processes import Result, run

KB = 1024
# 3.8, 3.11 and 3.13 from pyenv; the rooted 3.14 and 3.15 where present.
VERSIONS = (OLDER[0], SUPPORTED[0], SUPPORTED[2]) + tuple(i for i in ROOTED if i.id in ("sid-3.14", "sid-3.15"))


@pytest.fixture(params=VERSIONS, ids=[i.id for i in VERSIONS])
def python(request):
    return require_interpreter(request.param)


@pytest.fixture(scope="module")
def package() -> str:
    """The package `make develop` built, lent to the targets (which lack it)."""
    import snakescope

    return os.path.dirname(os.path.abspath(snakescope.__file__))


class Target:
    """attach_target.py in `mode`, driven through its control directory."""

    def __init__(self, spawn, python, tmp_path: Path, *args: str):
        self.control = tmp_path / f"control-{time.monotonic_ns()}"
        self.control.mkdir()
        self.proc = spawn([python.path, script("attach_target.py"), str(self.control), *args])
        self.proc.wait_for_file(self.control / "ready")

    def tell(self, name: str) -> None:
        (self.control / name).touch()

    def wait(self, name: str, timeout: float = RECORD_TIMEOUT) -> None:
        self.proc.wait_for_file(self.control / name, timeout)

    def finish(self) -> tuple[Result, dict]:
        self.tell("finish")
        result = self.proc.finish()
        return result, json.loads((self.control / "report.json").read_text())


def _plain_run(spawn, python, tmp_path, *args) -> Result:
    """The same program without any attach: what it prints and its status."""
    target = Target(spawn, python, tmp_path, *args)
    target.tell("go")
    target.wait("done")
    result, _ = target.finish()
    return result


class Attach:
    """`snakescope attach --pid PID ...` in the background; `started()`
    returns once it says the agent runs."""

    def __init__(self, snakescope, package, pid, out: Path, seconds: float, *options: str):
        self.err = out.with_suffix(".stderr")
        self.args = [snakescope, "attach", "--pid", str(pid), "--duration", f"{seconds:g}",
                     "-o", str(out), *options]
        with open(self.err, "wb") as err:
            self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=err, env=target_env({"SNAKESCOPE_PACKAGE": package}))
        self.timeout = seconds + RECORD_TIMEOUT

    def started(self) -> None:
        deadline = time.monotonic() + RECORD_TIMEOUT
        while "snakescope: attached to pid" not in self.err.read_text():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the agent did not start{self.finish().describe()}")
            time.sleep(0.01)

    def finish(self) -> Result:
        try:
            out, _ = self.popen.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            out, _ = self.popen.communicate()
        return Result(self.args, self.popen.returncode, out.decode(), self.err.read_text())


def _attach_around_work(snakescope, package, target: Target, out: Path, seconds: float, *options: str) -> Result:
    session = Attach(snakescope, package, target.proc.pid, out, seconds, *options)
    session.started()
    target.tell("go")
    target.wait("done")
    result = session.finish()
    assert result.returncode == 0, result.describe()
    assert "error" not in result.stderr and "Traceback" not in result.stderr, result.describe()
    return result


def _left_as_found(report: dict) -> None:
    """What the agent changed it put back: the program's state at the end
    equals its state before the attach (see attach_target.state)."""
    before, after = report["state"]
    assert after == before, f"the agent left a change behind: before {before}, after {after}"


def _report_pause(record_property, report: dict, what: str) -> None:
    attach, detach = (report[f"longest_gap_{when}_s"] * 1000 for when in ("attach", "detach"))
    record_property("longest_heartbeat_gap_attach_ms", round(attach, 2))
    record_property("longest_heartbeat_gap_detach_ms", round(detach, 2))
    print(f"{what}: longest heartbeat gap around the attach {attach:.1f} ms, around the detach {detach:.1f} ms")


def test_attach_samples_the_70_30_split(snakescope, package, python, spawn, tmp_path, record_property):
    """Sampling shares of work that starts after the attach, and the program
    unchanged: the same output and status as without the attach."""
    target = Target(spawn, python, tmp_path, "split", "1.5")
    out = tmp_path / "split.json"
    _attach_around_work(snakescope, package, target, out, 4.0)
    result, report = target.finish()
    cap = Capture.load(out)
    heavy = cap.count(lambda s: s.has("heavy"))
    either = cap.count(lambda s: s.has("heavy") or s.has("light"))
    assert_share(heavy, either, expected_share(report["cpu_share"], 0.7, "attach"), f"attach on {python.id}")
    assert cap.meta["pid"] == target.proc.pid
    plain = _plain_run(spawn, python, tmp_path, "split", "0.2")
    assert (result.returncode, result.stdout, result.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert result.returncode == 3
    _left_as_found(report)
    _report_pause(record_property, report, f"split on {python.id}")


def _by_line(cap: dict, key: str = "allocated_bytes") -> dict[tuple[str, int], int]:
    """Bytes per (file name, line), each site counted once per line on its stack."""
    out: dict[tuple[str, int], int] = {}
    for site in cap["memory"]["sites"]:
        for k in {(os.path.basename(cap["frames"][i]["file"]), cap["frames"][i]["line"]) for i in site["frames"]}:
            out[k] = out.get(k, 0) + site[key]
    return out


def _line_of(marker: str) -> int:
    lines = Path(script("attach_target.py")).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if marker in line)


def test_attach_memory_exact_per_line_and_twice(snakescope, package, python, spawn, tmp_path, record_property):
    """`--memory exact` from the attach on: each line's bytes within 1 % of
    what it allocates (blocks allocated before the attach are freed meanwhile
    and must not disturb anything); then a second attach to the same process;
    then the program ends as it would have."""
    target = Target(spawn, python, tmp_path, "memory")
    out = tmp_path / "memory.json"
    _attach_around_work(snakescope, package, target, out, 3.0, "--memory", "exact")
    second = tmp_path / "second.json"
    again = Attach(snakescope, package, target.proc.pid, second, 0.5)
    again_result = again.finish()
    assert again_result.returncode == 0, again_result.describe()
    assert Capture.load(second).meta["pid"] == target.proc.pid
    result, report = target.finish()
    cap = json.loads(out.read_text())
    Capture(cap)  # validated
    lines = _by_line(cap)
    keep, more = report["sizes"]
    for marker, expected in (("keep = [bytearray(100 * KB)", 200 * keep), ("more = [bytes(30 * KB)", 300 * more)):
        got = lines.get(("attach_target.py", _line_of(marker)), 0)
        assert abs(got - expected) <= 0.01 * expected, (marker, got, expected)
    assert all(site[k] >= 0 for site in cap["memory"]["sites"] for k in ("allocated_bytes", "freed_bytes"))
    plain = _plain_run(spawn, python, tmp_path, "memory")
    assert (result.returncode, result.stdout, result.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    _left_as_found(report)
    _report_pause(record_property, report, f"memory on {python.id}")


def test_attach_exact_counts_calls_of_the_split(snakescope, package, python, spawn, tmp_path, record_property):
    """`--exact` from the attach on: every round calls `heavy` once (7 calls
    of `work`) and `light` once (3), so the counts obey
    work = 7 heavy + 3 light, up to the calls running when the agent
    started or stopped (at most one unfinished `heavy` and `light` at each
    end: 20 calls of `work`)."""
    target = Target(spawn, python, tmp_path, "split", "1.0")
    out = tmp_path / "exact.json"
    _attach_around_work(snakescope, package, target, out, 3.0, "--exact")
    result, report = target.finish()
    cap = json.loads(out.read_text())
    calls = {}
    for f in cap["exact"]["functions"]:
        frame = cap["frames"][f["frame"]]
        if os.path.basename(frame["file"]) == "split_70_30.py":
            calls[frame["function"]] = f["calls"]
    assert calls.get("heavy", 0) > 10, calls
    assert abs(calls["work"] - (7 * calls["heavy"] + 3 * calls["light"])) <= 20, calls
    assert result.returncode == 3
    _left_as_found(report)
    _report_pause(record_property, report, f"exact on {python.id}")


def test_attach_refuses_a_process_that_is_not_python(snakescope, spawn, tmp_path):
    sleeper = spawn(["sleep", "30"])
    result = run([snakescope, "attach", "--pid", str(sleeper.pid), "--duration", "1", "-o",
                  str(tmp_path / "x.json")], timeout=QUICK_TIMEOUT)
    line, _ = assert_error(result)
    assert "python" in line.lower()
    assert sleeper.alive()


def test_attach_times_lines_of_a_function(snakescope, package, python, spawn, tmp_path, record_property):
    """`--lines split_70_30:heavy`: every call of `heavy` runs its `for` line
    8 times (7 iterations and the exit) and its `work(UNIT)` line 7 times,
    so 8 x hits(work line) = 7 x hits(for line), up to the calls cut by the
    start and the stop (one at each end: 16)."""
    target = Target(spawn, python, tmp_path, "split", "1.0")
    out = tmp_path / "lines.json"
    _attach_around_work(snakescope, package, target, out, 3.0, "--lines", "split_70_30:heavy")
    result, report = target.finish()
    cap = json.loads(out.read_text())
    (heavy,) = [f for f in cap["lines"]["functions"] if cap["frames"][f["frame"]]["function"] == "heavy"]
    hits = {row["line"]: row["hits"] for row in heavy["lines"]}
    first = cap["frames"][heavy["frame"]]["line"]
    loop, call = hits[first + 1], hits[first + 2]
    assert call > 50, hits
    assert abs(8 * call - 7 * loop) <= 16, hits
    assert result.returncode == 3
    _left_as_found(report)
    _report_pause(record_property, report, f"lines on {python.id}")


def test_attach_to_a_program_already_profiled_is_refused(snakescope, package, spawn, tmp_path):
    """A program under `snakescope run` has the agent already: the attach
    ends with the agent's one-line reason, and the program is unaffected."""
    import sys

    control = tmp_path / "control"
    control.mkdir()
    under_run = spawn([snakescope, "run", "--python", sys.executable, "-q", "-o", str(tmp_path / "run.json"),
                       script("attach_target.py"), str(control), "memory"],
                      env=target_env({"SNAKESCOPE_PACKAGE": package}))
    under_run.wait_for_file(control / "ready")
    pid = int(subprocess.run(["pgrep", "-f", "-P", str(under_run.pid), "attach_target.py"],
                             capture_output=True, text=True).stdout.split()[0])
    refused = Attach(snakescope, package, pid, tmp_path / "x.json", 1.0).finish()
    line, hint = assert_error(refused)
    assert "already profiling" in line and "record --pid" in (hint or ""), refused.describe()
    (control / "go").touch()
    under_run.wait_for_file(control / "done")
    (control / "finish").touch()
    assert under_run.finish().returncode == 3


def test_attach_reports_a_target_that_exits_first(snakescope, package, spawn, tmp_path):
    """The program ends during --duration: one error line saying so."""
    import sys

    class Python:
        path = sys.executable

    target = Target(spawn, Python, tmp_path, "memory")
    session = Attach(snakescope, package, target.proc.pid, tmp_path / "x.json", 30.0)
    session.started()
    target.tell("go")
    target.wait("done")
    target.finish()
    ended = session.finish()
    banner, *rest = ended.stderr.splitlines(keepends=True)
    assert banner.startswith("snakescope: attached to pid"), ended.describe()
    line, _ = assert_error(Result(ended.args, ended.returncode, ended.stdout, "".join(rest)))
    assert "exited before" in line


# A tracer that seizes a process (PTRACE_SEIZE does not stop it) and holds it
# until killed: the process then cannot be traced by anyone else.
HOLDER = """
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(0x4206, int(sys.argv[1]), None, None) != 0:
    sys.exit("seize failed: %d" % ctypes.get_errno())
print("held", flush=True)
time.sleep(120)
"""


def test_attach_refuses_without_ptrace_permission(snakescope, package, spawn, tmp_path):
    """A process another tracer holds cannot be ptraced: one error line naming
    the cause, the fallback in the hint, the program unaffected."""
    import sys

    class Python:
        path = sys.executable

    target = Target(spawn, Python, tmp_path, "memory")
    holder = spawn([sys.executable, "-c", HOLDER, str(target.proc.pid)])
    holder.wait_for_line("held")
    refused = Attach(snakescope, package, target.proc.pid, tmp_path / "x.json", 1.0).finish()
    line, hint = assert_error(refused)
    assert "not permitted to ptrace" in line and "record --pid" in (hint or ""), refused.describe()
    holder.kill()
    target.tell("go")
    target.wait("done")
    result, report = target.finish()
    assert result.returncode == 3
    _left_as_found(report)


PEP768 = tuple(i for i in ROOTED if i.id in ("sid-3.14", "sid-3.15"))


OPT_OUTS = [{"env": {"PYTHON_DISABLE_REMOTE_DEBUG": "1"}}, {"flags": ["-X", "disable_remote_debug"]}]


@pytest.mark.parametrize("optout", OPT_OUTS, ids=["env", "X-flag"])
@pytest.mark.parametrize("interp", PEP768, ids=[i.id for i in PEP768])
def test_attach_honours_pep_768_opt_outs(snakescope, package, spawn, tmp_path, interp, optout):
    """3.14+: a process that opted out of remote debugging is refused with
    one line naming how it opted out, and runs on unaffected."""
    python = require_interpreter(interp)
    control = tmp_path / "control"
    control.mkdir()
    proc = spawn([python.path, *optout.get("flags", []), script("attach_target.py"), str(control), "memory"],
                 env=target_env(optout.get("env")))
    proc.wait_for_file(control / "ready")
    line, hint = assert_error(Attach(snakescope, package, proc.pid, tmp_path / "x.json", 1.0).finish())
    assert "does not allow debuggers" in line and "record --pid" in (hint or "")
    for name in ("go", "finish"):
        (control / name).touch()
    assert proc.finish().returncode == 3
