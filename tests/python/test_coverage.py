"""A CPU profile says when it leaves out most of what the program did
(issue 21, first step): a program that sleeps is on a CPU for a few per
cent of the time sampled, a busy loop for all of it."""

from __future__ import annotations

import sys

from support import Capture, run, script, target_env

NOTE = "note: the program's threads were on a CPU for"


def _record(snakescope: str, tmp_path, *options: str, code: str):
    r = run([snakescope, "record", *options, "-o", str(tmp_path / "c.json"), "--", sys.executable, "-c", code],
            env=target_env())
    assert r.returncode == 0, r.describe()
    return r


def test_a_sleeping_program_is_told_its_waiting_is_not_in_the_profile(snakescope, tmp_path):
    r = _record(snakescope, tmp_path, code="import time; time.sleep(1)")
    (line,) = [line for line in r.stderr.splitlines() if NOTE in line]
    share = float(line.split(NOTE, 1)[1].split("%", 1)[0])
    # A 1 s sleep after ~20-50 ms of start-up: well under half on a CPU.
    assert share < 20, line
    assert "--idle samples wall time" in line


def test_a_busy_program_gets_the_note_only_when_the_machine_starved_it(snakescope, tmp_path):
    r = _record(snakescope, tmp_path, code=f"exec(open({script('split_70_30.py')!r}).read())")
    cap = Capture.load(tmp_path / "c.json")
    meta = cap.meta
    coverage = sum(s.count for s in cap.stacks) / (meta["ticks"] - meta["lost_ticks"])
    # The program's own CPU time over the wall time (rusage) says the same:
    # about 1 on an idle machine, less when other processes took the CPUs.
    cpu_share = (meta["user_s"] + meta["sys_s"]) / meta["duration_s"]
    assert abs(coverage - cpu_share) <= 0.15, (coverage, cpu_share)
    assert (NOTE in r.stderr) == (coverage < 0.5), (coverage, r.stderr)


def test_wall_time_profiles_get_no_note(snakescope, tmp_path):
    r = _record(snakescope, tmp_path, "--idle", code="import time; time.sleep(0.5)")
    assert NOTE not in r.stderr, r.stderr


def test_diff_says_when_a_side_left_its_waiting_out(snakescope, tmp_path):
    sleepy = tmp_path / "sleepy.json"
    busy = tmp_path / "busy.json"
    for out, code in ((sleepy, "import time; time.sleep(0.6)"),
                      (busy, f"exec(open({script('split_70_30.py')!r}).read().replace('2.0', '0.5'))")):
        r = run([snakescope, "record", "-q", "-o", str(out), "--", sys.executable, "-c", code], env=target_env())
        assert r.returncode == 0, r.describe()
    r = run([snakescope, "diff", str(sleepy), str(busy)], env=target_env())
    assert r.returncode == 0, r.describe()
    notes = [line for line in r.stdout.splitlines() if "threads were on a CPU for" in line]
    expected = [side for side, path in (("before", sleepy), ("after", busy))
                if Capture.load(path).total / _sampled_ticks(path) < 0.5]
    assert "before" in expected, "a 0.6 s sleep keeps the thread off a CPU for most of the time"
    assert [n.split("the ", 1)[1].split(" run", 1)[0] for n in notes] == expected, r.stdout


def _sampled_ticks(path) -> int:
    meta = Capture.load(path).meta
    return meta["ticks"] - meta["lost_ticks"]
