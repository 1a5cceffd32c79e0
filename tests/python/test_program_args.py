"""Everything after the script, `-m module` or `-c code` belongs to the program.

Ground truth is plain `python` given the same arguments: the program must see
the same `sys.argv`, and snakescope must keep the options given before the
program (its output file, its rate) and take none of the program's. The
program's arguments are every short flag snakescope itself has, plus the
flags of pytest and pip as their users type them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support import RECORD_TIMEOUT, target_env

# The environment's command (the binary `make develop` installs as the wheel does), next to
# the interpreter running pytest (.venv),
# which has pytest and pip.
COMMAND = str(Path(sys.executable).with_name("snakescope"))

# Every short flag of `snakescope run`, with values where they take one, and
# some long ones: all of them the program's here.
PROGRAM_ARGS = ["-o", "x", "-f", "json", "-r", "5", "-i", "-g", "-q", "-s", "calls",
                "-m", "y", "-c", "z", "-h", "-V", "--exact", "--memory", "off", "--", "-q"]

PROBE = textwrap.dedent("""\
    import json, sys
    def work():
        return sum(i * i for i in range(300_000))
    work()
    print(json.dumps(sys.argv))
""")


def _both(python: str, tmp_path: Path, how: list[str], out: Path):
    env = target_env()
    plain = subprocess.run([python, *how], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=RECORD_TIMEOUT)
    ours = subprocess.run([COMMAND, "run", "--python", python, "-q", "-o", str(out), *how],
                          cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=RECORD_TIMEOUT)
    return plain, ours


@pytest.mark.parametrize("kind", ["script", "module", "code"])
def test_the_programs_arguments_are_the_programs(tmp_path, kind):
    (tmp_path / "argv_probe.py").write_text(PROBE)
    how = {"script": ["argv_probe.py"], "module": ["-m", "argv_probe"],
           "code": ["-c", PROBE]}[kind]
    out = tmp_path / "out.json"
    plain, ours = _both(sys.executable, tmp_path, how + PROGRAM_ARGS, out)
    assert plain.returncode == 0, plain.stderr
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, plain.stdout, ""), ours.stderr
    assert json.loads(plain.stdout)[1:] == PROGRAM_ARGS
    # snakescope kept what was given before the program, and took nothing after it.
    meta = json.loads(out.read_text())["meta"]
    assert meta["requested_rate_hz"] == 1000.0 and meta["include_idle"] is False


def test_pytest_gets_its_own_flags(tmp_path):
    (tmp_path / "test_small.py").write_text("def test_one():\n    print('inside')\n")
    out = tmp_path / "out.json"
    plain, ours = _both(sys.executable, tmp_path, ["-m", "pytest", "-q", "-s", "-p",
                                                   "no:cacheprovider", "test_small.py"], out)
    assert plain.returncode == ours.returncode == 0, ours.stderr
    for result in (plain, ours):
        # -q: no session header; -s: the test's print reaches stdout.
        assert "test session starts" not in result.stdout
        assert "inside" in result.stdout and "1 passed" in result.stdout
    assert ours.stderr == ""


def test_pip_gets_its_own_flags(tmp_path):
    out = tmp_path / "out.json"
    plain, ours = _both(sys.executable, tmp_path, ["-m", "pip", "--version", "-q"], out)
    assert plain.returncode == 0, plain.stderr
    assert (ours.returncode, ours.stdout) == (0, plain.stdout), ours.stderr
