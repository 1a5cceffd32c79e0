"""`snakescope diff` across files and on what was measured (issue 21).

Programs built for the purpose (tests/scripts/diff_*.py), each with its
ground truth by construction:

- diff_before.py -> diff_after.py: one function edited on one line, one
  renamed with its body unchanged, one removed, every line moved down. The
  diff pairs the functions by name, the renamed one by body (and says it is
  a guess), keeps the removed one in the before file, and aligns the lines
  by content: the edited line is one row with its before and after place.
- diff_io.py serial vs concurrent against a local HTTP server that holds
  every request for HOLD_S: the serial run waits at least N * HOLD_S, the
  concurrent one about HOLD_S; both do the same CPU work. The headline's
  wall time must fall, and the verdict be `faster`, though the sampled (CPU)
  time barely moves.
- diff_cpu.py 2 vs 1: half the CPU work, run while every core is saturated
  by spinning processes: the verdict may be `within noise` or `faster`,
  never `slower`, and the CPU time (load-independent) must fall.
- diff_cpu.py 1 vs itself, five runs a side: not significant.

No assertion reads a wall-clock duration against a threshold of its own:
the signs and the verdicts are what is checked, with margins set by the
construction (a held request cannot be answered sooner than its hold).
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from pathlib import Path

import pytest

from support import QUICK_TIMEOUT, RECORD_TIMEOUT, SCRIPTS, record, run

BEFORE = SCRIPTS / "diff_before.py"
AFTER = SCRIPTS / "diff_after.py"
CPU = SCRIPTS / "diff_cpu.py"
IO = SCRIPTS / "diff_io.py"
ROUNDS = "12"  # about 0.5 s of CPU for diff_before.py: 100+ samples per function
HOLD_S = 0.25
REQUESTS = 8


def diff(snakescope: str, *args: str, timeout: float = QUICK_TIMEOUT) -> tuple[int, str, str]:
    result = run([snakescope, "diff", *args], timeout=timeout)
    assert "panicked" not in result.stderr, result.describe()
    return result.returncode, result.stdout, result.stderr


def diff_json(snakescope: str, *args: str, timeout: float = QUICK_TIMEOUT) -> dict:
    status, out, err = diff(snakescope, "--format", "json", *args, timeout=timeout)
    assert status == 0, err
    return json.loads(out)


def line_of(path: Path, marker: str) -> int:
    """The number of the one line of `path` containing `marker`."""
    found = [i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text]
    assert len(found) == 1, (path, marker, found)
    return found[0]


def measure(d: dict, name: str) -> dict:
    return next(m for m in d["headline"]["measures"] if m["name"] == name)


@pytest.fixture(scope="module")
def pair(tmp_path_factory, snakescope, any_python) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("pair")
    before, after = tmp / "before.json", tmp / "after.json"
    record(snakescope, [any_python.path, str(BEFORE), ROUNDS], before)
    record(snakescope, [any_python.path, str(AFTER), ROUNDS], after)
    return before, after


def test_functions_pair_by_name_and_body_and_vanished_ones_stay_before(snakescope, pair):
    d = diff_json(snakescope, *map(str, pair))
    assert d["matched_scripts"] == {"before": str(BEFORE), "after": str(AFTER),
                                    "lines_aligned": True}
    rows = {(f["name"], f["file"]): f for f in d["functions"]}
    # Same name: one row in the after file, with both sides' samples.
    for name in ("total_squares", "main"):
        f = rows.get((name, str(AFTER)))
        assert f is not None, sorted(rows)
        assert f["before_file"] == str(BEFORE) and "renamed_from" not in f, f
        assert (name, str(BEFORE)) not in rows
    for name in ("total_squares", "main"):
        c = rows[(name, str(AFTER))]["self" if name != "main" else "total"]
        assert c["before_samples"] > 0 and c["after_samples"] > 0, (name, c)
    # Renamed, body unchanged: paired, and marked as a guess.
    tally = rows[("tally_evens", str(AFTER))]
    assert tally["renamed_from"] == "count_evens", tally
    assert tally["self"]["before_samples"] > 0 and tally["self"]["after_samples"] > 0
    assert not any(name == "count_evens" for name, _ in rows)
    # Removed: keeps the before location, and has nothing after.
    checksum = rows[("checksum", str(BEFORE))]
    assert "before_file" not in checksum
    assert checksum["self"]["before_samples"] > 0 and checksum["self"]["after_samples"] == 0
    assert ("checksum", str(AFTER)) not in rows


def test_lines_align_by_content_and_an_edit_is_one_row(snakescope, pair):
    d = diff_json(snakescope, *map(str, pair))
    lines = d["lines"]
    edited = (line_of(BEFORE, "# edited"), line_of(AFTER, "# edited"))
    assert edited[0] != edited[1], "the scripts must move the edited line"
    row = [x for x in lines if x["file"] == str(AFTER) and x["line"] == edited[1]]
    assert len(row) == 1, row
    row = row[0]
    assert (row["before_file"], row["before_line"], row["edited"]) == (str(BEFORE), edited[0], True)
    assert row["before_samples"] > 0 and row["after_samples"] > 0, row
    # The before place has no row of its own.
    assert not [x for x in lines if x["file"] == str(BEFORE) and x["line"] == edited[0]]
    # An unchanged line that moved (the renamed function's count) is one
    # row too, not marked edited.
    moved = (line_of(BEFORE, "count += 1"), line_of(AFTER, "count += 1"))
    row = [x for x in lines if x["file"] == str(AFTER) and x["line"] == moved[1]]
    assert len(row) == 1 and row[0]["before_line"] == moved[0], row
    assert "edited" not in row[0]
    # Lines of the removed function keep the before file.
    gone = line_of(BEFORE, "acc = (acc * 31 + v)")
    row = [x for x in lines if x["file"] == str(BEFORE) and x["line"] == gone]
    assert len(row) == 1 and row[0]["after_samples"] == 0 and row[0]["before_samples"] > 0, row


def test_text_states_the_guess_and_the_edit(snakescope, pair):
    status, out, err = diff(snakescope, *map(str, pair), "-n", "1000")
    assert status == 0, err
    assert "(guess: renamed from count_evens in " in out, out
    assert re.search(rf"{re.escape(str(AFTER))}:{line_of(AFTER, '# edited')}  total_squares  "
                     rf"\(was {re.escape(str(BEFORE))}:{line_of(BEFORE, '# edited')}, edited\)", out), out
    assert re.search(r"^  verdict  (faster|slower|within noise): ", out, re.M), out


def with_own_frames(capture: Path, out: Path) -> Path:
    """The capture with a frame of snakescope's bootstrap at the root of
    every stack and one of `@profile`'s wrappers above its leaf, as a build
    that leaked them would write."""
    c = json.loads(capture.read_text())
    package = "/venv/lib/python3.12/site-packages/snakescope"
    c["frames"] += [{"function": "main", "file": f"{package}/_run.py", "line": 300},
                    {"function": "wrapper", "file": f"{package}/_lines.py", "line": 80}]
    run_frame, wrapper = len(c["frames"]) - 2, len(c["frames"]) - 1
    for stack in c["stacks"]:
        stack["frames"] = [run_frame, *stack["frames"][:-1], wrapper, stack["frames"][-1]]
    out.write_text(json.dumps(c))
    return out


def test_snakescope_frames_never_show(snakescope, pair, tmp_path):
    before = with_own_frames(pair[0], tmp_path / "b.json")
    after = with_own_frames(pair[1], tmp_path / "a.json")
    d = diff_json(snakescope, str(before), str(after))
    files = {f["file"] for f in d["functions"]} | {x["file"] for x in d["lines"]}
    assert not [f for f in files if "/snakescope/" in f], files
    # The same pairing as without them: the leaked frames changed nothing.
    assert d["functions"] == diff_json(snakescope, *map(str, pair))["functions"]
    status, out, _ = diff(snakescope, str(before), str(after), "-n", "100")
    assert status == 0 and "_run.py" not in out and "_lines.py" not in out
    for fmt in ("text", "collapsed"):
        result = run([snakescope, "report", str(before), "--format", fmt], timeout=QUICK_TIMEOUT)
        assert result.returncode == 0, result.describe()
        assert "_run.py" not in result.stdout and "_lines.py" not in result.stdout, result.stdout


class HoldingHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET after holding it for HOLD_S."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        time.sleep(HOLD_S)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class HoldingServer(http.server.ThreadingHTTPServer):
    # All REQUESTS connect at once: with socketserver's backlog of 5 the
    # kernel drops the others' SYNs, which are sent again a second later.
    request_queue_size = 64


@pytest.fixture
def holding_server():
    server = HoldingServer(("127.0.0.1", 0), HoldingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_io_bound_headline_is_the_wall_time(snakescope, any_python, holding_server, tmp_path):
    serial, concurrent = tmp_path / "serial.json", tmp_path / "concurrent.json"
    for mode, out in (("serial", serial), ("concurrent", concurrent)):
        record(snakescope, [any_python.path, str(IO), mode, holding_server, str(REQUESTS)], out)
    d = diff_json(snakescope, str(serial), str(concurrent))
    wall = measure(d, "wall")
    # By construction the serial run waited for every hold in turn.
    assert wall["before_s"] >= REQUESTS * HOLD_S, wall
    assert wall["compared"] and wall["change_s"] < 0, wall
    assert wall["direction"] == "faster", wall
    # The CPU work is the same: it does not outvote the wall clock.
    assert d["headline"]["verdict"] == "faster", d["headline"]
    status, out, err = diff(snakescope, str(serial), str(concurrent))
    assert status == 0, err
    assert re.search(r"^  wall .* -\d+\.\d+ s +\(-\d+\.\d%\)  faster$", out, re.M), out
    assert "  verdict  faster: wall fell" in out, out


def test_half_the_cpu_work_under_load_is_never_slower(snakescope, any_python, saturated, tmp_path):
    before, after = tmp_path / "two.json", tmp_path / "one.json"
    record(snakescope, [any_python.path, str(CPU), "2"], before, timeout=2 * RECORD_TIMEOUT)
    record(snakescope, [any_python.path, str(CPU), "1"], after, timeout=2 * RECORD_TIMEOUT)
    d = diff_json(snakescope, str(before), str(after))
    assert d["headline"]["verdict"] in ("faster", "within_noise"), d["headline"]
    # CPU time does not move with the load: half the work is less. (The
    # wall clock may: another load may fall on one run only, which the
    # verdict then calls noise.)
    cpu = measure(d, "cpu")
    assert cpu["change_s"] < 0 and cpu["direction"] != "slower", cpu
    # --fail-if-slower with no slack passes on the trustworthy verdict.
    status, _, err = diff(snakescope, str(before), str(after), "--fail-if-slower", "0%")
    assert status == 0, err


def test_several_runs_of_one_program_are_not_significant(snakescope, any_python):
    cmd = [any_python.path, str(CPU), "1"]
    status, out, err = diff(snakescope, "--format", "json", "--repeat", "5", "--", *cmd, "--", *cmd,
                            timeout=20 * RECORD_TIMEOUT)
    assert status == 0, err
    d = json.loads(out)
    h = d["headline"]
    assert (h["before_runs"], h["after_runs"]) == (5, 5)
    assert h["verdict"] == "within_noise", h
    for m in h["measures"]:
        assert m["p_value"] is not None and m["direction"] == "within_noise", m
    assert d["before"]["runs"] == 5


def test_captures_per_side_pool_and_half_the_work_is_significant(snakescope, any_python, tmp_path):
    sides = {"2": [], "1": []}
    for i in range(5):  # interleaved, as --repeat does
        for units, paths in sides.items():
            out = tmp_path / f"u{units}-{i}.json"
            record(snakescope, [any_python.path, str(CPU), units], out)
            paths.append(str(out))
    d = diff_json(snakescope, *sides["2"], "--", *sides["1"])
    cpu = measure(d, "cpu")
    # Five runs a side wholly separated give the exact p of 2/252.
    assert cpu["direction"] == "faster" and cpu["p_value"] < 0.01, cpu
    assert d["headline"]["verdict"] in ("faster", "within_noise"), d["headline"]
    # Pooled samples are per run: about one run's worth.
    assert d["before"]["runs"] == 5
    one = json.loads(Path(sides["2"][0]).read_text())
    per_run = sum(s["count"] for s in one["stacks"]) / 1000
    assert d["before"]["time_s"] == pytest.approx(per_run, rel=0.5)


def test_markdown_summary(snakescope, pair):
    status, out, err = diff(snakescope, *map(str, pair), "--markdown", "-n", "3")
    assert status == 0, err
    assert out.startswith("### snakescope diff: "), out
    assert re.search(r"^\| wall time \| \d+\.\d{3} s \| \d+\.\d{3} s \| [+-]\d+\.\d{3} s", out, re.M), out
    assert re.search(r"^\*\*(faster|slower|within noise)\*\*: ", out, re.M), out
    table = out.split("| self time before | after | change | function |\n", 1)[1]
    rows = table.splitlines()[1:]
    assert 1 <= len(rows) <= 3 and all(r.startswith("| ") for r in rows), out


def test_bad_shapes_are_refused_with_a_hint(snakescope, pair):
    for args in ([str(pair[0])], [str(pair[0]), str(pair[1]), str(pair[1])],
                 ["--repeat", "3", str(pair[0])], ["--repeat", "3", "--", "python3"]):
        status, out, err = diff(snakescope, *args)
        assert status == 2, (args, err)
        lines = err.splitlines()
        assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), (args, err)
