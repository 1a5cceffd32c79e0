"""The automatic heap census stays cheap on a big heap: a built-in container
with more than 100,000 items has a sample of them read (every k-th standing
for k), and the census says it is an estimate. Ground truth:
tests/scripts/big_heap.py keeps N distinct ints in one list and 1,000 floats
in a small list."""

from __future__ import annotations

import json
import subprocess
import sys

from support import RECORD_TIMEOUT, REPO, script, target_env, validate_capture


def _exit_census(snakescope: str, tmp_path, n: int) -> dict:
    out = tmp_path / "mem.json"
    r = subprocess.run([snakescope, "run", "--python", sys.executable, "-q", "-o", str(out), script("big_heap.py")],
                       capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path,
                       env=target_env({"PYTHONPATH": str(REPO / "python"), "BIG_HEAP_N": str(n)}))
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{n}\n"
    cap = json.loads(out.read_text())
    validate_capture(cap)
    (census,) = [c for c in cap["memory"]["census"] if c["when"] == "exit"]
    return census


def _types(census: dict) -> dict[str, dict]:
    return {t["type_name"]: t for t in census["types"]}


def test_a_big_container_is_sampled_and_says_so(snakescope, tmp_path):
    n = 2_000_000
    census = _exit_census(snakescope, tmp_path, n)
    assert census.get("estimated") is True
    ints = _types(census)["int"]
    # Every 200th item read (2,000,000 // 10,000), each standing for 200:
    # the list's ints are counted to within one step, plus the program's
    # other ints (a few thousand at most, counted one by one).
    assert n - 200 <= ints["count"] <= n + 10_000, ints
    size = sys.getsizeof(n + 1_000_000)  # each int of the list
    assert ints["bytes"] >= (n - 200) * size, ints
    # The small list's floats were read one by one: all of them.
    assert _types(census)["float"]["count"] >= 1000


def test_a_small_heap_is_counted_object_by_object(snakescope, tmp_path):
    census = _exit_census(snakescope, tmp_path, 50_000)
    assert "estimated" not in census
    ints = _types(census)["int"]["count"]
    assert 50_000 <= ints <= 60_000, ints
