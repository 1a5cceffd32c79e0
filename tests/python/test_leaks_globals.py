"""Leaks leave out what module globals hold: tests/scripts/leak_vs_global.py
keeps 64 MiB in a global CACHE and leaks 32 MiB in a reference cycle that a
reference taken through the C API keeps alive, reachable from no global.
Under `--memory exact` every block is recorded, so the bytes are known: the
cache's site is held by the global (not leaked) and the global is listed
with its 64 MiB; the cycle's site is leaked, held by no global."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support import RECORD_TIMEOUT, REPO, script, target_env, validate_capture

MIB = 1 << 20


def _line(text: str) -> int:
    lines = Path(script("leak_vs_global.py")).read_text().splitlines()
    return next(i for i, s in enumerate(lines, 1) if text in s)


def _site_at(cap: dict, line: int) -> dict:
    """The site allocating most at that line of the script (the bytearrays')."""
    at = [s for s in cap["memory"]["sites"] if s["frames"]
          and cap["frames"][s["frames"][-1]]["file"].endswith("leak_vs_global.py")
          and cap["frames"][s["frames"][-1]]["line"] == line]
    return max(at, key=lambda s: s["end_bytes"])


def test_a_global_cache_is_held_and_a_hidden_cycle_leaks(snakescope, python, tmp_path):
    if python.free_threaded:
        pytest.xfail("free-threaded build: what module globals hold is found by the native heap walk, not built there")
    out = tmp_path / "mem.json"
    r = subprocess.run([snakescope, "run", "--python", python.path, "-q", "--memory", "exact", "-o", str(out),
                        script("leak_vs_global.py")], capture_output=True, text=True,
                       timeout=RECORD_TIMEOUT, cwd=tmp_path, env=target_env({"PYTHONPATH": str(REPO / "python")}))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"
    cap = json.loads(out.read_text())
    validate_capture(cap)
    cache = _site_at(cap, _line("# kept"))
    leak = _site_at(cap, _line("# leaked"))
    assert 64 * MIB <= cache["end_bytes"] < 65 * MIB, cache
    assert cache.get("global_bytes") == cache["end_bytes"], cache
    assert 32 * MIB <= leak["end_bytes"] < 33 * MIB, leak
    assert "global_bytes" not in leak, leak
    (g,) = [g for g in cap["memory"]["globals"] if (g["module"], g["name"]) == ("__main__", "CACHE")]
    assert 64 * MIB <= g["bytes"] < 65 * MIB and g["objects"] >= 65, g
    assert all(g["bytes"] < 32 * MIB for g in cap["memory"]["globals"] if g["name"] != "CACHE")
    # The text report: the leak listed under leaks, the cache under globals.
    text = subprocess.run([snakescope, "report", str(out)], capture_output=True, text=True, timeout=60).stdout
    leaks = text.split("Leaked (")[1].split("\n\n")[0]
    assert f"leak_vs_global.py:{_line('# leaked')}" in leaks and f":{_line('# kept')})" not in leaks, leaks
    held = text.split("Held by module globals")[1].split("\n\n")[0]
    assert "__main__.CACHE" in held, held
