"""`--opcodes` and `snakescope dis`: samples per bytecode instruction.

Ground truth by construction (tests/scripts/opcodes_heavy.py): `kernel`'s
loop has one heavy line of ~130 float instructions against two or three of
loop overhead, so that line's instructions hold well over 90 % of the
function's samples (measured 0.94-0.97 on 3.8-3.13: the loop's FOR_ITER and
STORE_FAST take the rest); with ~1,500 samples the binomial spread of a share
near 0.94 is about 0.006, so 0.90 leaves more than six standard deviations. The
instruction names are compared with what the target's own `dis` showed of
`kernel` at its end (`adaptive=True` on 3.11+): at every sampled offset the
same opname, specialised forms included, and the same line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import (
    RECORD_TIMEOUT,
    Interpreter,
    assert_error,
    attach,
    record,
    run,
    script,
    target_env,
    validate_capture,
)

SECONDS = 1.5
# The heavy line's instructions' share of the function's samples (self).
MIN_HEAVY_SHARE = 0.90

TARGET = script("opcodes_heavy.py")
# The package's own command, next to the interpreter running pytest (.venv):
# it lends its package to interpreters that do not have it.
COMMAND = str(Path(sys.executable).with_name("snakescope"))


def _heavy_line() -> int:
    lines = Path(TARGET).read_text().splitlines()
    return next(n for n, text in enumerate(lines, 1) if "# heavy" in text and "acc =" in text)


def _version(python: Interpreter) -> tuple[int, int]:
    major, minor = python.version.split(".")[:2]
    return int(major), int(minor)


def _dis_json(snakescope: str, capture: Path, function: str) -> dict:
    r = run([snakescope, "dis", str(capture), function, "--json"])
    assert r.returncode == 0, r.describe()
    return json.loads(r.stdout)


def _check(snakescope: str, python: Interpreter, capture: Path, truth: Path, how: str) -> None:
    doc = json.loads(capture.read_text())
    validate_capture(doc)
    view = _dis_json(snakescope, capture, "kernel")
    assert view["python_version"] == python.version
    assert view["opcode_table"], f"{how}: no opcode table recorded"
    heavy = _heavy_line()
    total = view["self_samples"]
    assert total >= 300, f"{how}: only {total} samples in kernel"
    on_heavy = sum(g["self"] for g in view["lines"] if g["line"] == heavy)
    share = on_heavy / total
    assert share >= MIN_HEAVY_SHARE, f"{how}: heavy line {heavy} has {share:.3f} of {total} samples"
    # The instructions' samples add up to the function's (none lost or double-counted).
    placed = sum(i["self"] for g in view["lines"] for i in g["instructions"])
    assert placed + view["unplaced_self"] == total
    assert view["unplaced_self"] == 0, f"{how}: samples outside the bytecode read"

    # What the target's own dis showed at its end, at every sampled offset.
    theirs = {off: (name, line) for off, name, line in json.loads(truth.read_text())["instructions"]}
    ours = {i["offset"]: (i["opname"], g["line"]) for g in view["lines"] for i in g["instructions"]}
    assert set(ours) == set(theirs), f"{how}: instruction offsets differ from dis"
    sampled = {i["offset"] for g in view["lines"] for i in g["instructions"] if i["self"] or i["total"]}
    assert sampled, f"{how}: no instruction has samples"
    differ = {off: (ours[off], theirs[off]) for off in sampled if ours[off] != theirs[off]}
    assert not differ, f"{how}: (ours, dis's) at sampled offsets: {differ}"
    names = {ours[off][0] for off in sampled}
    if python.free_threaded and _version(python) < (3, 14):
        # 3.13's free-threaded build does not specialise (PEP 703): the
        # names equal dis's above, generic ones.
        assert not any(n.endswith("_FLOAT") for n in names), names
    elif _version(python) >= (3, 11):
        # Float arithmetic is specialised by then, and the sampled bytecode shows it.
        assert any(n.endswith("_FLOAT") for n in names), f"{how}: no specialised name in {names}"
    else:
        assert not any(n.endswith("_FLOAT") for n in names), names


def test_record_opcodes(snakescope, python, tmp_path):
    out, truth = tmp_path / "rec.json", tmp_path / "dis.json"
    record(snakescope, [python.path, TARGET, f"{SECONDS:g}", str(truth)], out,
           options=["-q", "--opcodes"])
    _check(snakescope, python, out, truth, f"record on {python.id}")


def test_attach_opcodes(snakescope, python, spawn, tmp_path):
    """`record --pid`: the program is still running when sampling ends, so
    its bytecode is read once more then."""
    out, truth, ready = tmp_path / "pid.json", tmp_path / "dis.json", tmp_path / "ready"
    target = spawn([python.path, TARGET, "3", str(truth), str(ready)])
    target.wait_for_file(ready)
    attach(snakescope, target.pid, out, seconds=1.5, options=["-q", "--opcodes"])
    assert target.popen.wait(timeout=RECORD_TIMEOUT) == 0
    _check(snakescope, python, out, truth, f"record --pid on {python.id}")


def test_run_opcodes(snakescope, python, tmp_path):
    assert os.path.exists(COMMAND), f"{COMMAND}: the package's console script is not installed"
    out, truth = tmp_path / "run.json", tmp_path / "dis.json"
    r = subprocess.run([COMMAND, "run", "--python", python.path, "-q", "--opcodes", "-o", str(out),
                        TARGET, f"{SECONDS:g}", str(truth)],
                       cwd=tmp_path, env=target_env(), capture_output=True, text=True,
                       timeout=RECORD_TIMEOUT)
    assert r.returncode == 0, r.stderr
    _check(snakescope, python, out, truth, f"run on {python.id}")


def test_text_groups_instructions_under_source_lines(snakescope, any_python, tmp_path):
    out, truth = tmp_path / "rec.json", tmp_path / "dis.json"
    record(snakescope, [any_python.path, TARGET, "0.5", str(truth)], out, options=["-q", "--opcodes"])
    r = run([snakescope, "dis", str(out), f"{os.path.basename(TARGET)}:{_heavy_line()}"])
    assert r.returncode == 0, r.describe()
    text = r.stdout.splitlines()
    assert text[0].startswith(f"kernel ({TARGET}:"), text[0]
    heavy = _heavy_line()
    rows = [line for line in text if "acc = acc + x * x" in line]
    assert len(rows) == 1, text
    # The line's row: its share, its number, its source; its instructions follow.
    assert str(heavy) in rows[0].split() and "%" in rows[0], rows[0]
    following = text[text.index(rows[0]) + 1]
    assert "BINARY" in following or "LOAD_FAST" in following, following


def test_without_opcodes_the_capture_still_loads_and_dis_names_the_flag(snakescope, any_python, tmp_path):
    out = tmp_path / "plain.json"
    _, cap = record(snakescope, [any_python.path, TARGET, "0.2"], out, options=["-q"])
    assert "opcodes" not in json.loads(out.read_text())
    r = run([snakescope, "dis", str(out), "kernel"])
    error, hint = assert_error(r)
    assert "without --opcodes" in error
    assert hint and "--opcodes" in hint


def test_missing_and_ambiguous_functions_and_bad_files(snakescope, any_python, tmp_path):
    out, truth = tmp_path / "rec.json", tmp_path / "dis.json"
    record(snakescope, [any_python.path, TARGET, "0.3", str(truth)], out, options=["-q", "--opcodes"])
    error, hint = assert_error(run([snakescope, "dis", str(out), "kernal"]))
    assert error == f"error: no function `kernal` has samples in `{out}`"
    assert hint and "kernel" in hint
    error, _ = assert_error(run([snakescope, "dis", str(out), "opcodes_heavy.py:100000"]))
    assert "no function" in error
    error, _ = assert_error(run([snakescope, "dis", str(tmp_path / "missing.json"), "kernel"]))
    assert "cannot open" in error
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    error, _ = assert_error(run([snakescope, "dis", str(garbage), "kernel"]))
    assert "not a readable capture" in error
    error, _ = assert_error(run([snakescope, "dis", str(tmp_path), "kernel"]))
    assert "directory" in error


def test_exact_run_refuses_opcodes(snakescope, tmp_path):
    assert os.path.exists(COMMAND)
    r = run([COMMAND, "run", "--exact", "--opcodes", "-o", str(tmp_path / "x.pstats"), TARGET, "0.1"])
    error, hint = assert_error(r)
    assert "--opcodes" in error and hint and "--exact" in hint


@pytest.mark.parametrize("opcodes", [False, True])
def test_profiler_opcodes(opcodes):
    import snakescope
    sys.path.insert(0, os.path.dirname(TARGET))
    try:
        import opcodes_heavy
    finally:
        sys.path.pop(0)
    with snakescope.Profiler(opcodes=opcodes) as p:
        opcodes_heavy.main.__globals__["kernel"](200_000, 1.000001)
    doc = p.capture().to_dict()
    if not opcodes:
        assert "opcodes" not in doc
        return
    codes = [c for c in doc["opcodes"]["codes"] if c["function"] == "kernel"]
    assert len(codes) == 1 and codes[0]["self_samples"] > 0
    assert doc["opcodes"]["table"]["python_version"] == sys.version.split()[0]
