"""The HTML report (`--format html`, `-o x.html`) in a real browser.

Headless Chromium (Debian's `chromium`; `make test` installs it) loads each
report from a file and is driven over the DevTools protocol (support/browser.py, no
dependencies): no console errors, no request but the file itself, the key
elements present, the flame graph zooming on a real mouse click, and a
synthetic capture of 100,000 distinct stacks loading within a timeout.
Screenshots and the measured load time go to out/test-artifacts/ (ignored by
git), for a person to look at.
"""

from __future__ import annotations

import copy
import json
import random
import re
import subprocess
import time
from pathlib import Path

import pytest

from support import (
    EXACT_SOURCE,
    QUICK_TIMEOUT,
    REPO,
    SYNTHETIC,
    assert_clean_stderr,
    record,
    run,
    script,
    synthetic_exact,
)

ARTIFACTS = REPO / "out" / "test-artifacts"
READY = "window.snakescopeReport && window.snakescopeReport.ready"
# Hang guards, not speed judgements (support/processes.py: nothing asserts on wall time);
# the measured time is written to ARTIFACTS/html-load.json.
LOAD_TIMEOUT = 60.0
SECTIONS = ["findings", "flame", "tree", "functions", "source", "threads"]


def render(snakescope: str, capture: Path, out: Path) -> str:
    result = run([snakescope, "report", str(capture), "--format", "html", "-o", str(out)],
                 timeout=QUICK_TIMEOUT)
    assert result.returncode == 0, result.describe()
    assert_clean_stderr(result)
    return out.read_text(encoding="utf-8")


def embedded_capture(html: str) -> tuple[re.Match, dict]:
    m = re.search(r'<script type="application/json" id="snakescope-capture">(.*?)</script>', html, re.S)
    assert m, "no embedded capture"
    return m, json.loads(m.group(1))


def with_capture(html: str, data: dict) -> str:
    """The page with its embedded capture replaced by `data`."""
    m, _ = embedded_capture(html)
    text = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    return html[:m.start(1)] + text + html[m.end(1):]


def load(page, path: Path, timeout: float = LOAD_TIMEOUT) -> float:
    """Opens the report; returns the wall time until it was ready, in seconds."""
    start = time.monotonic()
    page.goto(path.resolve().as_uri(), timeout=timeout)
    page.wait_for(READY, timeout=timeout)
    return time.monotonic() - start


def check_clean(page, path: Path) -> None:
    assert page.errors == [], f"the page logged errors: {page.errors}"
    assert page.eval("window.snakescopeReport.errors") == []
    assert page.requests == [path.resolve().as_uri()], f"the page made requests: {page.requests}"


def text_of(page, selector: str) -> str:
    return page.eval(f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''")


# ---- a real recording


@pytest.fixture(scope="module")
def split_report(any_python, snakescope, tmp_path_factory) -> tuple[Path, dict]:
    """The report of a real 2 s recording of split_70_30.py, and its capture."""
    d = tmp_path_factory.mktemp("html")
    _, capture = record(snakescope, [any_python.path, script("split_70_30.py"), "2"], d / "split.json")
    render(snakescope, d / "split.json", d / "split.html")
    return d / "split.html", capture.data


def test_report_of_a_real_recording(page, split_report):
    path, data = split_report
    load(page, path)
    check_clean(page, path)
    # Header: the command and what was recorded.
    assert text_of(page, "title").startswith("snakescope: ")
    assert "split_70_30.py" in text_of(page, "#header h1")
    meta = text_of(page, "#meta")
    assert data["meta"]["python_version"] in meta
    for label in ("Duration", "Samples", "Effective rate", "Mode", "Exit code", "On a CPU"):
        assert label in meta, f"header lacks {label}: {meta!r}"
    # A busy loop is on a CPU for nearly all of the time sampled (less only
    # on a machine busy enough to starve it): the warning follows the figure.
    m = data["meta"]
    coverage = sum(s["count"] for s in data["stacks"]) / (m["ticks"] - m["lost_ticks"])
    assert ("is not in this profile" in meta) == (coverage < 0.5), (coverage, meta)
    # Every section, the memory one hidden (this capture has no memory data).
    for section in SECTIONS:
        assert page.eval(f"!document.getElementById('{section}').hidden"), section
    assert page.eval("document.getElementById('memory').hidden")
    assert "No findings" in text_of(page, "#findings")
    # The flame graph is drawn, with the workload's functions in it.
    assert page.eval("document.getElementById('flame-canvas').height") > 50
    assert page.eval("snakescopeReport.flame.visibleFrames()") > 3
    for name in ("main", "heavy", "light", "work"):
        assert page.eval(f"snakescopeReport.flame.frameCenter({json.dumps(name)}) !== null"), name
    # Function table sorted by self time: `work` does all the work.
    first = page.eval("Array.from(document.querySelectorAll('#functions-table tbody tr:first-child td'))"
                      ".map(td => td.textContent)")
    assert first[0] == "work" and first[1] == script("split_70_30.py"), first
    assert float(first[2].rstrip("%")) > 50, first
    # Annotated source of the script: `total += i` is a hot line, with its share.
    source = text_of(page, "#source")
    assert script("split_70_30.py") in source
    row = page.eval("""(() => {
        const r = Array.from(document.querySelectorAll('#source table.src tbody tr'))
            .find(tr => tr.textContent.includes('total += i'));
        return r && {cells: Array.from(r.cells).map(c => c.textContent), bg: r.style.background};
    })()""")
    assert row, "the line `total += i` is not in the annotated source"
    assert row["cells"][1].endswith("%") and float(row["cells"][1].rstrip("%")) > 5, row
    assert row["bg"], "the hot line has no heat colour"
    assert page.eval("document.querySelectorAll('#source tr.fold').length") > 0, "no cold code folded"
    # Threads.
    assert "MainThread" in text_of(page, "#threads-table")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(ARTIFACTS / "report.png")


def test_flame_graph_zooms_on_click_and_searches(page, split_report):
    path, _ = split_report
    load(page, path)
    assert page.eval("snakescopeReport.flame.zoomLabel()") == "all"
    page.eval("document.getElementById('flame').scrollIntoView()")
    target = page.eval("snakescopeReport.flame.frameCenter('heavy')")
    assert target, "no `heavy` frame drawn"
    width_before = target["width"]
    page.click(target["x"], target["y"])
    assert page.eval("snakescopeReport.flame.zoomLabel()") == "heavy"
    assert "heavy" in text_of(page, "#flame-crumbs")
    # Zoomed: `heavy` now spans the whole width.
    after = page.eval("snakescopeReport.flame.frameCenter('heavy')")
    assert after["width"] > width_before * 1.2, (width_before, after)
    # Reset, with a real click on the button.
    box = page.eval("(() => { const r = document.getElementById('flame-reset').getBoundingClientRect();"
                    " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()")
    page.click(box["x"], box["y"])
    assert page.eval("snakescopeReport.flame.zoomLabel()") == "all"
    # Search: typed into the box, highlights and reports the matched share.
    page.eval("document.querySelector('#flame input[type=search]').focus()")
    page.send("Input.insertText", {"text": "light"})
    page.wait_for("document.querySelector('#flame .toolbar').textContent.includes('matched')", timeout=10)
    matched = text_of(page, "#flame .toolbar")
    share = float(re.search(r"matched ([\d.]+)%", matched).group(1))
    assert 5 < share < 60, matched
    # Icicle orientation and the call tree open on the hot path.
    page.eval("document.getElementById('flame-orient').click()")
    assert page.eval("snakescopeReport.flame.frameCenter('main') !== null")
    tree = text_of(page, "#tree-view")
    for name in ("main", "heavy", "work"):
        assert name in tree
    check_clean(page, path)


def test_memory_sections_appear_with_memory_data(page, split_report, tmp_path):
    path, data = split_report
    html = path.read_text(encoding="utf-8")
    work = next(i for i, f in enumerate(data["frames"])
                if f["function"] == "work" and f["file"] == script("split_70_30.py"))
    data = copy.deepcopy(data)
    # The shape of docs/capture-format.md's `memory` (crates/snakescope-model).
    data["memory"] = {
        "mode": "sampled", "sample_interval_bytes": 524288,
        "sites": [{"frames": [work], "source": "python", "allocations": 10,
                   "allocated_bytes": 64 << 20, "frees": 9, "freed_bytes": 60 << 20,
                   "peak_bytes": 8 << 20, "end_bytes": 4 << 20}],
        "peak_bytes": 8 << 20, "peak_at_s": 0.5, "end_bytes": 4 << 20,
        "timeline": [{"t": t / 10, "heap": t << 20, "rss": (t + 20) << 20} for t in range(11)],
        "labels": [{"name": "phase one", "start_s": 0.1, "end_s": 0.4}],
        "census": [{"when": "exit", "t": 1.0,
                    "types": [{"type_name": "dict", "count": 12, "bytes": 3000}]}],
        "globals": [{"module": "__main__", "name": "CACHE", "objects": 1001, "bytes": 3 << 20}],
    }
    out = tmp_path / "memory.html"
    out.write_text(with_capture(html, data), encoding="utf-8")
    load(page, out)
    check_clean(page, out)
    assert page.eval("!document.getElementById('memory').hidden")
    memory = text_of(page, "#memory")
    for text in ("Peak", "8.0 MiB", "Top allocation sites", "64.0 MiB", "phase one", "dict",
                 "Held by module globals at the end (not leaked)"):
        assert text in memory, f"{text!r} not in the memory section"
    assert page.eval("document.querySelectorAll('#memory-chart polyline').length") == 2
    assert page.eval("Array.from(document.querySelectorAll('#memory-globals tbody td'), td => td.textContent)") \
        == ["__main__.CACHE", "1,001", "3.0 MiB"]
    assert "Memory" in text_of(page, "#nav")
    # The allocating line carries its bytes in the annotated source.
    assert page.eval("""Array.from(document.querySelectorAll('#source table.src tbody tr'))
        .some(tr => tr.textContent.includes('64.0 MiB'))""")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(ARTIFACTS / "report-memory.png")


def test_missing_sources_and_idle_threads(page, snakescope, tmp_path):
    # The hand-written capture names /src/app.py, which does not exist.
    capture = tmp_path / "synthetic.json"
    capture.write_text(json.dumps(SYNTHETIC), encoding="utf-8")
    out = tmp_path / "synthetic.html"
    render(snakescope, capture, out)
    load(page, out)
    check_clean(page, out)
    assert "Source not available: file not found" in text_of(page, "#source")
    threads = text_of(page, "#threads-table")
    assert "MainThread" in threads and "(unnamed)" in threads
    # Thread 4243: 10 of its 20 samples idle, 5 holding the GIL.
    assert page.eval("""Array.from(document.querySelectorAll('#threads-table tbody tr'))
        .map(tr => Array.from(tr.cells).map(c => c.textContent))
        .find(r => r[1] === '4243').slice(4, 7).join(' ')""") == "50.0% 50.0% 25.0%"
    first = page.eval("document.querySelector('#functions-table tbody tr td').textContent")
    assert first == "Worker.work"


def test_opcodes_expand_under_the_hottest_lines(page, any_python, snakescope, tmp_path):
    # `--opcodes`: the heavy line of opcodes_heavy.py (the hottest) opens
    # onto its sampled instructions, float arithmetic among them.
    capture = tmp_path / "ops.json"
    record(snakescope, [any_python.path, script("opcodes_heavy.py"), "0.5"], capture,
           options=["-q", "--opcodes"])
    out = tmp_path / "ops.html"
    render(snakescope, capture, out)
    load(page, out)
    check_clean(page, out)
    hidden = "document.querySelector('#source tr.instr-row').hidden"
    assert page.eval(hidden) is True
    page.eval("document.querySelector('#source a.instr-toggle').click()")
    assert page.eval(hidden) is False
    shown = text_of(page, "#source tr.instr-row")
    assert "BINARY_" in shown and "%" in shown, shown


def test_task_table_of_an_async_recording(page, any_python, snakescope, tmp_path):
    # `--async`: the "asyncio tasks" section lists the three tasks of
    # async_tasks.py (and the main one), each with its coroutine and its
    # await line, the busiest (gamma: 3 of 6 units) first.
    capture = tmp_path / "tasks.json"
    record(snakescope, [any_python.path, script("async_tasks.py"), "10", "10"], capture,
           options=["-q", "--async"])
    out = tmp_path / "tasks.html"
    render(snakescope, capture, out)
    load(page, out)
    check_clean(page, out)
    rows = page.eval("Array.from(document.querySelectorAll('#tasks tbody tr'))"
                     ".map(function (r) { return r.textContent; })")
    # asyncio.run's own clean-up tasks (`shutdown_asyncgens`, ...) live a few
    # milliseconds at the end; a busy machine's sampler may see one.
    rows = [r for r in rows if "base_events.py" not in r]
    assert len(rows) == 4 and rows[0].startswith("gammagamma()"), rows
    lines = Path(script("async_tasks.py")).read_text(encoding="utf-8").splitlines()
    for name in ("alpha", "beta", "gamma"):
        line = next(i + 1 for i, t in enumerate(lines) if f"# await-{name}" in t)
        row = next(r for r in rows if r.startswith(f"{name}{name}()"))
        assert f"async_tasks.py:{line}_asyncio.Future" in row, row


def test_a_sleeping_program_is_told_its_waiting_is_not_in_the_profile(page, any_python, snakescope, tmp_path):
    _, capture = record(snakescope, [any_python.path, "-c", "import time; time.sleep(0.6)"], tmp_path / "s.json")
    render(snakescope, tmp_path / "s.json", tmp_path / "s.html")
    load(page, tmp_path / "s.html")
    check_clean(page, tmp_path / "s.html")
    meta = text_of(page, "#meta")
    assert "is not in this profile; --idle samples wall time" in meta, meta


def test_exact_capture_leads_with_exact_calls_and_line_timings(page, snakescope, tmp_path):
    # A `run --exact` capture has no stacks: no flame graph to break, the
    # measured sections first, and a hostile function name shown as text.
    data = synthetic_exact()
    hostile = "fib</script><img src=x onerror=\"window.pwned=1\">"
    data["frames"][1]["qualname"] = hostile
    capture = tmp_path / "exact.json"
    capture.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "exact.html"
    render(snakescope, capture, out)
    load(page, out)
    check_clean(page, out)
    shown = page.eval("Array.from(document.querySelectorAll('main > section'))"
                      ".filter(s => !s.hidden).map(s => s.id)")
    assert shown == ["findings", "exact", "lines", "flame"], shown
    assert "No sampled stacks" in text_of(page, "#flame")
    assert "Measured" in text_of(page, "#meta") and "Samples" not in text_of(page, "#meta")
    assert text_of(page, "#exact-totals") == "122 function calls (102 primitive calls) in 1.000 seconds"
    rows = page.eval("""Array.from(document.querySelectorAll('#exact-table tbody tr'))
        .map(tr => Array.from(tr.cells).map(c => c.textContent))""")
    # Sorted by cumulative time; the recursive function's calls as calls/primitive.
    assert [r[1] for r in rows] == ["/src/app.py:1", "/src/app.py:5", "built-in"], rows
    assert rows[1][0].endswith(hostile) and rows[1][2] == "21/1", rows[1]
    assert rows[1][5] == "600.000 ms" and rows[1][7].startswith("main (1)"), rows[1]
    assert page.eval("document.querySelectorAll('img').length") == 0
    assert page.eval("window.pwned === undefined")
    # Opening fib's row lists its callers: main once, itself 20 times.
    page.eval("document.querySelectorAll('#exact-table tbody tr')[1].querySelector('.tog').click()")
    detail = text_of(page, "#exact-table tr.detail")
    assert "Called by" in detail and "20/0" in detail, detail
    # main's lines with the recorded source: line 3, 100 hits, 90 % of the time.
    line3 = page.eval("""Array.from(document.querySelector('#lines tr[data-line="3"]').cells)
        .map(c => c.textContent)""")
    assert line3[:5] == ["3", "100", "900.000 ms", "9.000 ms", "90.0%"], line3
    assert line3[5] == EXACT_SOURCE[2]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(ARTIFACTS / "report-exact.png")


def test_exact_section_beside_samples(page, snakescope, tmp_path):
    # Samples and exact statistics in one capture: the views of samples as
    # before, the exact calls after the annotated source, and the function
    # table's Calls column from the exact section.
    data = copy.deepcopy(SYNTHETIC)
    data["exact"] = {"version": 1, "functions": [
        {"frame": 3, "calls": 7, "primitive_calls": 7, "tottime_s": 0.05, "cumtime_s": 0.05, "callers": []}]}
    capture = tmp_path / "both.json"
    capture.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "both.html"
    render(snakescope, capture, out)
    load(page, out)
    check_clean(page, out)
    shown = page.eval("Array.from(document.querySelectorAll('main > section'))"
                      ".filter(s => !s.hidden).map(s => s.id)")
    assert shown == ["findings", "flame", "tree", "functions", "source", "exact", "threads"], shown
    assert page.eval("snakescopeReport.flame.visibleFrames()") > 3
    head = page.eval("Array.from(document.querySelectorAll('#functions-table th')).map(th => th.textContent)")
    assert head[-1] == "Calls", head
    work = page.eval("""Array.from(document.querySelectorAll('#functions-table tbody tr'))
        .map(tr => Array.from(tr.cells).map(c => c.textContent)).find(r => r[0] === 'Worker.work')""")
    assert work[-1] == "7", work
    assert text_of(page, "#exact-totals") == "7 function calls in 0.050 seconds"


# ---- record and run write it too


def test_record_writes_html_by_name_and_by_flag(any_python, snakescope, tmp_path):
    by_name = tmp_path / "profile.html"
    result = run([snakescope, "record", "-q", "-o", str(by_name), "--",
                  any_python.path, script("split_70_30.py"), "0.5"])
    assert result.returncode == 0, result.describe()
    assert by_name.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    by_flag = tmp_path / "profile.out"
    result = run([snakescope, "record", "-q", "--format", "html", "-o", str(by_flag), "--",
                  any_python.path, script("split_70_30.py"), "0.5"])
    assert result.returncode == 0, result.describe()
    text = by_flag.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "split_70_30.py" in text


def test_run_writes_html(snakescope, tmp_path):
    import sys
    out = tmp_path / "run.html"
    result = subprocess.run([snakescope, "run", "--python", sys.executable, "-q", "-o", str(out),
                             script("split_70_30.py"), "0.5"],
                            capture_output=True, text=True, timeout=QUICK_TIMEOUT)
    assert result.returncode == 0, result.stderr
    _, data = embedded_capture(out.read_text(encoding="utf-8"))
    assert data["meta"]["mode"] == "run"


# ---- 100,000 distinct stacks


def synthetic_capture(n_stacks: int = 100_000, seed: int = 5) -> dict:
    """A capture of n_stacks distinct stacks: random walks of depth 3-35 over a
    random call graph of 3000 functions (4 lines each) in 150 files, on 4
    threads. Far more varied than a real program, so its call tree is large
    (about 8 nodes per stack): a worst case for the report."""
    rng = random.Random(seed)
    rand = rng.random
    files = ([f"/synthetic/app/module_{i}.py" for i in range(100)]
             + [f"/usr/lib/python3.11/stdlib_{i}.py" for i in range(30)]
             + [f"/venv/lib/python3.11/site-packages/pkg_{i}/core.py" for i in range(20)])
    n_funcs, per_func = 3000, 4
    frames = []
    for i in range(n_funcs):
        file, first = files[rng.randrange(len(files))], 1 + rng.randrange(2000)
        qualname = f"C{i % 97}.func_{i}" if i % 3 == 0 else f"func_{i}"
        frames += [{"function": f"func_{i}", "qualname": qualname, "file": file, "line": first + k}
                   for k in range(per_func)]
    callees = [[rng.randrange(n_funcs) for _ in range(6)] for _ in range(n_funcs)]
    skew = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5]  # the first callees more likely
    threads = [{"tid": 1000 + t, "name": name, "samples": 0, "idle_samples": 0, "gil_samples": 0}
               for t, name in enumerate(["MainThread", "worker-1", "worker-2", None])]
    seen: dict[tuple, int] = {}
    while len(seen) < n_stacks:
        t = int(rand() * 4)
        fn, path = t, [t * per_func]
        for _ in range(2 + int(rand() * 33)):
            r = rand()
            fn = callees[fn][skew[int(r * 12)]]
            path.append(fn * per_func + int(r * 4096) % per_func)
        key = (t, tuple(path))
        if key not in seen:
            seen[key] = max(1, int(rng.paretovariate(1.3)))
    stacks = []
    for (t, path), count in seen.items():
        r = rand()
        idle, gil = r < 0.05, r >= 0.15
        th = threads[t]
        th["samples"] += count
        th["idle_samples"] += count if idle else 0
        th["gil_samples"] += count if gil else 0
        stacks.append({"thread": t, "frames": list(path), "idle": idle, "gil": gil, "count": count})
    ticks = max(th["samples"] for th in threads)
    return {
        "format": "snakescope-capture", "version": 1,
        "meta": {"tool_version": "0.1.0", "mode": "record", "command": ["python3", "synthetic.py"],
                 "pid": 4242, "python_version": "3.11.7", "requested_rate_hz": 1000.0,
                 "started_unix_s": 1795000000.0, "duration_s": ticks / 1000.0, "ticks": ticks,
                 "lost_ticks": 0, "torn_stacks": 0, "include_idle": True, "gil_only": False,
                 "exit_code": 0},
        "threads": threads, "frames": frames, "stacks": stacks,
    }


def test_100k_distinct_stacks_load(page, snakescope, tmp_path):
    capture = tmp_path / "big.json"
    capture.write_text(json.dumps(synthetic_capture(), separators=(",", ":")), encoding="utf-8")
    out = tmp_path / "big.html"
    render(snakescope, capture, out)
    wall = load(page, out)
    check_clean(page, out)
    stats = page.eval("snakescopeReport.stats")
    assert stats["stacks"] == 100_000
    assert page.eval("snakescopeReport.flame.visibleFrames()") > 100
    assert page.eval("document.querySelectorAll('#functions-table tbody tr').length") == 50
    # Zooming into the widest thread and back still works at this size.
    page.eval("document.getElementById('flame').scrollIntoView()")
    target = page.eval("snakescopeReport.flame.frameCenter('worker-2 (tid 1002)')")
    page.click(target["x"], target["y"])
    assert page.eval("snakescopeReport.flame.zoomLabel()") == "worker-2 (tid 1002)"
    check_clean(page, out)
    measured = {
        "stacks": stats["stacks"], "html_bytes": out.stat().st_size,
        "ready_ms_from_navigation": page.eval("snakescopeReport.loadMs"),
        "timings_ms": page.eval("snakescopeReport.timings"),
        "wall_s_from_navigate": round(wall, 3),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "html-load.json").write_text(json.dumps(measured, indent=2) + "\n")
    page.screenshot(ARTIFACTS / "report-100k.png", max_height=2000)
    print(f"100k-stack report: ready {measured['ready_ms_from_navigation']} ms after navigation "
          f"({measured['html_bytes'] / 1e6:.1f} MB)")
