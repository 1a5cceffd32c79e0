"""The export formats, read back by their real consumers (docs/formats.md).

- `pprof`: the gzipped profile.proto must load in `go tool pprof` (Debian's
  golang-go, which `make test` installs when missing) with the workload's
  hottest function on top, CPU time in nanoseconds, the thread as a label;
  and, from a `run` with memory, the leak on top of `inuse_space`.
- `chrome`: trace-event JSON as Perfetto and chrome://tracing read it: the
  required fields of every event, one named track per thread, and complete
  events nested as a flame chart (children inside their parents, siblings
  side by side), as wide as their samples times the sampling period.

Both come from one real recording of split_70_30.py (all the time in `work`,
called 7:3 from `heavy` and `light`), written by `record` itself (format from
the file name) and by `report` from the saved capture.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import (
    QUICK_TIMEOUT,
    RECORD_TIMEOUT,
    REPO,
    assert_clean_stderr,
    record,
    run,
    script,
    target_env,
)

SECONDS = "1.5"


@pytest.fixture(scope="module")
def capture(tmp_path_factory, snakescope, present_interpreters) -> Path:
    if not present_interpreters:
        pytest.skip("no supported interpreter present")
    out = tmp_path_factory.mktemp("export") / "split.json"
    _, cap = record(snakescope, [present_interpreters[0].path, script("split_70_30.py"), SECONDS],
                    out)
    assert cap.total >= 500, "too few samples"
    return out


def report(snakescope: str, capture: Path, fmt: str, out: Path) -> Path:
    result = run([snakescope, "report", str(capture), "--format", fmt, "-o", str(out)],
                 timeout=QUICK_TIMEOUT)
    assert result.returncode == 0, result.describe()
    assert_clean_stderr(result)
    return out


# --------------------------------------------------------------------------
# pprof
# --------------------------------------------------------------------------


def go_pprof(*args: str) -> str:
    go = shutil.which("go")
    assert go, "`go` not found: install Debian's golang-go (`make test` does)"
    result = subprocess.run([go, "tool", "pprof", *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"go tool pprof {args} failed:\n{result.stderr}"
    return result.stdout + result.stderr


def top_rows(text: str) -> list[tuple[str, float, float]]:
    """(function, flat, cum) of each row of `go tool pprof -top`, in order."""
    rows = []
    header = text.index("flat  flat%")
    for line in text[header:].splitlines()[1:]:
        parts = line.split(maxsplit=5)
        if len(parts) < 6:
            continue
        rows.append((parts[5], _number(parts[0]), _number(parts[3])))
    return rows


def _number(text: str) -> float:
    """`981ms`, `1.03s`, `0`, `1031` as a number (milliseconds for times)."""
    m = re.fullmatch(r"([\d.]+)(ms|s|us|ns|B|kB|MB|GB)?", text)
    assert m, text
    scale = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6, None: 1.0,
             "B": 1.0, "kB": 1e3, "MB": 1e6, "GB": 1e9}[m.group(2)]
    return float(m.group(1)) * scale


def test_pprof_loads_in_go_tool_pprof_with_the_hottest_function_on_top(snakescope, capture,
                                                                        tmp_path):
    cap = json.loads(capture.read_text())
    samples = sum(s["count"] for s in cap["stacks"])
    path = report(snakescope, capture, "pprof", tmp_path / "r.pprof")
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b", "not gzip"
    gzip.decompress(raw)
    text = go_pprof("-top", str(path))
    assert "Type: cpu" in text, text
    rows = top_rows(text)
    assert rows[0][0] == "work", text
    # 1 kHz: each sample is 1 ms of CPU (pprof prints the total rounded, e.g. 1.55s).
    total = re.search(r"Total samples = (\S+)", text).group(1)
    assert _number(total) == pytest.approx(samples, rel=0.01), text
    cum = {name: c for name, _, c in rows}
    assert cum["heavy"] > 1.5 * cum["light"], text  # 7:3 by construction
    counts = go_pprof("-top", "-sample_index=samples", str(path))
    assert re.search(rf"Total samples = {samples}\b", counts), counts
    tags = go_pprof("-tags", str(path))
    assert re.search(r"thread: Total", tags) and "MainThread" in tags, tags


def test_record_writes_pprof_from_the_file_name(snakescope, present_interpreters, tmp_path):
    if not present_interpreters:
        pytest.skip("no supported interpreter present")
    out = tmp_path / "cpu.pb.gz"
    result = run([snakescope, "record", "-q", "-o", str(out), "--",
                  present_interpreters[0].path, script("split_70_30.py"), "0.5"])
    assert result.returncode == 0, result.describe()
    assert_clean_stderr(result)
    rows = top_rows(go_pprof("-top", str(out)))
    assert rows[0][0] == "work", rows


def test_pprof_carries_memory_sample_types(snakescope, tmp_path):
    """A `run` capture with memory (mem_known.py: one 64 MiB leak in `leaky`)
    adds the allocation sites as samples with memory sample types."""
    out = tmp_path / "mem.pb.gz"
    proc = subprocess.run(
        [snakescope, "run", "--python", sys.executable, "-q", "-o", str(out),
         script("mem_known.py")],
        capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path,
        env=target_env({"PYTHONPATH": str(REPO / "python"), "MEM_BIG_MB": "64"}))
    assert proc.returncode == 0, proc.stderr
    text = go_pprof("-raw", str(out))
    for kind in ("alloc_objects/count", "alloc_space/bytes", "peak_space/bytes",
                 "inuse_space/bytes"):
        assert kind in text, text[:2000]
    # What is still alive at the end: the leak, on top.
    inuse = top_rows(go_pprof("-top", "-sample_index=inuse_space", str(out)))
    assert inuse[0][0] == "leaky", inuse[:5]
    alloc = go_pprof("-top", "-sample_index=alloc_space", str(out))
    assert "bytearray_line" in alloc, alloc


def test_a_memory_view_loads_in_go_tool_pprof_as_bytes(snakescope, tmp_path):
    """Regression (issue 22): `report --memory peak` as pprof was labelled
    cpu/nanoseconds, so go tool pprof showed "6.31s" for 84.9 MB."""
    capture = tmp_path / "mem.json"
    proc = subprocess.run(
        [snakescope, "run", "--python", sys.executable, "-q", "-o", str(capture),
         script("mem_known.py")],
        capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path,
        env=target_env({"PYTHONPATH": str(REPO / "python"), "MEM_BIG_MB": "64"}))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "peak.pb.gz"
    r = run([snakescope, "report", str(capture), "--memory", "peak", "-o", str(out)],
            timeout=QUICK_TIMEOUT)
    assert r.returncode == 0, r.describe()
    text = go_pprof("-top", str(out))
    assert "Type: peak_space" in text, text
    total = re.search(r"Total samples = (\S+)", text).group(1)
    assert total.endswith("MB"), text
    peak = sum(s["peak_bytes"] for s in json.loads(capture.read_text())["memory"]["sites"])
    # pprof's MB are MiB (its memory units step by 1024).
    assert float(total[:-2]) * 2**20 == pytest.approx(peak, rel=0.01), text


# --------------------------------------------------------------------------
# Chrome trace events
# --------------------------------------------------------------------------


def test_chrome_trace_is_a_nested_flame_chart_per_thread(snakescope, capture, tmp_path):
    cap = json.loads(capture.read_text())
    trace = json.loads(report(snakescope, capture, "chrome", tmp_path / "t.trace.json")
                       .read_text())
    events = trace["traceEvents"]
    assert isinstance(events, list) and events
    period_us = 1e6 / cap["meta"]["requested_rate_hz"]
    complete = []
    for e in events:
        # Required by the trace-event format for these phases.
        assert isinstance(e["name"], str) and e["ph"] in ("X", "M"), e
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int), e
        if e["ph"] == "X":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
            assert isinstance(e["dur"], (int, float)) and e["dur"] > 0, e
            complete.append(e)
        else:
            assert e["name"] in ("process_name", "thread_name", "thread_sort_index"), e
    # One named track per thread of the capture.
    names = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert set(names) == {t["tid"] for t in cap["threads"]}
    main = next(t for t in cap["threads"] if t["name"] == "MainThread")
    assert names[main["tid"]].startswith("MainThread")
    # Roots of each thread cover its samples; children lie inside parents.
    for tid in names:
        spans = sorted(((e["ts"], e["ts"] + e["dur"], e["name"]) for e in complete
                        if e["tid"] == tid), key=lambda s: (s[0], -s[1]))
        thread = next(t for t in cap["threads"] if t["tid"] == tid)
        roots = check_nesting(spans)
        width = sum(end - start for start, end, _ in roots)
        assert width == pytest.approx(thread["samples"] * period_us, rel=1e-9)
    work = [e for e in complete if e["name"] == "work"]
    assert sum(e["dur"] for e in work) > 0.8 * main["samples"] * period_us
    # Plain names, no args: speedscope's importer names a frame `name {args}`.
    assert all("args" not in e for e in complete)


def check_nesting(spans: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Spans sorted by (start, -end) form a proper stack: each one either lies
    inside the innermost open span or starts after it ends. Returns the roots."""
    eps = 1e-6
    open_spans: list[tuple[float, float, str]] = []
    roots = []
    for span in spans:
        while open_spans and open_spans[-1][1] <= span[0] + eps:
            open_spans.pop()
        if open_spans:
            parent = open_spans[-1]
            assert parent[0] <= span[0] + eps and span[1] <= parent[1] + eps, \
                f"{span} overlaps {parent} without nesting"
        else:
            roots.append(span)
        open_spans.append(span)
    return roots


# --------------------------------------------------------------------------
# Exact captures (run --exact) as pprof and speedscope
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exact_capture(tmp_path_factory, snakescope) -> Path:
    """A real `run --exact` capture of calls.py, whose call counts are known
    by construction (fib(18): 8361 calls; area: 300; fails: 200)."""
    out = tmp_path_factory.mktemp("exact") / "calls.json"
    r = run([snakescope, "run", "--python", sys.executable, "--exact", "-q", "-o", str(out),
             script("calls.py")], timeout=RECORD_TIMEOUT)
    assert r.returncode == 0, r.describe()
    return out


def test_exact_pprof_counts_calls_and_own_time_per_function(snakescope, exact_capture, tmp_path):
    data = json.loads(exact_capture.read_text())
    path = report(snakescope, exact_capture, "pprof", tmp_path / "calls.pb.gz")
    calls = {name: flat for name, flat, _ in top_rows(go_pprof("-top", "-sample_index=calls", str(path)))}
    assert calls["fib"] == 8361 and calls["Shape.area"] == 300 and calls["fails"] == 200, calls
    # Flat time per function is its own time (tottime), to pprof's rounding.
    text = go_pprof("-top", "-sample_index=time", "-unit=ns", str(path))
    total_ns = sum(f["tottime_s"] for f in data["exact"]["functions"]) * 1e9
    shown = re.search(r"Total samples = (\S+)", text).group(1)
    assert _number(shown.replace("ns", "")) == pytest.approx(total_ns, rel=0.02, abs=1000), text


def test_exact_speedscope_weighs_each_caller_edge_by_own_time(snakescope, exact_capture, tmp_path):
    data = json.loads(exact_capture.read_text())
    path = report(snakescope, exact_capture, "speedscope", tmp_path / "calls.speedscope.json")
    doc = json.loads(path.read_text())
    (profile,) = doc["profiles"]
    assert profile["unit"] == "seconds"
    total = sum(f["tottime_s"] for f in data["exact"]["functions"])
    assert sum(profile["weights"]) == pytest.approx(total, rel=1e-6)
    names = [f["name"] for f in doc["shared"]["frames"]]
    assert "fib" in names and "main" in names
