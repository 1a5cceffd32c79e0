"""`record --stat` and `run --stat`: the figures `snakescope stat` measures,
kept in the capture's `stat` section and shown in its reports, against
tests/scripts/stat_known.py (a process tree whose faults, RSS and CPU time
are known by construction), with the sampler's own work left out of the
counters."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import REPO, assert_error, run, script, target_env, validate_capture

PAGE = 4096
MIB = 64
BURN = 0.3


def _capture(snakescope: str, tmp_path, command: str, *options: str) -> tuple:
    """Runs stat_known.py under `record` or `run` with --stat; (result, capture, truth)."""
    truth_path, out = tmp_path / "truth.json", tmp_path / "cap.json"
    known = [script("stat_known.py"), str(truth_path), str(MIB), str(BURN)]
    if command == "record":
        line = [snakescope, "record", "--stat", "-q", "-o", str(out), *options, "--", sys.executable, *known]
    else:
        line = [snakescope, "run", "--python", sys.executable, "--stat", "-q", "-o", str(out), *options, *known]
    r = run(line, env=target_env({"PYTHONPATH": str(REPO / "python")}))
    assert r.returncode == 0, r.describe()
    assert r.stdout == "done\n", "the program's stdout must be its own"
    cap = json.loads(out.read_text())
    validate_capture(cap)
    return r, cap, json.loads(truth_path.read_text())


def _figures(cap: dict) -> dict:
    return {f["name"]: f for f in cap["stat"]["figures"]}


@pytest.mark.parametrize("command", ["record", "run"])
def test_the_known_tree_in_the_capture(snakescope, tmp_path, command):
    _, cap, truth = _capture(snakescope, tmp_path, command)
    f = _figures(cap)
    pages = truth["bytes"] // PAGE
    assert f["minor faults"]["value"] >= pages, (f["minor faults"], pages)
    assert f["max RSS"]["value"] >= truth["bytes"], f["max RSS"]
    cpu = f["user"]["value"] + f["sys"]["value"]
    # The tree's time holds the child's burn and the parent's filling, both
    # inside what is counted (record: the whole command; run: from the
    # program's first line, so the interpreter's start is not in it).
    assert cpu >= BURN, f
    assert f["wall"]["value"] >= BURN * 0.5, f
    # task-clock counts the same threads and processes the child's burn ran in.
    task = f["task-clock"]["value"]
    assert task >= BURN * 0.95, (task, f)
    if command == "record":
        assert cpu >= truth["cpu_s"] - 0.01, (cpu, truth)
        assert "snakescope's sampler is not counted" in cap["stat"]["scope"]
    else:
        assert "the sampler:" in cap["stat"]["scope"]


@pytest.mark.parametrize("command", ["record", "run"])
def test_the_sampler_is_not_in_the_counters(snakescope, tmp_path, command):
    """At 10 kHz the sampler takes far more than the tolerance of CPU: were it
    counted, task-clock would pass the program's own CPU time. `record`'s
    sampler runs in snakescope's process (not in the tree's rusage), `run`'s
    in the program's (in its rusage, not in the counters): either way
    task-clock stays at or below the tree's CPU time."""
    _, cap, _ = _capture(snakescope, tmp_path, command, "--rate", "10000")
    f = _figures(cap)
    cpu = f["user"]["value"] + f["sys"]["value"]
    task = f["task-clock"]["value"]
    assert task <= cpu * 1.05 + 0.02, (task, cpu, cap["stat"]["scope"])
    if command == "run":
        sampler = float(cap["stat"]["scope"].split("the sampler: ")[1].split(" s")[0])
        assert sampler > 0.0
        # The tree's CPU time (rusage) includes the sampler's; the counters do not.
        assert task <= cpu - sampler * 0.5 + 0.02, (task, cpu, sampler)


def test_the_reports_show_the_figures(snakescope, tmp_path):
    _, cap, _ = _capture(snakescope, tmp_path, "record")
    path = tmp_path / "cap.json"
    text = subprocess.run([snakescope, "report", str(path), "--format", "text"], capture_output=True, text=True,
                          timeout=60)
    assert text.returncode == 0, text.stderr
    section = text.stdout.split("Stat: times, faults, switches, counters")[1]
    assert "minor faults" in section and cap["stat"]["scope"] in section
    missing = [f for f in cap["stat"]["figures"] if "value" not in f]
    for reason in {f["not_available"] for f in missing}:
        # One line per reason, naming every figure missing for it.
        names = ", ".join(f["name"] for f in missing if f["not_available"] == reason)
        assert f"  {names}: {reason}\n" in section
    html = tmp_path / "cap.html"
    r = subprocess.run([snakescope, "report", str(path), "-o", str(html)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert '<section id="stat"><h2>Stat</h2>' in html.read_text()


def test_without_stat_there_is_no_section(snakescope, tmp_path):
    out = tmp_path / "cap.json"
    r = run([snakescope, "record", "-q", "-o", str(out), "--", sys.executable, "-c", "pass"], env=target_env())
    assert r.returncode == 0, r.describe()
    assert "stat" not in json.loads(out.read_text())


def test_the_exit_status_is_kept(snakescope, tmp_path):
    out = tmp_path / "cap.json"
    r = run([snakescope, "record", "--stat", "-q", "-o", str(out), "--", sys.executable, "-c",
             "print('out'); import sys; sys.exit(3)"], env=target_env())
    assert r.returncode == 3, r.describe()
    assert r.stdout == "out\n"
    assert json.loads(out.read_text())["stat"]["figures"][0]["name"] == "wall"


def test_stat_with_pid_is_refused(snakescope):
    r = run([snakescope, "record", "--stat", "--pid", "1"], env=target_env())
    error, hint = assert_error(r)
    assert "--stat" in error and "--pid" in error and "record --stat --" in hint
