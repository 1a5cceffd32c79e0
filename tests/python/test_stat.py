"""`snakescope stat`: time, memory, faults and counters of a process tree,
against a program whose use of them is known by construction
(tests/scripts/stat_known.py), and the command's own behaviour kept."""

from __future__ import annotations

import json
import signal
import sys

from support import assert_error, run, script, target_env

PAGE = 4096
MIB = 64


def _stat(snakescope: str, tmp_path, *options: str, command: list[str]) -> tuple:
    report = tmp_path / "stat.json"
    r = run([snakescope, "stat", "--json", "-o", str(report), *options, "--", *command], env=target_env())
    return r, (json.loads(report.read_text()) if report.exists() else None)


def _figures(report: dict) -> dict:
    return {f["name"]: f for f in report["figures"]}


def test_known_tree(snakescope, tmp_path):
    truth_path = tmp_path / "truth.json"
    r, report = _stat(snakescope, tmp_path,
                      command=[sys.executable, script("stat_known.py"), str(truth_path), str(MIB), "0.3"])
    assert r.returncode == 0, r.describe()
    assert r.stdout == "done\n", "the command's stdout must be its own"
    truth = json.loads(truth_path.read_text())
    f = _figures(report)
    (faults,) = f["minor faults"]["values"]
    assert faults >= truth["bytes"] // PAGE, f"{faults} minor faults for {truth['bytes'] // PAGE} pages touched"
    (rss,) = f["max RSS"]["values"]
    assert rss >= truth["bytes"], f"max RSS {rss} below the {truth['bytes']} bytes the parent filled"
    (user,), (system,) = f["user"]["values"], f["sys"]["values"]
    # The tree's CPU time includes the child's 0.3 s (rusage of waited-for
    # children) and both interpreters' start and exit, which process_time
    # does not see: never less than the truth.
    assert user + system >= truth["cpu_s"] - 0.01, (user, system, truth)
    (wall,) = f["wall"]["values"]
    assert wall >= truth["cpu_s"] * 0.5, "two processes one after the other cannot overlap much"
    # task-clock counts the same tree (plus snakescope's fork of it).
    (task,) = f["task-clock"]["values"]
    assert abs(task - (user + system)) <= 0.05 * (user + system) + 0.02, (task, user, system)


def test_hardware_counters_or_the_reason(snakescope, tmp_path):
    r, report = _stat(snakescope, tmp_path, command=[sys.executable, "-c", "sum(range(10**6))"])
    assert r.returncode == 0, r.describe()
    f = _figures(report)
    for name in ("cycles", "instructions", "cache-references", "cache-misses", "branches", "branch-misses"):
        if f[name]["values"]:
            assert f[name]["values"][0] > 0, f[name]
        else:
            why = f[name]["not_available"]
            assert why.startswith(("not supported:", "not allowed:", "not counted:")), why
    if f["cycles"]["values"] and f["instructions"]["values"]:
        assert f["IPC"]["values"][0] == f["instructions"]["values"][0] / f["cycles"]["values"][0]
    else:
        assert f["IPC"]["not_available"]


def test_repeated_runs_are_summarised(snakescope, tmp_path):
    r, report = _stat(snakescope, tmp_path, "-r", "3", command=[sys.executable, "-c", "pass"])
    assert r.returncode == 0, r.describe()
    assert report["runs"] == 3 and report["exit_status"] == [0, 0, 0]
    for fig in report["figures"]:
        if fig["values"]:
            s = fig["summary"]
            assert len(fig["values"]) == s["values"] == 3, fig
            assert s["min"] == min(fig["values"]) and s["min"] <= s["median"] <= max(fig["values"])


def test_text_report_on_stderr_and_the_exit_status_kept(snakescope):
    r = run([snakescope, "stat", "--", sys.executable, "-c", "print('out'); import sys; sys.exit(3)"],
            env=target_env())
    assert r.returncode == 3, r.describe()
    assert r.stdout == "out\n"
    assert "exit status 3" in r.stderr and "minor faults" in r.stderr and "task-clock" in r.stderr


def test_death_by_signal_is_mirrored(snakescope):
    r = run([snakescope, "stat", "--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"],
            env=target_env())
    assert r.returncode == -signal.SIGTERM, r.describe()
    assert "killed by signal 15" in r.stderr


def test_a_command_that_does_not_exist(snakescope, tmp_path):
    r = run([snakescope, "stat", "--", str(tmp_path / "nothing-here")], env=target_env())
    error, hint = assert_error(r)
    assert "cannot run" in error and hint


def test_the_command_needs_no_double_dash_and_keeps_its_options(snakescope, tmp_path):
    report = tmp_path / "s.json"
    r = run([snakescope, "stat", "--json", "-o", str(report), sys.executable, "-c",
             "import sys; print(sys.argv[1:])", "-r", "3", "--json"], env=target_env())
    assert r.returncode == 0, r.describe()
    assert r.stdout == "['-r', '3', '--json']\n"
    assert json.loads(report.read_text())["runs"] == 1
