"""`pip install .` works on every version the wheel is built for (abi3,
Python 3.8 on), and the installed command profiles with that interpreter.

The wheel is built once, by pip itself from the source tree (`pip wheel .`,
which is what `pip install .` does before it installs), with the oldest
interpreter; it is then installed into a fresh virtual environment of each
older version. The profile is checked against a count known by construction.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support import OLDER, REPO, Interpreter, require_interpreter

# Building the native module from source: cargo reuses the tree's target/.
BUILD_TIMEOUT = 900
CALLS = 1234
PROGRAM = f"def f():\n    pass\nfor _ in range({CALLS}):\n    f()\n"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    oldest = require_interpreter(OLDER[0])
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build-venv")
    _venv(oldest, build)
    r = subprocess.run([str(build / "bin" / "pip"), "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
                       capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert r.returncode == 0, f"pip wheel . failed on {oldest.id}:\n{r.stdout}\n{r.stderr}"
    wheels = list(out.glob("snakescope-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.mark.parametrize("interp", OLDER, ids=[i.id for i in OLDER])
def test_pip_install_and_profile(interp: Interpreter, wheel: Path, tmp_path: Path):
    python = require_interpreter(interp)
    venv = tmp_path / "venv"
    _venv(python, venv)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert r.returncode == 0, f"pip install refused {wheel.name} on {python.id}:\n{r.stderr}"
    out = tmp_path / "exact.json"
    r = subprocess.run([str(venv / "bin" / "snakescope"), "run", "--exact", "-q", "-o", str(out), "-c", PROGRAM],
                       cwd=tmp_path, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert r.returncode == 0, f"the installed snakescope failed on {python.id}:\n{r.stderr}"
    capture = json.loads(out.read_text())
    assert capture["meta"]["python_version"].startswith(python.id.split("-")[1] + ".")
    frames = capture["frames"]
    calls = {frames[f["frame"]]["function"]: f["calls"] for f in capture["exact"]["functions"]
             if frames[f["frame"]]["file"] == "<string>"}
    assert calls.get("f") == CALLS, calls


def _venv(python: Interpreter, where: Path) -> None:
    r = subprocess.run([python.path, "-m", "venv", str(where)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{python.id} cannot make a virtual environment:\n{r.stderr}"
