"""`snakescope dump --pid PID [--json]`: one snapshot of every thread's stack.

Frames in dump are LEAF FIRST (contract), unlike captures. Each test runs on
every interpreter of the version matrix (support.interpreters.MATRIX), as in test_record.py.
"""

from __future__ import annotations

import json
import time

import pytest

from support import (
    MATRIX,
    QUICK_TIMEOUT,
    accepted_names,
    assert_clean_stderr,
    has_qualnames,
    marker_lines,
    read_info,
    require_interpreter,
    run,
    script,
    validate_dump,
)


@pytest.fixture(params=MATRIX, ids=[i.id for i in MATRIX])
def python(request):
    """Each interpreter of the version matrix in turn; skipped with a reason when absent."""
    return require_interpreter(request.param)


def _holds_gil(python, holds: bool):
    """What dump reports for a thread that holds the GIL (or not): null without a GIL."""
    return None if python.free_threaded else holds


def _dump(snakescope, pid, *options):
    result = run([snakescope, "dump", "--pid", str(pid), *options], timeout=QUICK_TIMEOUT)
    assert result.returncode == 0, result.describe()
    assert_clean_stderr(result)
    return result


def test_dump_single_thread(python, snakescope, spawn):
    target_path = script("idle_forever.py")
    marks = marker_lines(target_path, r"#\s*loop:\s*(\w+)")
    target = spawn([python.path, target_path])
    target.wait_for_line("ready")

    text = _dump(snakescope, target.pid)
    assert "target_loop" in text.stdout, text.describe()

    result = _dump(snakescope, target.pid, "--json")
    threads = validate_dump(json.loads(result.stdout))
    assert target.alive(), "dump stopped or killed the target"

    # A single-threaded program: one thread, the main one (tid == pid), always
    # running Python code in target_loop, called from <module>, holding the GIL.
    assert [t["tid"] for t in threads] == [target.pid], threads
    main = threads[0]
    assert main["name"] in accepted_names(python, "MainThread"), main
    functions = [f["function"] for f in main["frames"]]
    assert functions == ["target_loop", "<module>"], f"frames (leaf first): {functions}"
    leaf = main["frames"][0]
    assert leaf["file"] == target_path and leaf["qualname"] == "target_loop", leaf
    assert marks["begin"] <= leaf["line"] < marks["end"], \
        f"line {leaf['line']} is not in target_loop's loop (lines {marks['begin']}-{marks['end'] - 1})"
    assert main["idle"] is False and main["gil"] is _holds_gil(python, True), main
    if python.free_threaded:
        assert "GIL: n/a" in text.stdout and "free-threaded" in text.stdout, text.stdout


def test_dump_many_threads(python, snakescope, spawn, tmp_path):
    info = tmp_path / "threads.json"
    target = spawn([python.path, script("many_threads.py"), "120", str(info)])
    target.wait_for_file(info)
    names = read_info(info)
    # The file is written just before the main thread blocks in join(); give
    # it time to get there (a thread on its way to blocking is rightly active).
    time.sleep(0.5)

    threads = validate_dump(json.loads(_dump(snakescope, target.pid, "--json").stdout))
    assert target.alive(), "dump stopped or killed the target"
    by_tid = {t["tid"]: t for t in threads}
    assert set(by_tid) == set(names), (
        f"dump lists {len(by_tid)} threads; expected the {len(names)} of the process"
    )

    # What each thread is doing is known by construction (see many_threads.py).
    for tid, name in names.items():
        t = by_tid[tid]
        assert t["name"] in accepted_names(python, name), f"{name} reported as {t['name']!r}"
        fn = [f["function"] for f in t["frames"]]
        qual = [f["qualname"] for f in t["frames"]]
        role = name.split("-")[0]
        assert fn, f"{name}: no frames"
        if role == "MainThread":
            assert fn[-1] == "<module>" and "join" in fn, f"{name}: {fn}"
        else:
            assert fn[-1] == "_bootstrap", f"{name}: outermost frame is {fn[-1]!r}: {fn}"
        if role == "busy":
            assert fn[0] == "spin", f"{name}: {fn}"
        elif role == "sleeper":
            assert fn[0] == "sleeper", f"{name}: {fn}"
        elif role == "sock":
            assert fn[0] == "sock_waiter", f"{name}: {fn}"
        elif role == "event":
            # No co_qualname before 3.11: the qualname is the function's name.
            want = (["Condition.wait", "Event.wait"] if has_qualnames(python)
                    else ["wait", "wait"])
            assert qual[:2] == want and fn[2] == "event_waiter", f"{name}: {qual}"
        # Only busy runs; it is the only thread that wants the GIL, so it holds it.
        if role == "busy":
            assert t["idle"] is False and t["gil"] is _holds_gil(python, True), f"{name}: {t}"
        else:
            assert t["idle"] is True and t["gil"] is _holds_gil(python, False), f"{name}: {t}"
