"""Outputs are what their names say (issue 22): one table, every format × every
kind of capture × named by the file name and by `--format`.

Each kind of capture is recorded once from a workload whose content is known
by construction, then written by `report` in every format. What it provides
is written and read back by the format's real reader, with its units and
values checked (pprof decoded, speedscope validated against the schema
shipped in speedscope's npm package, pstats loaded by `pstats`, …); what it
cannot provide is refused with one `error:` line and a `hint:`, and no file.
"""

from __future__ import annotations

import json
import os
import pstats
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from support import (
    QUICK_TIMEOUT,
    RECORD_TIMEOUT,
    REPO,
    assert_clean_stderr,
    assert_error,
    run,
    script,
    target_env,
    validate_capture,
)
from support.pprof import read_pprof

FORMATS = ["flamegraph", "speedscope", "collapsed", "json", "text", "html", "pprof", "chrome",
           "timeline", "pstats"]
# A file name for each format: the one its name implies, or (text, timeline,
# which no ending implies) a name that says only the kind of file.
FILE_NAME = {"flamegraph": "out.svg", "speedscope": "out.speedscope.json",
             "collapsed": "out.collapsed", "json": "out.json", "text": "out.txt",
             "html": "out.html", "pprof": "out.pb.gz", "chrome": "out.trace.json",
             "timeline": "out.svg", "pstats": "out.pstats"}
# Whose name alone picks them (out.txt is collapsed stacks, out.svg a flame graph).
NEEDS_FORMAT = {"text", "timeline"}

SAMPLED = {"flamegraph", "speedscope", "collapsed", "json", "text", "html", "pprof", "chrome"}
# The formats each kind of capture provides; every other is refused.
PROVIDES = {
    "sampled": SAMPLED,
    "exact": {"speedscope", "json", "text", "html", "pprof", "pstats"},
    "memory": SAMPLED | {"timeline"},
    "lines": SAMPLED,
    "memory_view": {"flamegraph", "speedscope", "collapsed", "json", "pprof"},
}
KINDS = list(PROVIDES)
RATE_NS = 1_000_000  # the default 1000 Hz, as a pprof period


def speedscope_schema() -> dict:
    path = os.environ.get("SNAKESCOPE_SPEEDSCOPE_SCHEMA")
    found = [Path(path)] if path else sorted(REPO.glob(".cache/speedscope-*/file-format-schema.json"))
    if not found or not found[-1].exists():
        pytest.fail("speedscope's schema is missing: run `make speedscope-schema`")
    return json.loads(found[-1].read_text())


def run_capture(snakescope: str, out: Path, target: list[str], *options: str,
                env: dict[str, str] | None = None) -> None:
    r = run([snakescope, "run", "--python", sys.executable, "-q", *options, "-o", str(out),
             *target], timeout=RECORD_TIMEOUT, cwd=out.parent,
            env=target_env({"PYTHONPATH": str(REPO / "python"), **(env or {})}))
    assert r.returncode == 0, r.describe()


@pytest.fixture(scope="module")
def captures(tmp_path_factory, snakescope) -> dict[str, Path]:
    """One capture of each kind: CPU split_70_30.py, `--exact` calls.py (fib(18):
    8361 calls), mem_known.py (a 64 MiB leak), lines_split.py (`@profile`, 1.5 s
    of CPU: samples as well as line timings)."""
    d = tmp_path_factory.mktemp("captures")
    made = {k: d / f"{k}.json" for k in ("sampled", "exact", "memory", "lines")}
    run_capture(snakescope, made["sampled"], [script("split_70_30.py"), "0.5"], "--memory", "off")
    run_capture(snakescope, made["exact"], [script("calls.py")], "--exact")
    run_capture(snakescope, made["memory"], [script("mem_known.py")], env={"MEM_BIG_MB": "64"})
    run_capture(snakescope, made["lines"], [script("lines_split.py")], "--memory", "off")
    return made


def report_args(kind: str, capture: Path) -> list[str]:
    if kind == "memory_view":
        return [str(capture.with_name("memory.json")), "--memory", "peak"]
    return [str(capture)]


# The table's rows: every kind × format × how it is named (by file name only
# where a name implies the format).
ROWS = [(kind, fmt, by) for kind in KINDS for fmt in FORMATS for by in ("name", "format")
        if not (by == "name" and fmt in NEEDS_FORMAT)]


@pytest.mark.parametrize(("kind", "fmt", "by"), ROWS)
def test_every_format_of_every_capture(snakescope, captures, tmp_path, kind, fmt, by):
    capture = captures.get(kind, captures["memory"])
    out = tmp_path / FILE_NAME[fmt]
    named = ["-o", str(out)] + (["--format", fmt] if by == "format" else [])
    r = run([snakescope, "report", *report_args(kind, capture), *named], timeout=QUICK_TIMEOUT)
    if fmt not in PROVIDES[kind]:
        assert_error(r)
        assert r.stderr.count("\nhint: ") == 1, r.describe()
        assert not out.exists(), f"{fmt} of a {kind} capture was written"
        return
    assert r.returncode == 0, r.describe()
    assert_clean_stderr(r)
    data = json.loads(capture.read_text())
    CHECKS[fmt](out, kind, data)


def bytes_of(data: dict, field: str) -> int:
    return sum(site[field] for site in data["memory"]["sites"])


def total(kind: str, data: dict) -> int:
    """What the stacks add up to: thread-samples, or the peak's bytes for the view."""
    if kind == "memory_view":
        return bytes_of(data, "peak_bytes")
    return sum(s["count"] for s in data["stacks"])


def check_svg(out: Path, kind: str, data: dict) -> None:
    root = ET.fromstring(out.read_bytes())
    assert root.tag.rsplit("}", 1)[-1] == "svg", root.tag
    text = out.read_text()
    if kind == "memory_view":
        assert " bytes" in text and " samples" not in text


def check_speedscope(out: Path, kind: str, data: dict) -> None:
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, speedscope_schema())
    units = {p["unit"] for p in doc["profiles"]}
    want = {"exact": "seconds", "memory_view": "bytes"}.get(kind, "none")
    assert units == {want}, units
    if kind != "exact":
        assert sum(sum(p["weights"]) for p in doc["profiles"]) == total(kind, data)


def check_collapsed(out: Path, kind: str, data: dict) -> None:
    counts = [int(line.rsplit(" ", 1)[1]) for line in out.read_text().splitlines()]
    assert sum(counts) == total(kind, data)


def check_json(out: Path, kind: str, data: dict) -> None:
    written = json.loads(out.read_text())
    validate_capture(written)
    if kind != "memory_view":
        assert written == data, "the capture is not written as read"


def check_text(out: Path, kind: str, data: dict) -> None:
    text = out.read_text()
    assert text.strip() and not text.lstrip().lower().startswith("<!doctype"), text[:200]


def check_html(out: Path, kind: str, data: dict) -> None:
    assert out.read_text()[:15].lower() == "<!doctype html>"


def check_pprof(out: Path, kind: str, data: dict) -> None:
    p = read_pprof(out.read_bytes())
    if kind == "exact":
        assert p.sample_types == [("calls", "count"), ("time", "nanoseconds")], p.sample_types
        return
    if kind == "memory_view":
        # A Go heap profile: bytes, a period in bytes, the one type the default.
        assert p.sample_types == [("peak_space", "bytes")]
        assert (p.period_type, p.period, p.default_sample_type) == (("space", "bytes"), 1,
                                                                     "peak_space")
        assert p.total("peak_space") == bytes_of(data, "peak_bytes") >= 64 << 20
        return
    assert p.sample_types[:2] == [("samples", "count"), ("cpu", "nanoseconds")]
    assert (p.period_type, p.period, p.default_sample_type) == (("cpu", "nanoseconds"),
                                                                RATE_NS, "cpu")
    assert p.total("samples") == total(kind, data)
    if data.get("memory"):
        assert ("inuse_space", "bytes") in p.sample_types
        for kind_, field in [("alloc_space", "allocated_bytes"), ("peak_space", "peak_bytes"),
                             ("inuse_space", "end_bytes")]:
            assert p.total(kind_) == bytes_of(data, field), kind_


def check_chrome(out: Path, kind: str, data: dict) -> None:
    events = json.loads(out.read_text())["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert complete
    for e in complete:
        assert "args" not in e and "{" not in e["name"], e
        assert {"name", "cat", "ph", "ts", "dur", "pid", "tid"} <= e.keys(), e


def check_pstats(out: Path, kind: str, data: dict) -> None:
    stats = pstats.Stats(str(out)).stats
    calls = {func[2]: ncalls for func, (_, ncalls, *_) in stats.items()}
    assert calls["fib"] == 8361, calls


CHECKS = {"flamegraph": check_svg, "timeline": check_svg, "speedscope": check_speedscope,
          "collapsed": check_collapsed, "json": check_json, "text": check_text,
          "html": check_html, "pprof": check_pprof, "chrome": check_chrome,
          "pstats": check_pstats}


def test_a_name_that_says_another_format_is_refused(snakescope, captures, tmp_path):
    out = tmp_path / "x.pstats"
    r = run([snakescope, "report", str(captures["exact"]), "--format", "text", "-o", str(out)],
            timeout=QUICK_TIMEOUT)
    error, hint = assert_error(r)
    assert "names a pstats file" in error and "x.txt" in hint, r.describe()
    assert not out.exists()


def test_diff_writes_no_comparison_into_a_file_named_for_another_format(snakescope, captures,
                                                                        tmp_path):
    sampled = str(captures["sampled"])
    for out, option in [(tmp_path / "d.pstats", "-o"), (tmp_path / "d.pb.gz", "--flamegraph")]:
        r = run([snakescope, "diff", sampled, sampled, option, str(out)], timeout=QUICK_TIMEOUT)
        error, hint = assert_error(r)
        assert "names a" in error and hint, r.describe()
        assert not out.exists()


def test_run_writes_the_memory_timeline_whether_or_not_it_was_sampled(snakescope, tmp_path):
    """mem_small.py is over before many samples (often none): the timeline
    draws memory alone and was skipped as "no samples"."""
    out = tmp_path / "mem.svg"
    run_capture(snakescope, out, [script("mem_small.py")], "--format", "timeline")
    assert ET.fromstring(out.read_bytes()).tag.rsplit("}", 1)[-1] == "svg"
