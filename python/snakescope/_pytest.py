"""The pytest plugin (entry point ``pytest11``: ``snakescope``), off unless asked:

* ``--snakescope``: the whole session under the sampling profiler; writes
  ``session.json`` (the capture) and ``session.html`` (the report) into
  ``--snakescope-dir`` (default ``.snakescope``), named in the summary.
* ``--snakescope-per-test``: each test's call measured (wall time, CPU time,
  peak memory), ranked in the summary.
* ``@pytest.mark.snakescope(max_memory="100 MB", max_time="2 s")``: the test's
  call runs under the profiler with memory tracking; beyond a budget it
  fails, naming the top allocation site or the hottest line.

Only the options and the marker are declared in every session; the native
extension is imported, and a hook added, only when one of them is used. One
in-process profiler runs at a time, so the session profile and per-test
measurement (the table, the budgets) exclude each other.
"""

import os
import sys
import time

import pytest

_MARKER = "snakescope"
_TABLE_ROWS = 10


def pytest_addoption(parser):
    group = parser.getgroup("snakescope", "snakescope profiling")
    group.addoption("--snakescope", action="store_true", default=False,
                    help="profile the whole session: write a capture and an HTML report into --snakescope-dir")
    group.addoption("--snakescope-dir", metavar="DIR", default=".snakescope",
                    help="where --snakescope writes session.json and session.html (default: .snakescope)")
    group.addoption("--snakescope-per-test", action="store_true", default=False,
                    help="measure each test's call (wall time, CPU, peak memory) and rank the tests")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", f"{_MARKER}(max_memory=None, max_time=None): fail the test when its call's peak memory "
                   "(\"100 MB\", \"1.5 GiB\", bytes) or wall time (\"2 s\", \"150 ms\", seconds) exceeds the budget")
    session, per_test = config.getoption("snakescope"), config.getoption("snakescope_per_test")
    if session and per_test:
        raise pytest.UsageError("--snakescope and --snakescope-per-test both need snakescope's one in-process "
                                "profiler: give one of them")
    if session:
        config.pluginmanager.register(SessionProfile(config), "snakescope-session")
    elif per_test:
        config.pluginmanager.register(PerTest(config, table=True), "snakescope-per-test")


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected
def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker(_MARKER) is not None]
    if not marked:
        return
    if config.pluginmanager.has_plugin("snakescope-session"):
        raise pytest.UsageError(
            f"--snakescope profiles the whole session with snakescope's one in-process profiler, and "
            f"{len(marked)} test(s) marked {_MARKER}(...) need it on their own (first: {marked[0].nodeid}): "
            f"deselect them with -m 'not {_MARKER}', or leave out --snakescope")
    if not config.pluginmanager.has_plugin("snakescope-per-test"):
        config.pluginmanager.register(PerTest(config, table=False), "snakescope-per-test")


class SessionProfile:
    """``--snakescope``: one sampling profile of the session."""

    def __init__(self, config):
        self.config = config
        self.profiler = None
        self.written = []
        self.error = None

    def pytest_sessionstart(self, session):
        from snakescope._api import Profiler

        profiler = Profiler()
        # pytest's own frames below this hook (its entry point, pluggy) are
        # the root of every stack: left out.
        profiler._hide_callers()
        try:
            profiler.start()
        except (RuntimeError, ValueError) as exc:  # e.g. already profiled by `snakescope run`
            raise pytest.UsageError(f"--snakescope: {exc}") from None
        self.profiler = profiler

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.profiler is None:
            return
        self.profiler.stop()
        capture = self.profiler.capture()
        # The report's header: the pytest command, its exit status, the process's CPU times.
        capture.finish_run(["pytest", *map(str, self.config.invocation_params.args)], int(exitstatus))
        directory = os.path.join(str(self.config.invocation_params.dir), self.config.getoption("snakescope_dir"))
        try:
            os.makedirs(directory, exist_ok=True)
            for name in ("session.json", "session.html"):
                path = os.path.join(directory, name)
                capture.save(path)
                self.written.append(path)
        except (OSError, ValueError, RuntimeError) as exc:
            self.error = str(exc)

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        tr.section("snakescope")
        if self.error:
            tr.line(f"snakescope: could not write the session profile: {self.error}", red=True)
        for path in self.written:
            tr.line(f"snakescope: wrote {os.path.relpath(path)}")


class PerTest:
    """Each test's call under the profiler (memory on): the budgets of
    marked tests, and with ``--snakescope-per-test`` the ranking."""

    def __init__(self, config, table):
        self.config = config
        self.table = table
        self.rows = []  # (nodeid, wall s, CPU s, peak bytes)
        self.root = str(config.rootpath)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        marker = item.get_closest_marker(_MARKER)
        try:
            budget = _budget_of(marker) if marker is not None else None
        except ValueError as exc:
            outcome = yield
            _fail(outcome, f"@pytest.mark.{_MARKER}: {exc}")
            return
        if budget is None and not self.table:
            yield
            return
        profiler = _profiler(budget)
        try:
            profiler.start()
        except (RuntimeError, ValueError) as exc:  # another profiler runs (the test's own, `snakescope run`)
            outcome = yield
            if budget is not None and outcome.excinfo is None:
                _fail(outcome, f"snakescope: cannot measure the test against its budget: {exc}")
            return
        cpu0, wall0 = time.process_time(), time.perf_counter()
        try:
            outcome = yield
        finally:
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            profiler.stop()
        data = profiler.capture().to_dict()
        peak = (data.get("memory") or {}).get("peak_bytes", 0)
        self.rows.append((item.nodeid, wall, cpu, peak))
        if budget is not None and outcome.excinfo is None:
            over = _over_budget(budget, wall, peak, data, self.root)
            if over:
                _fail(outcome, over)

    def pytest_terminal_summary(self, terminalreporter):
        if not self.table or not self.rows:
            return
        from snakescope._budget import format_size, format_time

        tr = terminalreporter
        tr.section("snakescope: tests by time and by memory (the test call, without fixtures)")
        for title, key in (("slowest (wall time)", 1), ("most memory (peak)", 3)):
            tr.line(f"{title}:")
            tr.line(f"  {'wall':>9} {'CPU':>9} {'peak':>10}  test")
            for nodeid, wall, cpu, peak in sorted(self.rows, key=lambda r: -r[key])[:_TABLE_ROWS]:
                tr.line(f"  {format_time(wall):>9} {format_time(cpu):>9} {format_size(peak):>10}  {nodeid}")


def _budget_of(marker):
    from snakescope._budget import parse_size, parse_time

    unknown = set(marker.kwargs) - {"max_memory", "max_time"}
    if marker.args or unknown:
        raise ValueError(f"takes max_memory= and max_time= only, not {marker.args or sorted(unknown)}")
    if not marker.kwargs:
        raise ValueError("give a budget: max_memory=\"100 MB\" and/or max_time=\"2 s\"")
    memory, seconds = marker.kwargs.get("max_memory"), marker.kwargs.get("max_time")
    return {"max_memory": None if memory is None else (memory, parse_size(memory)),
            "max_time": None if seconds is None else (seconds, parse_time(seconds))}


def _profiler(budget):
    from snakescope import _native
    from snakescope._api import Profiler

    interval = _native.DEFAULT_MEMORY_INTERVAL
    if budget and budget["max_memory"]:
        # Sampled often enough that the peak's estimate is within about a
        # percent of the budget: one sample per budget / 4096 bytes on average.
        interval = max(4096, min(interval, budget["max_memory"][1] // 4096))
    profiler = Profiler(memory=True, memory_interval=interval)
    profiler._hide_callers(*_pytest_runner_files())
    profiler._census = False  # a walk of the heap per test, for objects by type that nothing here reads
    return profiler


def _over_budget(budget, wall, peak, data, root):
    """The failure message when the call exceeded a budget, else None."""
    from snakescope._budget import format_size, format_time, hottest_line, top_allocation_site

    lines = []
    if budget["max_memory"] and peak > budget["max_memory"][1]:
        given, limit = budget["max_memory"]
        line = f"peak memory {format_size(peak, given)} exceeds max_memory={_shown(given)}"
        site = top_allocation_site(data, root)
        lines.append(line + (f"; top allocation site: {site[0]} ({format_size(site[1], given)} at the peak)"
                             if site else "; no allocation site recorded"))
    if budget["max_time"] and wall > budget["max_time"][1]:
        given, limit = budget["max_time"]
        line = f"wall time {format_time(wall)} exceeds max_time={_shown(given)}"
        hot = hottest_line(data, root)
        lines.append(line + (f"; hottest line: {hot[0]} ({hot[1]:.0%} of the samples)"
                             if hot else "; no sample of the code on a CPU (waiting?)"))
    return "\n".join(f"snakescope: {line}" for line in lines) or None


def _shown(given):
    """A budget as the marker wrote it."""
    return f'"{given}"' if isinstance(given, str) else repr(given)


def _fail(outcome, message):
    """The test's call fails with `message` (no traceback: it is not the test's code that raised)."""
    outcome.force_exception(pytest.fail.Exception(message, pytrace=False))


def _pytest_runner_files():
    """pytest's modules between the hook and the test function (``runtest``, ``pytest_pyfunc_call``)."""
    files = [pytest.__file__]
    for name in ("_pytest.python", "_pytest.runner", "_pytest.unittest"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            files.append(module.__file__)
    return files
