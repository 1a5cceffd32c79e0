"""Habits of other profilers' users (issue 22): `snakescope script.py`,
`python -m snakescope script.py`, `top`, `flamegraph`, `stats`, `--html`
each get one `error:` line naming the habit and a `hint:` line with the
command that does it here (exit 2, the program never started); py-spy's
`--format raw` is accepted as what it is here, collapsed stacks.
"""

from __future__ import annotations

import re
import sys

import pytest

from support import QUICK_TIMEOUT, assert_error, run, script, target_env

PYTHON = sys.executable  # has the package (make develop)
RAN = "print('the program ran')"

# (arguments after `snakescope`, what the error names, what the hint suggests)
HABITS = [
    (["app.py"], "`app.py`", "snakescope run app.py"),
    (["app.py", "--flag", "5"], "`app.py`", "snakescope record -- python3 app.py"),
    (["top"], "live view", "dump --pid PID"),
    (["flamegraph"], "`flamegraph`", "-o profile.svg"),
    (["stats"], "`stats`", "report CAPTURE.json"),
    (["record", "--html", "--", PYTHON, "-c", RAN], "`--html`", "-o report.html"),
    (["report", "x.json", "--html"], "`--html`", "--format html"),
    (["run", "--html", "-c", RAN], "`--html`", "-o report.html"),
    (["run", "--html", "app.py"], "`--html`", "-o report.html"),
    (["run", "--python", PYTHON, "--html"], "`--html`", "--format html"),
]


@pytest.mark.parametrize("argv,named,suggested", HABITS,
                         ids=[" ".join(h[0][:2]) for h in HABITS])
def test_habit_gets_a_hint(snakescope, argv, named, suggested):
    result = run([snakescope, *argv], timeout=QUICK_TIMEOUT, env=target_env())
    line, hint = assert_error(result)
    assert result.returncode == 2, result.describe()
    assert named in line, line
    assert hint is not None and suggested in hint, hint
    assert "the program ran" not in result.stdout, result.describe()


def test_python_m_snakescope_hint_says_python_m(tmp_path):
    # `python -m snakescope` runs the same command line; its hint must be a
    # command the user can paste, so it names the module, not a binary.
    result = run([PYTHON, "-m", "snakescope", "app.py"], timeout=QUICK_TIMEOUT,
                 env=target_env())
    line, hint = assert_error(result)
    assert "`app.py`" in line, line
    assert hint is not None and re.search(r"`\S*python\S* -m snakescope run app\.py`", hint), hint


def test_a_typo_keeps_clap_suggestion(snakescope):
    # Not a habit: clap's own "did you mean" stays.
    result = run([snakescope, "recrod"], timeout=QUICK_TIMEOUT)
    line, _ = assert_error(result, strict=False)
    assert "record" in result.stderr, result.describe()


def test_format_raw_is_collapsed(snakescope, tmp_path):
    # py-spy's `--format raw` is collapsed stacks: the same format here.
    outs = {}
    for name in ("raw", "collapsed"):
        out = tmp_path / f"{name}.out"
        result = run([snakescope, "record", "-q", "--idle", "--format", name, "-o", str(out),
                      "--", PYTHON, script("split_70_30.py"), "0.5"], env=target_env())
        assert result.returncode == 0, result.describe()
        outs[name] = out.read_text().splitlines()
    for name, lines in outs.items():
        assert lines, f"--format {name} wrote nothing"
        for line in lines:
            assert re.fullmatch(r".+ \d+", line), f"--format {name}: not collapsed: {line!r}"
