"""A Python 2.7 target is refused with one line naming its version (issue
22), not profiled as "ended before a Python interpreter could be sampled".
tests/scripts/fake_python27.c is compiled into a program that looks to
snakescope as a real 2.7 does (its comment says how); pyenv's real 2.7.18 is
tested too where it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from support import QUICK_TIMEOUT, assert_error, run
from support.paths import SCRIPTS

PYENV_27 = os.path.expanduser("~/.pyenv/versions/2.7.18/bin/python2.7")


@pytest.fixture
def python27(tmp_path) -> str:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    exe = tmp_path / "python2.7"
    subprocess.run([gcc, "-O1", "-rdynamic", "-o", str(exe), str(SCRIPTS / "fake_python27.c")],
                   check=True)
    return str(exe)


def test_record_refuses_python27(snakescope, python27, tmp_path):
    result = run([snakescope, "record", "-o", str(tmp_path / "x.json"), "--", python27, "0.5"])
    line, _ = assert_error(result, strict=False)
    assert "2.7" in line and "not supported" in line, line
    assert result.returncode == 2, result.describe()
    assert result.stdout == "ready\n", "the program did not run to its end"


def test_dump_refuses_python27(snakescope, python27, spawn):
    target = spawn([python27, "30"])
    target.wait_for_line("ready")
    line, _ = assert_error(run([snakescope, "dump", "--pid", str(target.pid)],
                               timeout=QUICK_TIMEOUT))
    assert "Python 2.7" in line, line


def test_record_refuses_a_real_python27(snakescope, tmp_path):
    if not os.path.exists(PYENV_27):
        pytest.skip(f"no real Python 2.7 here ({PYENV_27})")
    result = run([snakescope, "record", "-o", str(tmp_path / "x.json"), "--", PYENV_27, "-c",
                  "import time; time.sleep(0.3); print('ran')"])
    line, _ = assert_error(result, strict=False)
    assert "Python 2.7" in line and "not supported" in line, line
    assert result.returncode == 2 and result.stdout == "ran\n", result.describe()
    assert not (tmp_path / "x.json").exists()
