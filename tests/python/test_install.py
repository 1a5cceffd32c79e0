"""The wheel (`make wheel`) installs into a fresh virtual environment of every
version it is built for and works from there, not from the source tree.

The wheels are built once per session: `make wheel` (maturin, then
auditwheel) writes an abi3 wheel for CPython 3.8 on and, when the 3.13t root
is there, the free-threaded 3.13t's own, each carrying the native agent and
the standalone binary as the `snakescope` command. `make test` builds them
first and passes their directory in SNAKESCOPE_WHEELS; without it the fixture
runs `make wheel` itself. Each interpreter then gets a fresh venv with the
wheel installed by pip, and from that install:

- the `snakescope` command is the native ELF binary (no Python start-up), of
  the package's version, as `python -m snakescope` is;
- `record` launches a program whose CPU goes to one known function, found on
  top;
- `run` profiles with that venv's interpreter by default (the venv need not
  be activated): exact call counts known by construction, and memory in
  exact mode at a known allocation site of known size;
- `run --python` lends the venv's package to an interpreter that lacks it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from support import OLDER, REPO, ROOTED, SUPPORTED, Interpreter, require_interpreter, target_env

# Building the wheels: the release binary and the agent are usually built already.
BUILD_TIMEOUT = 1800
STEP_TIMEOUT = 300
# Each interpreter and the wheel it installs: the host's (pyenv) take the abi3
# wheel; in the root filesystems (scripts/pyroots.sh), Debian's 3.14 takes it
# too and the free-threaded 3.13t its own.
ROOTED_BY_ID = {i.id: i for i in ROOTED}
INSTALLS = (
    *((i, "abi3") for i in (OLDER[0], OLDER[1], OLDER[2], SUPPORTED[0], SUPPORTED[2])),
    (ROOTED_BY_ID["sid-3.14"], "abi3"),
    (ROOTED_BY_ID["trixie-3.13t"], "cp313t"),
)
# A venv of Debian's 3.14 has no pip (its root lacks python3.14-venv's
# ensurepip): pip's own wheel, run as a zip, installs there; this one is the
# host's 3.13 bundled pip.
PIP_WHEEL = Path("~/.pyenv/versions/3.13.0/lib/python3.13/ensurepip/_bundled").expanduser()

CALLS = 1234
EXACT_PROGRAM = f"def f():\n    pass\nfor _ in range({CALLS}):\n    f()\n"
# The only Python code that burns CPU: `hot` (the loop's time is its own).
HOT_SECONDS = 0.4
HOT_PROGRAM = ("import time\n"
               "def hot():\n"
               "    t = time.process_time()\n"
               f"    while time.process_time() - t < {HOT_SECONDS}:\n"
               "        pass\n"
               "hot()\n")
# 64 blocks of 1 MiB allocated on line 2 and kept alive to the end.
BLOCKS, BLOCK = 64, 1 << 20
MEMORY_PROGRAM = f"import sys\nkept = [bytearray({BLOCK}) for _ in range({BLOCKS})]\nsys.stdout.write('ok')\n"


@pytest.fixture(scope="module")
def wheels() -> Path:
    given = os.environ.get("SNAKESCOPE_WHEELS")
    if given:
        return Path(given)
    r = subprocess.run(["make", "--no-print-directory", "wheel"], cwd=REPO, capture_output=True, text=True,
                       timeout=BUILD_TIMEOUT)
    assert r.returncode == 0, f"make wheel failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return REPO / "out" / "wheels"


def _one(wheels: Path, pattern: str) -> Path:
    found = sorted(wheels.glob(pattern))
    assert len(found) == 1, f"{wheels}: expected one {pattern}, found {[w.name for w in found]}"
    return found[0]


@dataclasses.dataclass(frozen=True)
class Installed:
    """A fresh venv with a wheel installed, and how to run its programs: on
    the host, or in the interpreter's root filesystem (the prefix of its
    wrapper in .pyroots/bin, which binds the repository and /tmp)."""
    path: Path
    interp: Interpreter
    prefix: tuple[str, ...] = ()

    def run(self, args: list, what: str, **kw) -> subprocess.CompletedProcess:
        return _run([*self.prefix, *map(str, args)], what, **kw)

    @property
    def bin(self) -> Path:
        return self.path / "bin"


def _root_prefix(interp: Interpreter) -> tuple[str, ...]:
    """`inroot ROOT -b … --` of the wrapper's `exec` line."""
    if not interp.rooted:
        return ()
    line = [ln for ln in Path(interp.path).read_text().splitlines() if ln.startswith("exec ")][-1]
    words = shlex.split(line)[1:]
    return tuple(words[:words.index("--") + 1])


@pytest.fixture(scope="module", params=INSTALLS, ids=[i.id for i, _ in INSTALLS])
def venv(request, wheels: Path, tmp_path_factory) -> Installed:
    """A fresh venv of the interpreter with its wheel installed by pip."""
    interp, kind = request.param
    python = require_interpreter(interp)
    wheel = _one(wheels, f"snakescope-*-{'abi3' if kind == 'abi3' else 'cp313-cp313t'}-*.whl")
    where = tmp_path_factory.mktemp(f"venv-{python.id}")
    has_ensurepip = subprocess.run([python.path, "-c", "import ensurepip"], capture_output=True,
                                   env=target_env(), timeout=STEP_TIMEOUT).returncode == 0
    _run([python.path, "-m", "venv", *([] if has_ensurepip else ["--without-pip"]), str(where)],
         f"{python.id} cannot make a virtual environment")
    installed = Installed(where, python, _root_prefix(python))
    if has_ensurepip:
        pip = [installed.bin / "pip"]
    else:
        bundled = sorted(PIP_WHEEL.glob("pip-*.whl"))
        assert bundled, f"no pip wheel in {PIP_WHEEL} to install with on {python.id}"
        pip_wheel = where / bundled[-1].name
        shutil.copyfile(bundled[-1], pip_wheel)
        pip = [installed.bin / "python", f"{pip_wheel}/pip"]
    # A copy beside the venv: a root binds /tmp, not necessarily this checkout.
    local = where / wheel.name
    shutil.copyfile(wheel, local)
    installed.run([*pip, "install", "-q", "--no-deps", "--disable-pip-version-check", local],
                  f"pip refused {wheel.name} on {python.id}")
    return installed


def _run(args: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(args, capture_output=True, text=True, timeout=STEP_TIMEOUT, env=target_env(), **kw)
    assert r.returncode == 0, f"{what}:\n$ {' '.join(args)}\n{r.stdout}\n{r.stderr}"
    return r


def test_the_wheels_are_tagged_manylinux(wheels: Path):
    # auditwheel chose the tag the binaries' glibc symbols allow (manylinux_2_34 when built on
    # a glibc 2.34+ host); a plain linux_x86_64 would mean it was never checked.
    for wheel in wheels.glob("snakescope-*.whl"):
        tag = wheel.name.rsplit("-", 1)[1][:-len(".whl")]
        assert tag.startswith("manylinux_2_") and tag.endswith("_x86_64"), wheel.name


def test_command_is_the_native_binary(venv: Installed):
    exe = venv.bin / "snakescope"
    assert exe.read_bytes()[:4] == b"\x7fELF", f"{exe} is not an ELF executable (a Python script?)"
    version = venv.run([venv.bin / "python", "-c", "import snakescope; print(snakescope.__version__)"],
                       "import snakescope").stdout.strip()
    by_binary = venv.run([exe, "--version"], "snakescope --version").stdout.split()
    by_module = venv.run([venv.bin / "python", "-m", "snakescope", "--version"],
                         "python -m snakescope --version").stdout.split()
    assert by_binary == by_module == ["snakescope", version]


def test_record_finds_the_hot_function(venv: Installed, tmp_path: Path):
    out = tmp_path / "hot.json"
    venv.run([venv.bin / "snakescope", "record", "-q", "-o", out, "--", venv.bin / "python", "-c", HOT_PROGRAM],
             "snakescope record")
    capture = json.loads(out.read_text())
    frames = capture["frames"]
    own: dict[str, int] = {}
    for stack in capture["stacks"]:
        if stack["frames"]:
            leaf = frames[stack["frames"][-1]]["function"]
            own[leaf] = own.get(leaf, 0) + stack["count"]
    total = sum(own.values())
    # Everything but the interpreter's start (imports: tens of ms at most) is in hot.
    assert max(own, key=own.get) == "hot" and own["hot"] >= total / 2, own


def test_run_uses_the_venvs_interpreter_exact_calls(venv: Installed, tmp_path: Path):
    out = tmp_path / "exact.json"
    # Not activated: PATH's python3 is not the venv's, yet run uses the venv's.
    venv.run([venv.bin / "snakescope", "run", "--exact", "-q", "-o", out, "-c", EXACT_PROGRAM],
             "snakescope run --exact", cwd=tmp_path)
    capture = json.loads(out.read_text())
    version = venv.run([venv.bin / "python", "-c", "import platform; print(platform.python_version())"],
                       "the venv's python").stdout.strip()
    assert capture["meta"]["python_version"] == version
    frames = capture["frames"]
    calls = {frames[f["frame"]]["function"]: f["calls"] for f in capture["exact"]["functions"]
             if frames[f["frame"]]["file"] == "<string>"}
    assert calls.get("f") == CALLS, calls


def test_run_memory_at_the_known_site(venv: Installed, tmp_path: Path):
    out = tmp_path / "memory.json"
    r = venv.run([venv.bin / "snakescope", "run", "-q", "--memory", "exact", "-o", out, "-c", MEMORY_PROGRAM],
                 "snakescope run --memory exact", cwd=tmp_path)
    assert r.stdout == "ok"
    capture = json.loads(out.read_text())
    memory, frames = capture["memory"], capture["frames"]
    at_line = [s for s in memory["sites"] if s["frames"]
               and frames[s["frames"][-1]]["file"] == "<string>" and frames[s["frames"][-1]]["line"] == 2]
    allocated = sum(s["allocated_bytes"] for s in at_line)
    alive = sum(s["end_bytes"] for s in at_line)
    # Each block is its buffer (BLOCK + 1 bytes) and the object's header: at most a page more.
    assert BLOCKS * BLOCK <= allocated <= BLOCKS * (BLOCK + 4096), allocated
    assert BLOCKS * BLOCK <= alive <= allocated, (alive, allocated)


# The interpreter each install lends its package to: one without the package,
# where the install's programs run (the host's pyenv 3.12; in sid's root its
# Debian 3.13). The 3.13t wheel holds only the 3.13t's module, which no
# other interpreter of its root (GIL builds) can load: nothing to lend there.
LEND_TO = {"sid-3.14": "/usr/bin/python3.13"}


def test_run_lends_the_venvs_package_to_another_interpreter(venv: Installed, tmp_path: Path):
    if venv.prefix and venv.interp.id not in LEND_TO:
        pytest.skip(f"{venv.interp.id}'s wheel has only its own module; its root has no other 3.13t to lend to")
    other = LEND_TO.get(venv.interp.id) or require_interpreter(SUPPORTED[1]).path
    lacks = venv.run([other, "-c", "import importlib.util, platform, sys; print(platform.python_version()); "
                      "sys.exit(importlib.util.find_spec('snakescope') is not None)"],
                     f"{other} has a snakescope package of its own: nothing to lend")
    out = tmp_path / "lent.json"
    r = venv.run([venv.bin / "snakescope", "run", "-q", "--python", other, "-o", out, "-c", "print(6 * 7)"],
                 "snakescope run --python OTHER", cwd=tmp_path)
    assert r.stdout == "42\n"
    assert json.loads(out.read_text())["meta"]["python_version"] == lacks.stdout.strip()
