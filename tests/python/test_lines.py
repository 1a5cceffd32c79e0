"""Exact line timing (`@profile` under `snakescope run`, `--lines`,
`Profiler(lines=...)`): kernprof -l -v's layout, hits equal to counts known
by construction (the same counts `sys.settrace` sees on every version), and
line time shares from work known by construction."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

from support import K_SIGMA, RECORD_TIMEOUT, REPO, script, target_env

ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)  (.*)$")
HEADER = "Line #      Hits         Time  Per Hit   % Time  Line Contents"


def parse(text: str) -> dict[str, dict]:
    """kernprof's text → {function: {"total": s, "rows": {code: (hits, time, share)}}}."""
    functions: dict[str, dict] = {}
    current = None
    lines = text.splitlines()
    assert lines[0] == "Timer unit: 1e-06 s", lines[:2]
    for i, line in enumerate(lines):
        if line.startswith("Function: "):
            name = line.split()[1]
            assert lines[i - 2].startswith("Total time: ") and lines[i - 1].startswith("File: ")
            assert lines[i + 2] == HEADER and lines[i + 3] == "=" * len(HEADER)
            current = functions[name] = {"total": float(lines[i - 2].split()[2]), "rows": {}}
        elif current is not None and (m := ROW.match(line)):
            code = m.group(6).split("#")[0].strip()
            current["rows"][code] = (int(m.group(2)), float(m.group(3)), float(m.group(5)))
    return functions


def run_lines(snakescope: str, interp_path: str, tmp_path: Path, target: str, *extra: str):
    """`snakescope run` a script; returns (process, parsed line tables)."""
    out = tmp_path / "prof.json"
    env = target_env({"PYTHONPATH": str(REPO / "python")})
    proc = subprocess.run([snakescope, "run", "--python", interp_path, "-o", str(out), *extra, target],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    written = (tmp_path / "prof.lines.txt").read_text()
    assert written in proc.stderr  # printed as written, after the program
    return proc, parse(written)


def hits(table: dict, function: str) -> dict[str, int]:
    return {code: row[0] for code, row in table[function]["rows"].items()}


def test_decorated_lines_hits_are_exact(snakescope, python, tmp_path):
    proc, table = run_lines(snakescope, python.path, tmp_path, script("lines_known.py"))
    assert proc.stdout == "lines_known done 40425 5 45\n"
    calls, n = 4, 1000  # main thread + 3 threads
    assert hits(table, "loop") == {
        "total = 0": calls, "for i in range(n):": calls * (n + 1), "total += i": calls * n,
        "if i % 4 == 0:": calls * n, "total -= 1": calls * n // 4, "return total": calls}
    fib11 = 89
    assert hits(table, "fib") == {"if k < 2:": 2 * fib11 - 1, "return k": fib11,
                                  "return fib(k - 1) + fib(k - 2)": fib11 - 1}
    assert hits(table, "squares") == {"for i in range(n):": 51, "yield i * i": 50}
    assert hits(table, "fails") == {"if x:": 10, "raise ValueError(x)": 5, "return 0": 5}
    assert set(table) == {"loop", "fib", "squares", "fails"}  # `unselected` and main are not timed
    for name, f in table.items():
        rows = f["rows"].values()
        assert all(t >= 0 for _, t, _ in rows)
        assert math.isclose(sum(t for _, t, _ in rows) * 1e-6, f["total"], rel_tol=0.01, abs_tol=1e-5), name
        assert math.isclose(sum(s for _, _, s in rows), 100.0, abs_tol=0.1 * len(rows)), name


def test_line_time_shares_follow_the_work(snakescope, python, tmp_path):
    _check_line_time_shares(snakescope, python, tmp_path)


def test_line_time_shares_under_load(snakescope, python, saturated, tmp_path):
    _check_line_time_shares(snakescope, python, tmp_path)


def _check_line_time_shares(snakescope, python, tmp_path) -> None:
    # Work known by construction: 7 and 3 units per repetition, 150
    # repetitions, so the first line's share of the two is 0.7 of their CPU
    # time. The timer is exact but reads wall time, as kernprof's does.
    # Quiet machine: what moves the shares is preemption and frequency,
    # averaged over 300 calls: 0.05 is far above that and far below a
    # misattribution (which moves whole calls: 0.3 or more).
    # Busy machine: each of the K times the scheduler preempted the thread
    # (the target counts them: involuntary context switches), the wait for a
    # CPU is charged to whichever line was running, which is line 7 with
    # probability ~0.7 (preemption comes with CPU time). The waits make up a
    # fraction f = 1 - cpu/wall of split()'s wall time, so their share error
    # has standard deviation f * sqrt(p(1-p)/K_eff), K_eff = (sum W)^2 /
    # sum W^2 = K for equal waits and K/2 for exponentially distributed ones
    # (E[W^2] = 2 E[W]^2): K/2 is used. K_SIGMA of those are allowed on top
    # of the quiet-machine 0.05.
    proc, table = run_lines(snakescope, python.path, tmp_path, script("lines_split.py"))
    stats = json.loads(proc.stdout.splitlines()[-1])
    rows = table["split"]["rows"]
    seven, three = rows["busy(7)"], rows["busy(3)"]
    assert seven[0] == three[0] == 150
    share = seven[1] / (seven[1] + three[1])
    waits = max(0.0, 1.0 - stats["cpu"] / stats["wall"])
    k = max(1, stats["preempted"] // 2)
    tolerance = 0.05 + K_SIGMA * waits * math.sqrt(0.7 * 0.3 / k)
    assert abs(share - 0.7) < tolerance, (share, tolerance, stats, rows)


def test_lines_patterns_select_without_code_change(snakescope, python, tmp_path):
    _, table = run_lines(snakescope, python.path, tmp_path, script("lines_plain.py"),
                         "--lines", "lines_plain:alpha", "--lines", "lines_plain:Beta.*")
    assert set(table) == {"alpha", "Beta.method"}
    assert hits(table, "alpha") == {"s = 0": 1, "for i in range(n):": 301, "s += i": 300, "return s": 1}
    assert hits(table, "Beta.method")["return [i for i in range(n)]"] == 20


def test_lines_with_exact_profile(snakescope, python, tmp_path):
    """--exact and line timing at once (on 3.11 they share the profile hook)."""
    out = tmp_path / "prof.pstats"
    env = target_env({"PYTHONPATH": str(REPO / "python")})
    proc = subprocess.run([snakescope, "run", "--python", python.path, "--exact", "-q", "-o", str(out),
                           script("lines_known.py")],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    import pstats
    calls = {k[2]: v[:2] for k, v in pstats.Stats(str(out)).stats.items()}
    assert calls["fib"] == (1, 177) and calls["loop"] == (4, 4)
    table = parse((tmp_path / "prof.lines.txt").read_text())
    assert hits(table, "fib")["if k < 2:"] == 177 and hits(table, "loop")["total += i"] == 4000


def test_pattern_without_function_is_refused(snakescope, tmp_path):
    proc = subprocess.run([snakescope, "run", "--python", sys.executable, "--lines", "mod:",
                           script("lines_plain.py")],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT, env=target_env())
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: line pattern `mod:` names no function\nhint: "), proc.stderr
    assert "Traceback" not in proc.stderr and "panicked" not in proc.stderr


def test_profiler_api_lines(tmp_path):
    import snakescope

    def target(n):
        acc = []
        for i in range(n):
            acc.append(i)
        return acc

    @snakescope.profile
    def decorated():
        return 1

    assert decorated() == 1  # unchanged outside a profiler
    with snakescope.Profiler(lines=[target]) as p:
        target(25)
        decorated()
    stats = p.line_stats()
    by_name = {key[2].rsplit(".", 1)[-1]: {line: h for line, h, _ in rows} for key, rows in stats.items()}
    first = target.__code__.co_firstlineno
    assert by_name["target"] == {first + 1: 1, first + 2: 26, first + 3: 25, first + 4: 1}
    assert by_name["decorated"] == {decorated.__code__.co_firstlineno + 2: 1}
    assert "Function: test_profiler_api_lines.<locals>.target at line" in p.lines_text()
    # The capture holds the same timings, with the functions' source.
    capture = p.capture()
    # Lines always; samples only if the sampler caught the block (microseconds).
    assert capture.sections in (["lines"], ["samples", "lines"]), capture.sections
    data = capture.to_dict()
    in_capture = {data["frames"][f["frame"]]["function"]: {t["line"]: t["hits"] for t in f["lines"]}
                  for f in data["lines"]["functions"]}
    assert in_capture["target"] == by_name["target"]
    (timed,) = [f for f in data["lines"]["functions"] if data["frames"][f["frame"]]["function"] == "target"]
    assert timed["source"][2].strip() == "for i in range(n):"
    target(5)  # after the block: nothing is recorded any more, nothing breaks
    assert p.line_stats() == stats


def test_a_whole_module_is_timed_with_its_source(snakescope, python, tmp_path):
    """`<module>` timed by line: the rows after a class and a function
    defined in the middle keep their source text (the table once stopped at
    the first class), with the hits known by construction."""
    proc, table = run_lines(snakescope, python.path, tmp_path, script("module_lines.py"),
                            "--lines", "module_lines:<module>")
    assert proc.stdout == f"module_lines {sum(range(200)) - sum(range(300))}\n"
    got = hits(table, "<module>")
    assert got["for i in range(200):"] == 201 and got["x += i"] == 200
    assert got["for j in range(300):"] == 301 and got["x -= j"] == 300
    assert got['print("module_lines", after())'] == 1
