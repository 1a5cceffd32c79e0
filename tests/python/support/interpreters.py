"""The interpreters the tests run on: the host's (pyenv, Debian) and those in
the root filesystems built by scripts/pyroots.sh, and what a test may expect
of each.

Absent interpreters are skipped with a reason (`require_interpreter`), or fail
under SNAKESCOPE_REQUIRE_ROOTS=1 (`make test-all-versions`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import subprocess

import pytest

from .paths import PYROOTS
from .processes import QUICK_TIMEOUT, target_env


@dataclasses.dataclass(frozen=True)
class Interpreter:
    id: str
    path: str
    # Runs in a root filesystem built by scripts/pyroots.sh: `path` is then its
    # wrapper in .pyroots/bin, which runs like a host interpreter (same PID,
    # the repository and the temporary directory at the same paths) but needs
    # root.
    rooted: bool = False
    # A free-threaded build: no GIL (dump says null, --gil is refused).
    free_threaded: bool = False

    @property
    def present(self) -> bool:
        return (os.path.isfile(self.path) and os.access(self.path, os.X_OK)
                and (not self.rooted or os.geteuid() == 0))

    @functools.cached_property
    def version(self) -> str:
        """platform.python_version() of this interpreter, e.g. '3.11.7'."""
        out = subprocess.run(
            [self.path, "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, timeout=QUICK_TIMEOUT, check=True,
            env=target_env(),
        )
        return out.stdout.strip()


def _expand(path: str) -> str:
    return os.path.expanduser(path)


# The interpreters of the CLI contract. Absent ones are skipped with a reason.
SUPPORTED = (
    Interpreter("pyenv-3.11", _expand("~/.pyenv/versions/3.11.7/bin/python3.11")),
    Interpreter("pyenv-3.12", _expand("~/.pyenv/versions/3.12.1/bin/python3.12")),
    Interpreter("pyenv-3.13", _expand("~/.pyenv/versions/3.13.0/bin/python3.13")),
    Interpreter("debian-3.11", "/usr/bin/python3.11"),
)
# Older versions: frame objects (crates/snakescope-layouts/src/v3_8.rs to
# v3_10.rs) for `record` and `dump`, and the profile and trace hooks (no
# sys.monitoring) for `run`'s --exact and line timing.
OLDER = (
    Interpreter("pyenv-3.8", _expand("~/.pyenv/versions/3.8.18/bin/python3.8")),
    Interpreter("pyenv-3.9", _expand("~/.pyenv/versions/3.9.18/bin/python3.9")),
    Interpreter("pyenv-3.10", _expand("~/.pyenv/versions/3.10.13/bin/python3.10")),
)
# A version no command reads (older than 3.8).
UNSUPPORTED = Interpreter("pyenv-3.7", _expand("~/.pyenv/versions/3.7.16/bin/python3.7"))

# The interpreters of Debian's newer suites, in the root filesystems that
# scripts/pyroots.sh builds under .pyroots (`make roots`; `make test` builds
# them when it can). Each runs through its wrapper in .pyroots/bin.
def _rooted(id: str, wrapper: str, free_threaded: bool = False) -> Interpreter:
    return Interpreter(id, str(PYROOTS / "bin" / wrapper), rooted=True,
                       free_threaded=free_threaded)


ROOTED = (
    _rooted("trixie-3.13", "trixie-python3.13"),       # 3.13.5, linked into the executable
    _rooted("trixie-3.13t", "trixie-python3.13t", free_threaded=True),  # built by FT=1
    _rooted("sid-3.13", "sid-python3.13"),
    _rooted("sid-3.14", "sid-python3.14"),
    _rooted("sid-3.15", "sid-python3.15"),
)
ROOTED_PYPY = (_rooted("trixie-pypy3", "trixie-pypy3"), _rooted("sid-pypy3", "sid-pypy3"))

# The version matrix: the host's interpreters and those in the roots. The
# record and dump tests run on all of them.
MATRIX = SUPPORTED + OLDER + ROOTED

# `make test-all-versions` sets this: a rooted interpreter that is absent is
# then a failure, not a skip.
REQUIRE_ROOTS = os.environ.get("SNAKESCOPE_REQUIRE_ROOTS") == "1"


def require_interpreter(interp: Interpreter) -> Interpreter:
    """`interp` when present; else the test is skipped with the reason (or
    fails, for a rooted one under SNAKESCOPE_REQUIRE_ROOTS=1). The modules
    whose tests run on the whole matrix (test_record.py, test_dump.py) define
    their `python` fixture with this; conftest's `python` fixture uses it too."""
    if interp.present:
        return interp
    if not interp.rooted:
        pytest.skip(f"interpreter {interp.id} not present on this machine ({interp.path})")
    if os.geteuid() != 0:
        why = f"interpreter {interp.id} runs in a root filesystem, which needs root (chroot)"
    else:
        why = (f"interpreter {interp.id} not present ({interp.path}): build the roots with "
               f"`make roots` (scripts/pyroots.sh{', FT=1' if interp.free_threaded else ''})")
    if REQUIRE_ROOTS:
        pytest.fail(why)
    pytest.skip(why)


# The interpreters `run` is tested on (test_run_versions, test_memory,
# test_lines, test_errors): every version of the matrix.
RUN_MATRIX = SUPPORTED + OLDER + ROOTED


def has_qualnames(interp: Interpreter) -> bool:
    """Whether code objects carry a qualified name (co_qualname, 3.11+); before,
    snakescope reports the function's name as its qualname."""
    major, minor = (int(p) for p in interp.version.split(".")[:2])
    return (major, minor) >= (3, 11)


def accepted_names(interp: Interpreter, name: str) -> set[str]:
    """Names snakescope may report for a thread whose threading name is `name`:
    exactly that — snakescope reads `threading._active` in the target."""
    return {name}

