"""`run --exact` keys functions by code object: two with the same file,
first line and name (cProfile's one row) stay two rows, the second named
`name [2]` (tests/scripts/same_label.py, counts known by construction); and
its totals line says when pstats' total (every thread's time) passes the
wall time."""

from __future__ import annotations

import json
import subprocess
import sys

from support import REPO, script, target_env, validate_capture


def _exact(snakescope: str, tmp_path) -> tuple[dict, str]:
    out = tmp_path / "exact.json"
    r = subprocess.run([snakescope, "run", "--python", sys.executable, "--exact", "-q", "-o", str(out),
                        script("same_label.py")], capture_output=True, text=True, timeout=120,
                       env=target_env({"PYTHONPATH": str(REPO / "python")}))
    assert r.returncode == 0, r.stderr
    cap = json.loads(out.read_text())
    validate_capture(cap)
    text = subprocess.run([snakescope, "report", str(out), "--format", "text"], capture_output=True, text=True,
                          timeout=60)
    assert text.returncode == 0, text.stderr
    return cap, text.stdout


def _rows(cap: dict) -> dict[str, dict]:
    frames = cap["frames"]
    return {frames[f["frame"]]["function"]: f for f in cap["exact"]["functions"]}


def test_same_labelled_code_objects_stay_apart(snakescope, tmp_path):
    cap, _ = _exact(snakescope, tmp_path)
    rows = _rows(cap)
    # The one called more keeps the plain name.
    assert (rows["work"]["calls"], rows["work [2]"]["calls"]) == (5, 3)
    assert "work [3]" not in rows
    frames = cap["frames"]
    assert frames[rows["work"]["frame"]]["file"] == frames[rows["work [2]"]["frame"]]["file"] == "generated.py"
    # Each Timer's `inner` is one row, and `sorted` knows which called it how often.
    assert rows["inner"]["calls"] == rows["inner [2]"]["calls"] == 1
    index = {f["frame"]: i for i, f in enumerate(cap["exact"]["functions"])}
    sorted_row = next(f for name, f in rows.items() if "sorted" in name)
    callers = {frames[cap["exact"]["functions"][c["function"]]["frame"]]["function"]: c["calls"]
               for c in sorted_row["callers"]}
    # (Which is `[2]` goes by calls, then time: equal calls here, so either.)
    assert set(callers) == {"inner", "inner [2]"} and sorted(callers.values()) == [300, 700], callers
    assert len(index) == len({f["frame"] for f in cap["exact"]["functions"]}) == len(cap["exact"]["functions"])


def test_the_totals_line_gives_the_wall_time_when_threads_add_up(snakescope, tmp_path):
    cap, text = _exact(snakescope, tmp_path)
    total = sum(f["tottime_s"] for f in cap["exact"]["functions"])
    wall = cap["meta"]["duration_s"]
    # The sleeping thread's 0.3 s is in the total, beside the main thread's run.
    assert total > wall * 1.05, (total, wall)
    assert f"(wall time {wall:.3f} seconds: the seconds above add up every thread's time" in text
