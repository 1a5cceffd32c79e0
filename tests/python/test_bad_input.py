"""Bad input (issue 20): numbers out of range, outputs that cannot be
written, files that are not captures, hostile captures, commands that are
not Python, and file names that are not UTF-8. Each error is one `error:`
line (and maybe a `hint:` line), a non-zero exit, no file left behind, the
program not started when the error is known before it runs, and never a
panic or a hang; what is not an error must behave as under plain `python`.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import pytest

from support import (
    QUICK_TIMEOUT,
    SYNTHETIC,
    Capture,
    assert_clean_stderr,
    assert_error,
    run,
    target_env,
)

PYTHON = sys.executable  # has the package (make develop), so `run` can use it
RAN = "print('the program ran')"


def _record(snakescope, out, *options, program=(PYTHON, "-c", RAN)):
    return run([snakescope, "record", "-o", str(out), *options, "--", *program],
               timeout=QUICK_TIMEOUT, env=target_env())


def _run(snakescope, *options, code=RAN):
    return run([snakescope, "run", "--python", PYTHON, *options, "-c", code],
               timeout=QUICK_TIMEOUT, env=target_env())


def _refused_before_running(result):
    line, hint = assert_error(result)
    assert "the program ran" not in result.stdout, f"the program ran anyway{result.describe()}"
    return line, hint


# ---- numbers: one rule for record and run (snakescope_remote::limits) ----

OUT_OF_RANGE = [
    ("--duration", "1e300"),  # panicked: Duration overflow
    ("--duration", "-1"),
    ("--duration", "nan"),
    ("--duration", "0"),
    ("--rate", "1e-9"),  # waited a period of 30 years
    ("--rate", "nan"),
    ("--rate", "-5"),
    ("--rate", "1e300"),
]


@pytest.mark.parametrize("option, value", OUT_OF_RANGE, ids=lambda v: str(v))
def test_record_refuses_numbers_out_of_range(snakescope, tmp_path, option, value):
    out = tmp_path / "x.json"
    line, _ = _refused_before_running(_record(snakescope, out, option, value))
    assert option[2:] in line and value in line, line
    assert not out.exists()


@pytest.mark.parametrize("value", ["1e-9", "nan", "0", "2e6"])
def test_run_refuses_rates_out_of_range(snakescope, tmp_path, value):
    line, _ = _refused_before_running(_run(snakescope, "-o", str(tmp_path / "x.json"),
                                           "--rate", value))
    assert "rate" in line, line


# ---- outputs, checked before the program starts ----

def _bad_outputs(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "adir").mkdir(exist_ok=True)
    (tmp_path / "dir.json").mkdir(exist_ok=True)
    return {
        "directory": str(tmp_path / "adir"),
        "directory-named-json": str(tmp_path / "dir.json"),
        "trailing-slash": str(tmp_path / "new") + "/",
        "parent-missing": str(tmp_path / "missing" / "x.json"),
        "unknown-extension": str(tmp_path / "out.xyz"),
    }


BAD_OUTPUT_KINDS = ["directory", "directory-named-json", "trailing-slash", "parent-missing",
                    "unknown-extension"]


@pytest.mark.parametrize("kind", BAD_OUTPUT_KINDS)
@pytest.mark.parametrize("command", ["record", "run"])
def test_unwritable_output_is_refused_before_the_program_runs(snakescope, tmp_path, command, kind):
    path = _bad_outputs(tmp_path)[kind]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    if command == "record":
        result = _record(snakescope, path)
    else:
        result = _run(snakescope, "-o", path)
    line, hint = _refused_before_running(result)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "a file was left behind"
    if kind == "unknown-extension":
        assert hint is not None and "speedscope" in hint and ".svg" in hint, hint


def test_unknown_extension_with_a_format_is_fine(snakescope, tmp_path):
    out = tmp_path / "out.xyz"
    result = _run(snakescope, "-q", "-o", str(out), "--format", "json",
                  code="import time\nt = time.time()\nwhile time.time() - t < 0.3: pass")
    assert result.returncode == 0, result.describe()
    assert_clean_stderr(result)
    Capture.load(out)


@pytest.mark.parametrize("kind", ["directory", "parent-missing", "unknown-extension"])
def test_report_refuses_an_unwritable_output(snakescope, tmp_path, kind):
    capture = tmp_path / "c.json"
    capture.write_text(json.dumps(SYNTHETIC))
    path = _bad_outputs(tmp_path)[kind]
    assert_error(run([snakescope, "report", str(capture), "-o", path], timeout=QUICK_TIMEOUT))
    assert not Path(path).is_file()


def test_exact_sort_key_must_be_a_pstats_key(snakescope, tmp_path):
    out = tmp_path / "x.pstats"
    line, hint = _refused_before_running(_run(snakescope, "--exact", "-s", "nonsense",
                                              "-o", str(out)))
    assert "nonsense" in line, line
    assert hint is not None and "tottime" in hint and "cumulative" in hint, hint
    assert not out.exists()


# ---- files that are not captures ----

@pytest.mark.parametrize("kind", ["fifo", "directory", "dev-zero", "empty"])
@pytest.mark.parametrize("command", ["report", "diff"])
def test_only_regular_files_are_read_as_captures(snakescope, tmp_path, kind, command):
    path = {"fifo": tmp_path / "f", "directory": tmp_path, "dev-zero": Path("/dev/zero"),
            "empty": tmp_path / "e.json"}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # reading it waited for a writer for ever
    if kind == "empty":
        path.write_bytes(b"")
    args = [str(path)] if command == "report" else [str(path), str(path)]
    line, _ = assert_error(run([snakescope, command, *args], timeout=QUICK_TIMEOUT))
    if kind != "empty":
        assert "not a capture file" in line, line


@pytest.mark.parametrize("version", [0, -1, 2, "1", None])
@pytest.mark.parametrize("command", ["report", "diff"])
def test_only_readable_capture_versions(snakescope, tmp_path, command, version):
    data = copy.deepcopy(SYNTHETIC)
    if version is None:
        del data["version"]
    else:
        data["version"] = version
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    args = [str(path)] if command == "report" else [str(path), str(path)]
    line, _ = assert_error(run([snakescope, command, *args], timeout=QUICK_TIMEOUT))
    shown = "missing" if version is None else json.dumps(version)
    assert f"version `{shown}`" in line and "reads version 1" in line, line


# ---- hostile captures: control characters never reach the terminal ----

ESCAPES = "\x1b]0;owned\x07\x1b[2J\r\x9b31m\x7f"


def _hostile(tmp_path: Path) -> str:
    data = copy.deepcopy(SYNTHETIC)
    data["meta"]["command"] = ["python3", f"app{ESCAPES}.py"]
    for frame in data["frames"]:
        frame["function"] += ESCAPES
        frame["file"] += ESCAPES
        if frame.get("qualname"):
            frame["qualname"] += ESCAPES
    for thread in data["threads"]:
        thread["name"] = f"worker{ESCAPES}"
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data))
    return str(path)


def _controls(text: str) -> set[str]:
    return {c for c in text if c != "\n" and (ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f)}


@pytest.mark.parametrize("args", [
    ["report", "{c}", "--format", "text"],
    ["report", "{c}", "--format", "collapsed"],
    ["report", "{c}", "--format", "flamegraph"],
    ["diff", "{c}", "{c}"],
], ids=["text", "collapsed", "flamegraph", "diff"])
def test_control_characters_are_escaped(snakescope, tmp_path, args):
    capture = _hostile(tmp_path)
    result = run([snakescope, *[a.format(c=capture) for a in args]], timeout=QUICK_TIMEOUT)
    assert result.returncode == 0, result.describe()
    assert not _controls(result.stdout), f"raw control characters: {_controls(result.stdout)!r}"
    assert "owned\\x07" in result.stdout, "the escaped text is not shown"


# ---- commands that are not Python ----

def test_record_of_a_command_that_is_not_python(snakescope, tmp_path):
    out = tmp_path / "x.json"
    result = _record(snakescope, out, program=["sh", "-c", "sleep 0.3; echo out; exit 3"])
    line, hint = assert_error(result)
    assert "sh" in line and "no Python" in line, line
    assert result.stdout == "out\n", "the program did not run to its end"
    assert not out.exists(), "an empty capture was left behind"


def test_record_of_a_quick_non_python_command(snakescope, tmp_path):
    # Ends before any poll could see it: decided from the program file.
    out = tmp_path / "x.json"
    line, _ = assert_error(_record(snakescope, out, program=["true"]))
    assert "`true`" in line, line
    assert not out.exists()


# ---- file names that are not UTF-8 ----

SPIN = b"import sys, time\n" \
       b"def spin():\n" \
       b"    t = time.time()\n" \
       b"    while time.time() - t < 0.5: pass\n" \
       b"spin()\n" \
       b"print(repr(sys.argv))\n"


@pytest.mark.parametrize("command", ["record", "run", "package-run"])
def test_script_name_that_is_not_utf8(snakescope, tmp_path, command):
    # package-run: the Python package's `snakescope` command (`python -m
    # snakescope`), whose arguments pass through the native module.
    script = tmp_path / os.fsdecode(b"\xff-spin.py")
    script.write_bytes(SPIN)
    out = tmp_path / "x.json"
    arg = os.fsdecode(b"\xff")  # an argument that is not UTF-8 either
    plain = run([PYTHON, str(script), arg], timeout=QUICK_TIMEOUT, env=target_env())
    assert plain.returncode == 0, plain.describe()
    if command == "record":
        args = [snakescope, "record", "-q", "-o", str(out), "--", PYTHON, str(script), arg]
    elif command == "run":
        args = [snakescope, "run", "--python", PYTHON, "-q", "-o", str(out), str(script), arg]
    else:
        args = [PYTHON, "-m", "snakescope", "run", "-q", "-o", str(out), str(script), arg]
    result = run(args, timeout=QUICK_TIMEOUT, env=target_env())
    assert result.returncode == 0, result.describe()
    assert_clean_stderr(result)
    assert result.stdout == plain.stdout, "the program saw other arguments"
    capture = Capture.load(out)
    spins = [f for f in capture.data["frames"] if f["function"] == "spin"]
    assert spins, "the script's own function was never sampled"
    assert all(f["file"].endswith("\ufffd-spin.py") for f in spins), spins
    assert any(b"\xef\xbf\xbd-spin.py" in a.encode() for a in capture.meta["command"])
