"""The format registry seen from outside: `--format pstats` where exact call
counts exist (`run --exact`), one error line and a hint everywhere else, the
table as the Python package reads it, default output names, and a reader of
standard output that goes away (`| head -1`)."""

from __future__ import annotations

import io
import json
import os
import pstats
import subprocess
import sys

import pytest

from support import (
    QUICK_TIMEOUT,
    RECORD_TIMEOUT,
    SYNTHETIC,
    assert_error,
    run,
    script,
    synthetic_exact,
)

PYTHON = sys.executable


def _run(snakescope, *args, cwd):
    return run([snakescope, "run", "--python", PYTHON, *args], timeout=RECORD_TIMEOUT, cwd=cwd)


def test_run_exact_with_format_pstats(snakescope, tmp_path):
    # Named or not, `--format pstats` writes what `--exact -o x.pstats` writes.
    named = tmp_path / "calls.prof"
    r = _run(snakescope, "--exact", "-q", "--format", "pstats", "-o", str(named), script("calls.py"), cwd=tmp_path)
    assert r.returncode == 0, r.describe()
    assert {k[2]: v[:2] for k, v in pstats.Stats(str(named)).stats.items()}["fib"] == (1, 8361)

    r = _run(snakescope, "--exact", "--format", "pstats", script("calls.py"), cwd=tmp_path)
    assert r.returncode == 0, r.describe()
    written = list(tmp_path.glob("snakescope-*.pstats"))
    assert len(written) == 1, list(tmp_path.iterdir())
    assert f"wrote {written[0]} (pstats)" in r.stderr
    assert {k[2]: v[:2] for k, v in pstats.Stats(str(written[0])).stats.items()}["fib"] == (1, 8361)


@pytest.mark.parametrize("args, line", [
    (["run", "--python", PYTHON, "--format", "pstats", "-c", "pass"],
     "error: a sampling run has no exact call counts"),
    (["run", "--python", PYTHON, "-o", "out.pstats", "-c", "pass"],
     "error: a sampling run has no exact call counts"),
    (["run", "--python", PYTHON, "--exact", "--format", "flamegraph", "-c", "pass"],
     "error: an --exact run has no sampled stacks"),
    # The output's name says the format with --exact too (it used to get pstats bytes).
    (["run", "--python", PYTHON, "--exact", "-o", "out.svg", "-c", "pass"],
     "error: an --exact run has no sampled stacks"),
    (["run", "--python", PYTHON, "--memory", "off", "--format", "timeline", "-c", "pass"],
     "error: a sampling run has no memory data"),
    (["record", "--format", "pstats", "--", PYTHON, "-c", "pass"],
     "error: a recording has no exact call counts"),
    (["record", "-o", "out.pstats", "--", PYTHON, "-c", "pass"],
     "error: a recording has no exact call counts"),
    (["report", "capture.json", "--format", "pstats"],
     "error: `capture.json` has no exact call counts"),
    (["report", "capture.json", "-o", "out.pstats"],
     "error: `capture.json` has no exact call counts"),
])
def test_pstats_where_nothing_is_exact_is_one_error_line(snakescope, tmp_path, args, line):
    (tmp_path / "capture.json").write_text(json.dumps(SYNTHETIC), encoding="utf-8")
    r = run([snakescope, *args], timeout=QUICK_TIMEOUT, cwd=tmp_path)
    error, hint = assert_error(r)
    assert error == line, r.describe()
    assert hint is not None and "can be written as" in hint, r.describe()
    assert "Traceback" not in r.stderr
    assert not list(tmp_path.glob("out.*")) and not list(tmp_path.glob("snakescope-*")), list(tmp_path.iterdir())


def test_the_registry_as_python_sees_it():
    from snakescope import _native

    table = {f["name"]: f for f in _native.formats()}
    assert list(table)[:3] == ["flamegraph", "speedscope", "collapsed"]
    assert table["pstats"]["suffixes"] == [".pstats"] and table["pstats"]["draws"] == ["exact"]
    assert table["pstats"]["binary"] and table["pprof"]["binary"] and not table["html"]["binary"]
    assert table["flamegraph"]["default_file"] == "snakescope-{pid}.svg"
    assert table["timeline"]["default_file"] == "snakescope-{pid}.timeline.svg"
    assert [n for n, f in table.items() if f["compares"]] == ["json", "text"]
    assert _native.DEFAULT_RATE_HZ == 1000.0 and _native.DEFAULT_MEMORY_INTERVAL == 512 * 1024

    import inspect

    import snakescope
    defaults = inspect.signature(snakescope.Profiler).parameters
    assert defaults["rate_hz"].default == _native.DEFAULT_RATE_HZ
    assert defaults["memory_interval"].default == _native.DEFAULT_MEMORY_INTERVAL


def test_profiler_save_follows_the_registry(tmp_path):
    import snakescope

    with snakescope.Profiler() as p:
        sum(i * i for i in range(200_000))
    p.save(tmp_path / "p.speedscope.json")
    assert json.loads((tmp_path / "p.speedscope.json").read_text())["$schema"].startswith("https://www.speedscope")
    p.save(tmp_path / "p.unknown")  # a name that implies nothing: a flame graph, as before
    assert (tmp_path / "p.unknown").read_text().startswith("<?xml")
    with pytest.raises(ValueError, match="no exact call counts to write as `pstats`"):
        p.save(tmp_path / "p.pstats")
    assert not (tmp_path / "p.pstats").exists()

    with snakescope.Profiler(exact=True) as e:
        sum(range(10))
    with pytest.raises(ValueError, match=r"no sampled stacks to write as `flamegraph`.*\(without --exact\)"):
        e.save(tmp_path / "e.svg", format="flamegraph")
    with pytest.raises(ValueError, match=r"`.*t\.pstats` names a pstats file, but the format is text"):
        e.save(tmp_path / "t.pstats", format="text")  # issue 22: text into a pstats name
    assert not (tmp_path / "t.pstats").exists()
    e.save(tmp_path / "e.out", format="pstats")
    assert pstats.Stats(str(tmp_path / "e.out")).stats
    e.save(tmp_path / "e.noext")  # a name that implies nothing: pstats for exact statistics
    assert pstats.Stats(str(tmp_path / "e.noext")).stats
    e.save(tmp_path / "e.json")  # the capture itself, with its exact section
    assert json.loads((tmp_path / "e.json").read_text())["exact"]["functions"]


@pytest.mark.parametrize("command", [["report", "{capture}", "--format", "text"],
                                     ["report", "{capture}", "--format", "collapsed"],
                                     ["diff", "{capture}", "{capture}"],
                                     ["diff", "{capture}", "{capture}", "--format", "json"]])
def test_a_reader_that_goes_away_ends_the_output_quietly(snakescope, tmp_path, command):
    # `| head -1` once head has gone: standard output's reader is closed
    # before the first write, so every write meets EPIPE.
    capture = tmp_path / "capture.json"
    capture.write_text(json.dumps(SYNTHETIC), encoding="utf-8")
    args = [a.format(capture=capture) for a in command]
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([snakescope, *args], stdout=write, stderr=subprocess.PIPE,
                              timeout=QUICK_TIMEOUT)
    finally:
        os.close(write)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert err == "", err


# ---- exact statistics and line timings in the text report


def _report_text(snakescope, capture: dict, tmp_path) -> str:
    path = tmp_path / "exact.json"
    path.write_text(json.dumps(capture), encoding="utf-8")
    r = run([snakescope, "report", str(path), "--format", "text"], timeout=QUICK_TIMEOUT)
    assert r.returncode == 0, r.describe()
    assert r.stderr == "", r.describe()
    return r.stdout


def test_text_report_of_an_exact_capture(snakescope, tmp_path):
    text = _report_text(snakescope, synthetic_exact(), tmp_path)
    assert "no samples" not in text and "thread-samples" not in text, text
    assert "  no stacks sampled: every call counted and timed (exact), and line timings\n" in text
    assert "\n         122 function calls (102 primitive calls) in 1.000 seconds\n" in text
    rows = {line.split()[-1]: line.split()[:-1] for line in text.splitlines()
            if line.endswith(("(main)", "(fib)", "builtins.len}"))}
    assert rows["/src/app.py:1(main)"] == ["1", "0.100", "0.100", "1.000", "1.000"], rows
    assert rows["/src/app.py:5(fib)"] == ["21/1", "0.600", "0.029", "0.600", "0.600"], rows
    assert rows["builtins.len}"][:5] == ["100", "0.300", "0.003", "0.300", "0.003"], rows
    # The cumulative order, as pstats sorts it.
    order = [line.split()[-1] for line in text.splitlines() if line.endswith(("(main)", "(fib)", "len}"))]
    assert order == ["/src/app.py:1(main)", "/src/app.py:5(fib)", "builtins.len}"], order
    line3 = next(line for line in text.splitlines() if line.startswith("     3 "))
    assert line3.split()[:5] == ["3", "100", "900000.0", "9000.0", "90.0"], line3
    assert line3.endswith('    for i in range(100): len("x")'), line3


def test_exact_table_is_what_pstats_prints(snakescope, tmp_path):
    # The same statistics written as pstats and printed by Python's pstats.
    capture = synthetic_exact()
    text = _report_text(snakescope, capture, tmp_path)
    prof = tmp_path / "exact.pstats"
    r = run([snakescope, "report", str(tmp_path / "exact.json"), "-o", str(prof)], timeout=QUICK_TIMEOUT)
    assert r.returncode == 0, r.describe()
    stream = io.StringIO()
    pstats.Stats(str(prof), stream=stream).sort_stats("cumulative").print_stats()
    printed = stream.getvalue()
    expected = printed[printed.index("         122 function calls"):].rstrip("\n")
    ours = text[text.index("         122 function calls"):text.index("\n\nLine timings")]
    assert ours == expected, f"{ours}\n---\n{expected}"


def test_line_timings_in_kernprofs_layout(snakescope, tmp_path):
    # `kernprof -l -v`'s layout over the synthetic timings (line 2: 1 hit in
    # 0.1 s, line 3: 100 hits in 0.9 s, so 10 % and 90 % of 1 s), the source
    # from the capture. `run` prints and writes OUTPUT.lines.txt from the same writer.
    text = _report_text(snakescope, synthetic_exact("/src/app.py"), tmp_path)
    expected = "\n".join([
        "Timer unit: 1e-06 s",
        "",
        "Total time: 1 s",
        "File: /src/app.py",
        "Function: main at line 1",
        "",
        "Line #      Hits         Time  Per Hit   % Time  Line Contents",
        "==============================================================",
        "     1                                           def main():",
        "     2         1     100000.0 100000.0     10.0      w = Worker(); w.fib(20)",
        '     3       100     900000.0   9000.0     90.0      for i in range(100): len("x")',
        "",
    ]) + "\n"
    assert text[text.index("Timer unit:"):] == expected
