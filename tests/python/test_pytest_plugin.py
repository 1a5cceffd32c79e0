"""The pytest plugin (`snakescope._pytest`, entry point `pytest11`), driven
by `pytester`: inner pytest sessions whose tests' memory and time are known
by construction (a 50 MB bytearray, a busy loop of 0.5 s).

Budgets are set far from the measured values (20 MB or 200 MB against 50 MB;
50 ms or 30 s against 0.5 s of work), so a slow or loaded machine does not
change the verdict.
"""

from __future__ import annotations

import json
import re
import sys

import pytest

from snakescope._budget import format_size, parse_size, parse_time

pytest_plugins = ["pytester"]

# Inner test modules: a 50 MB bytearray and a busy loop under the budgets each test names.
BUDGETS = '''
import time

import pytest


def busy(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


@pytest.mark.snakescope(max_memory={memory!r})
def test_alloc():
    data = bytearray(50 * 1000 * 1000)
    assert len(data) == 50_000_000


@pytest.mark.snakescope(max_time={seconds!r})
def test_busy():
    assert busy(0.5) > 0
'''


def lines_of(path, *needles: str) -> set[int]:
    """The numbers of the lines of `path` that hold one of `needles`."""
    text = path.read_text().splitlines()
    return {i for i, line in enumerate(text, 1) if any(n in line for n in needles)}


def outcomes(result) -> dict[str, str]:
    """Test name -> passed/failed, from the -rA short summary."""
    found = {}
    for line in result.outlines:
        m = re.match(r"(PASSED|FAILED) \S+::(\w+)", line)
        if m:
            found[m.group(2)] = m.group(1).lower()
    return found


def test_budgets_fail_a_test_beyond_them_naming_the_site(pytester):
    path = pytester.makepyfile(test_budgets=BUDGETS.format(memory="20 MB", seconds="50 ms"))
    result = pytester.runpytest("-rA", "-p", "no:cacheprovider")
    assert outcomes(result) == {"test_alloc": "failed", "test_busy": "failed"}, result.stdout.str()
    out = result.stdout.str()
    memory = re.search(r"snakescope: peak memory ([\d.]+) MB exceeds max_memory=\"20 MB\"; "
                       r"top allocation site: test_budgets.py:(\d+) test_alloc \(([\d.]+) MB at the peak\)", out)
    assert memory, out
    # The bytearray's 50,000,000 bytes (an estimate from samples one per 4,882 bytes on average).
    assert {int(memory.group(2))} == lines_of(path, "bytearray(")
    assert 45 <= float(memory.group(1)) <= 60 and 45 <= float(memory.group(3)) <= 60, memory.group(0)
    time_ = re.search(r"snakescope: wall time ([\d.]+) (ms|s) exceeds max_time=\"50 ms\"; "
                      r"hottest line: test_budgets.py:(\d+) busy \((\d+)% of the samples\)", out)
    assert time_, out
    assert int(time_.group(3)) in lines_of(path, "while time.perf_counter", "n += 1"), time_.group(0)


def test_budgets_pass_a_test_within_them(pytester):
    pytester.makepyfile(test_budgets=BUDGETS.format(memory="200 MB", seconds="30 s"))
    result = pytester.runpytest("-rA", "-p", "no:cacheprovider")
    assert outcomes(result) == {"test_alloc": "passed", "test_busy": "passed"}, result.stdout.str()
    assert "snakescope:" not in result.stdout.str()


def test_a_failing_test_keeps_its_own_failure(pytester):
    pytester.makepyfile(test_own='''
import pytest

@pytest.mark.snakescope(max_memory="1 KiB")
def test_fails_itself():
    data = bytearray(10 << 20)
    assert not data, "its own assertion"
''')
    result = pytester.runpytest("-rA", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "its own assertion" in result.stdout.str()
    assert "exceeds max_memory" not in result.stdout.str()


def test_bad_budgets_fail_the_test_with_one_clear_line(pytester):
    pytester.makepyfile(test_bad='''
import pytest

@pytest.mark.snakescope(max_time="fast")
def test_time():
    pass

@pytest.mark.snakescope(max_memory="100 XB")
def test_memory():
    pass

@pytest.mark.snakescope(limit="1 MB")
def test_name():
    pass
''')
    result = pytester.runpytest("-rA", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    assert "@pytest.mark.snakescope: max_time='fast' is not a time" in out
    assert "@pytest.mark.snakescope: max_memory='100 XB' is not a size" in out
    assert "@pytest.mark.snakescope: takes max_memory= and max_time= only, not ['limit']" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("text, expected", [
    ("100 MB", 100_000_000), ("1.5 GiB", 3 << 29), ("512 KiB", 512 << 10), ("512KiB", 512 << 10),
    ("20 mb", 20_000_000), ("7", 7), (1024, 1024), (2.5e6, 2_500_000),
])
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("2 s", 2.0), ("150 ms", 0.15), ("150ms", 0.15), ("0.5", 0.5), (3, 3.0), ("1 min", 60.0), ("250 us", 250e-6),
])
def test_times(text, expected):
    assert parse_time(text) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["fast", "100 XB", "-1 MB", "0 MB", "", "1e3 MB", True, None, [1]])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="max_memory="):
        parse_size(bad)


@pytest.mark.parametrize("bad", ["soon", "2 h", "0 s", -1, True])
def test_bad_times_are_refused(bad):
    with pytest.raises(ValueError, match="max_time="):
        parse_time(bad)


def test_sizes_are_shown_in_the_units_of_the_budget():
    assert format_size(50_000_000, "20 MB") == "50.0 MB"
    assert format_size(50 << 20, "20 MiB") == "50.0 MiB"
    assert format_size(50 << 20, 1000) == "50.0 MiB"
    assert format_size(512) == "512 B"


def test_session_profile_names_the_hot_test_function(pytester):
    pytester.makepyfile(test_hot='''
import time

def hot_test_function(seconds):
    end = time.process_time() + seconds
    n = 0
    while time.process_time() < end:
        n += 1
    return n

def test_hot():
    assert hot_test_function(0.6) > 0

def test_quick():
    assert sum(range(10)) == 45
''')
    # A process of its own: in this one, this session's frames would be at the root of the stacks.
    result = pytester.runpytest_subprocess("--snakescope", "--snakescope-dir", "prof", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "snakescope: wrote prof/session.json" in out and "snakescope: wrote prof/session.html" in out, out
    data = json.loads((pytester.path / "prof" / "session.json").read_text())
    # 0.6 s of CPU in hot_test_function against pytest's own work (collection, reporting).
    self_samples: dict[str, int] = {}
    for stack in data["stacks"]:
        leaf = data["frames"][stack["frames"][-1]]
        self_samples[leaf["function"]] = self_samples.get(leaf["function"], 0) + stack["count"]
    top = max(self_samples, key=self_samples.get)
    assert top == "hot_test_function", sorted(self_samples.items(), key=lambda kv: -kv[1])[:5]
    command = data["meta"]["command"]
    assert command[0] == "pytest" and "--snakescope" in command and data["meta"]["exit_code"] == 0, command
    # What was below the session when it started (`python -m pytest`'s runpy, pytest's entry
    # point, its session loop, pluggy) is left out: stacks start in what those called.
    roots = {data["frames"][s["frames"][0]]["file"] for s in data["stacks"]}
    below = ("runpy", "pytest/__main__.py", "_pytest/main.py", "_pytest/config/__init__.py", "/pluggy/")
    assert roots and not any(part in f for f in roots for part in below), roots
    html = (pytester.path / "prof" / "session.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "hot_test_function" in html


def test_per_test_ranks_tests_by_time_and_by_memory(pytester):
    pytester.makepyfile(test_rank='''
import time

def test_slow():
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:
        pass

def test_big():
    data = bytearray(40 * 1000 * 1000)
    assert data is not None

def test_small():
    assert 1 + 1 == 2
''')
    result = pytester.runpytest("--snakescope-per-test", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    lines = result.outlines
    start = next(i for i, ln in enumerate(lines) if "snakescope: tests by time and by memory" in ln)
    slowest = lines.index("slowest (wall time):", start)
    most = lines.index("most memory (peak):", start)
    by_time = [ln.split()[-1] for ln in lines[slowest + 2:most]]
    by_memory = [ln.split()[-1] for ln in lines[most + 2:most + 5]]
    assert by_time[0] == "test_rank.py::test_slow", lines[start:]
    assert by_memory[0] == "test_rank.py::test_big", lines[start:]
    assert sorted(by_time) == sorted(by_memory) == sorted(
        f"test_rank.py::test_{n}" for n in ("slow", "big", "small"))


def test_session_profile_and_budgets_exclude_each_other(pytester):
    pytester.makepyfile(test_marked=BUDGETS.format(memory="200 MB", seconds="30 s"))
    result = pytester.runpytest("--snakescope", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "deselect them with -m 'not snakescope'" in result.stderr.str()
    # Deselected, they are no obstacle.
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    rest = pytester.runpytest("--snakescope", "-m", "not snakescope", "-p", "no:cacheprovider")
    rest.assert_outcomes(passed=1, deselected=2)
    assert (pytester.path / ".snakescope" / "session.json").is_file()
    both = pytester.runpytest("--snakescope", "--snakescope-per-test", "-p", "no:cacheprovider")
    assert both.ret == pytest.ExitCode.USAGE_ERROR
    assert "give one of them" in both.stderr.str()


def test_inactive_unless_asked(pytester):
    # A fresh interpreter: whether the native module was imported is its own.
    pytester.makepyfile(test_plain='''
import sys

def test_plain(request):
    assert request.config.pluginmanager.has_plugin("snakescope"), "the plugin is not loaded"
    assert "snakescope._pytest" in sys.modules
    assert "snakescope._native" not in sys.modules
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    # Nothing of snakescope's but the header's list of plugins.
    assert [ln for ln in result.outlines if "snakescope" in ln.lower()] == [
        ln for ln in result.outlines if ln.startswith("plugins:")], result.outlines
    assert not (pytester.path / ".snakescope").exists()
    assert sys.modules.get("snakescope._pytest") is not None  # and in this session too


def test_a_profiler_already_running_is_said_in_one_line(pytester):
    # As under `snakescope run -m pytest`: the process's one sampler is taken.
    pytester.makeconftest('''
from snakescope import _native

def pytest_configure(config):
    _native.start()

def pytest_unconfigure(config):
    _native.stop_capture()
''')
    pytester.makepyfile(test_taken=BUDGETS.format(memory="200 MB", seconds="30 s"))
    result = pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider")
    assert outcomes(result) == {"test_alloc": "failed", "test_busy": "failed"}, result.stdout.str()
    result.stdout.fnmatch_lines(["snakescope: cannot measure the test against its budget: "
                                 "the snakescope sampler is already running"])
    session = pytester.runpytest_subprocess("--snakescope", "-p", "no:cacheprovider", "-k", "nothing")
    assert session.ret == pytest.ExitCode.USAGE_ERROR
    session.stderr.fnmatch_lines(["ERROR: --snakescope: the snakescope sampler is already running"])
