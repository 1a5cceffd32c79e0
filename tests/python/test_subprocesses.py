"""`snakescope record --subprocesses` and `run`: child processes, against ground truth.

The target, tests/scripts/pool_known.py, runs a Pool whose workers measure
the CPU time each spends in `task` (time.thread_time around the work) and
report it with their pids; the parent writes that, its own pid, a
grandchild's pid and a killed child's pid to a JSON file. The capture must
hold each of those processes under its pid, and each worker's share of the
samples in `task` must match the share of `task`'s CPU time it measured,
within the suite's statistical tolerance (support/loadgen.py: 4 binomial
sigma for the samples counted + 0.02).
"""

from __future__ import annotations

import json
import os

import pytest

from support import REPO, Capture, assert_share, record, run, script, target_env

# The pool of the share tests: 4 workers, or one per CPU when there are
# fewer. With more CPU-bound workers than CPUs each waits for one half of
# the time, and the scheduler counters that judge whether a sample was taken
# on a CPU (docs/architecture.md, "Idle, GIL and CPU time") err by up to
# 0.07-0.11 per worker on a loaded 2-CPU machine (measured: 4 workers on
# 2 CPUs), against 0.006 at most with 2 workers on 2 CPUs; the tests with
# 4 workers on any machine check pids, roles and processes, not shares.
SHARE_WORKERS = min(4, len(os.sched_getaffinity(0)))


def _record(snakescope, python, tmp_path, method, *extra, options=(), status=0):
    truth = tmp_path / "truth.json"
    command = [python.path, script("pool_known.py"), method, str(truth), *extra]
    result, cap = record(
        snakescope,
        command,
        tmp_path / "pool.json",
        options=["--subprocesses", *options],
        expect_status=status,
    )
    return result, cap, json.loads(truth.read_text())


def _pid_of(cap, stack):
    return stack.thread.get("pid")


def _check_worker_shares(cap, truth, what):
    workers = {int(pid): cpu for pid, cpu in truth["workers"].items()}
    in_task = {}
    for s in cap.stacks:
        if s.has("task"):
            in_task[_pid_of(cap, s)] = in_task.get(_pid_of(cap, s), 0) + s.count
    assert set(in_task) <= set(workers), (
        f"{what}: samples in `task` from pids {sorted(in_task)}, the workers that ran tasks were {sorted(workers)}"
    )
    n = sum(in_task.values())
    total_cpu = sum(workers.values())
    for pid, cpu in workers.items():
        assert_share(in_task.get(pid, 0), n, cpu / total_cpu, f"{what}: worker {pid}'s share of the samples in `task`")


def _processes(cap):
    return {p["pid"]: p for p in cap.data.get("processes", [])}


@pytest.mark.parametrize(
    "method, extra",
    [("fork", ()), ("spawn", ()), ("forkserver", ()), ("spawn", ("--executor",))],
    ids=["fork", "spawn", "forkserver", "executor"],
)
def test_pool_workers_shares_and_pids(any_python, snakescope, tmp_path, method, extra):
    # At snakescope's default rate (1000 Hz): the tasks use 2-3 s of CPU,
    # so some 2500 samples fall in `task`.
    workers = ("--workers", str(SHARE_WORKERS))
    _, cap, truth = _record(snakescope, any_python, tmp_path, method, *workers, *extra)
    processes = _processes(cap)
    assert processes[truth["main"]]["role"] == "main"
    assert cap.meta["pid"] == truth["main"]
    for pid in map(int, truth["workers"]):
        assert pid in processes, f"worker {pid} missing from {sorted(processes)}"
        assert processes[pid]["role"] == "pool worker", processes[pid]
        assert processes[pid]["samples"] > 0
    # Every thread names its process, and each process's count is its threads'.
    for pid, p in processes.items():
        mine = sum(t["samples"] for t in cap.threads if t["pid"] == pid)
        assert p["samples"] == mine
    _check_worker_shares(cap, truth, f"{method} {'executor' if extra else 'pool'}")


def test_grandchild_killed_child_and_exit_status(any_python, snakescope, tmp_path):
    result, cap, truth = _record(
        snakescope, any_python, tmp_path, "fork", "--grandchild", "--kill", "--exit", "3", status=3
    )
    processes = _processes(cap)
    grandchild = processes.get(truth["grandchild"])
    assert grandchild is not None, f"grandchild {truth['grandchild']} missing: {sorted(processes)}"
    assert grandchild["ppid"] == truth["grandchild_parent"]
    assert grandchild["role"] == "child"
    in_work = sum(s.count for s in cap.stacks if s.has("grandchild_work") and s.thread["pid"] == truth["grandchild"])
    assert in_work > 0, "the grandchild's work was not sampled"
    killed = processes.get(truth["killed"])
    assert killed is not None and killed["role"] == "worker", killed
    assert any(s.has("spin_forever") and s.thread["pid"] == truth["killed"] for s in cap.stacks)
    assert truth["not_python"] not in processes, "a `sleep` child has a row"
    assert processes[truth["main"]]["exit_code"] == 3 == cap.meta["exit_code"]
    for pid in map(int, truth["workers"]):
        assert processes[pid]["role"] == "pool worker" and processes[pid]["samples"] > 0


def test_views_per_process(any_python, snakescope, tmp_path):
    _, cap, truth = _record(snakescope, any_python, tmp_path, "fork", options=["--idle"])
    path = tmp_path / "pool.json"
    # The parent's main thread waits on the pool's results: idle, in multiprocessing.
    waiting = sum(s.count for s in cap.stacks if s.idle and s.thread["pid"] == truth["main"] and s.has("map"))
    assert waiting > 0, "the parent's wait for results is not in the capture"
    collapsed = run([snakescope, "report", "-f", "collapsed", str(path)]).stdout
    roots = {line.split(";", 1)[0] for line in collapsed.splitlines()}
    for pid in map(int, truth["workers"]):
        assert f"process {pid} (pool worker)" in roots, roots
    assert f"process {truth['main']} (main)" in roots
    text = run([snakescope, "report", str(path)]).stdout
    assert "Processes" in text and "child processes" in text, text
    worker = int(next(iter(truth["workers"])))
    only = run([snakescope, "report", "-f", "collapsed", "--pid", str(worker), str(path)]).stdout
    assert only and all(line.startswith("thread (") for line in only.splitlines()), only
    assert sum(int(line.rsplit(" ", 1)[1]) for line in only.splitlines()) == _processes(cap)[worker]["samples"]
    bad = run([snakescope, "report", "--pid", "1", str(path)])
    assert bad.returncode == 2 and "no samples of process 1" in bad.stderr


def test_one_process_capture_unchanged(any_python, snakescope, tmp_path):
    # Without --subprocesses nothing new is written: no table, no thread pids.
    truth = tmp_path / "truth.json"
    _, cap = record(
        snakescope,
        [any_python.path, script("pool_known.py"), "fork", str(truth)],
        tmp_path / "one.json",
        options=[],
    )
    assert "processes" not in cap.data
    assert all("pid" not in t for t in cap.threads)
    assert not any(s.has("task") for s in cap.stacks), "a worker's samples in the parent"


# --------------------------------------------------------------------------
# `snakescope run` follows child processes by default (from outside, while
# the agent samples the program), with the same ground truth.


def _run(snakescope, python, tmp_path, method, *extra, options=(), status=0):
    truth, out = tmp_path / "truth.json", tmp_path / "run.json"
    result = run([snakescope, "run", "--python", python.path, "-q", "-o", str(out), *options,
                  script("pool_known.py"), method, str(truth), *extra],
                 env=target_env({"PYTHONPATH": str(REPO / "python")}))
    assert result.returncode == status, result.stderr
    return Capture.load(out), json.loads(truth.read_text())


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_run_follows_pool_workers(any_python, snakescope, tmp_path, method):
    """Each worker under its pid and role, its share of `task` as measured
    inside it; a forked worker's stacks start at the program's frames (the
    bootstrap it inherits is left out: no snakescope or runpy frame); the
    main process keeps what only the agent records (memory)."""
    cap, truth = _run(snakescope, any_python, tmp_path, method, "--workers", str(SHARE_WORKERS))
    processes = _processes(cap)
    assert processes[truth["main"]]["role"] == "main" and cap.meta["pid"] == truth["main"]
    assert cap.meta["mode"] == "run" and cap.data.get("memory"), "the agent's sections are gone"
    for pid in map(int, truth["workers"]):
        assert processes[pid]["role"] == "pool worker" and processes[pid]["samples"] > 0, processes
    _check_worker_shares(cap, truth, f"run, {method} pool")
    own = {f["file"] for s in cap.stacks for f in s.frames if "/snakescope/" in f["file"]}
    assert not own, own
    # No runpy at a worker's root (a spawned worker's stacks pass through
    # runpy in multiprocessing's `_fixup_main_from_path`, not at their root,
    # and start with its interpreter's start-up); a forked one's start at
    # the program's `<module>`.
    roots = {(s.frames[0]["function"], s.frames[0]["file"]) for s in cap.stacks
             if s.thread["pid"] != truth["main"] and s.thread["name"] == "MainThread"}
    assert not any("runpy" in file for _, file in roots), roots
    if method == "fork":
        assert {name for name, _ in roots} == {"<module>"}, roots


def test_run_grandchild_killed_child_exit_status_and_opting_out(any_python, snakescope, tmp_path):
    cap, truth = _run(snakescope, any_python, tmp_path, "fork", "--grandchild", "--kill", "--exit", "3",
                      status=3)
    processes = _processes(cap)
    assert processes[truth["grandchild"]]["ppid"] == truth["grandchild_parent"]
    assert any(s.has("spin_forever") and s.thread["pid"] == truth["killed"] for s in cap.stacks)
    assert processes[truth["main"]]["exit_code"] == 3 == cap.meta["exit_code"]
    # --no-subprocesses: the program alone, as before.
    cap, truth = _run(snakescope, any_python, tmp_path, "fork", options=["--no-subprocesses"])
    assert "processes" not in cap.data
    assert not any(s.has("task") for s in cap.stacks), "a worker's samples in the parent"
