"""Fixtures for snakescope's integration tests.

The tests run the real `snakescope` binary against the target programs in
tests/scripts/, whose behaviour is known by construction, and compare what the
profiler reports with that ground truth. Everything is plain pytest and the
standard library (and jsonschema for the capture's schema).

The binary is $SNAKESCOPE_BIN, else <repo>/target/release/snakescope. When
$SNAKESCOPE_BIN is set but not executable the tests fail; when it is unset and
the release binary has not been built, they are skipped with a reason.

This file holds only fixtures; the helpers live in support/ and are imported
by the test modules with `from support import ...` (pytest puts this
directory on sys.path, as there is no __init__.py).
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Callable, Iterator, Sequence

import pytest

from support.browser import Browser, Page, find_chromium
from support.interpreters import (
    RUN_MATRIX,
    SUPPORTED,
    UNSUPPORTED,
    Interpreter,
    require_interpreter,
)
from support.loadgen import spinning
from support.paths import REPO
from support.processes import Proc
from support.tmux import Tmux

# --------------------------------------------------------------------------
# Interpreters
# --------------------------------------------------------------------------


@pytest.fixture(params=RUN_MATRIX, ids=[i.id for i in RUN_MATRIX])
def python(request: pytest.FixtureRequest) -> Interpreter:
    """Each interpreter of `run`'s matrix in turn; skipped when absent."""
    return require_interpreter(request.param)


@pytest.fixture(scope="session")
def present_interpreters() -> list[Interpreter]:
    """The supported interpreters present on this machine."""
    return [i for i in SUPPORTED if i.present]


@pytest.fixture(scope="session")
def any_python(present_interpreters: list[Interpreter]) -> Interpreter:
    """One supported interpreter, for tests that are not about the interpreter."""
    if not present_interpreters:
        pytest.skip("none of the supported interpreters is present: "
                    + ", ".join(i.path for i in SUPPORTED))
    return present_interpreters[0]


@pytest.fixture
def unsupported_python() -> Interpreter:
    return require_interpreter(UNSUPPORTED)


# --------------------------------------------------------------------------
# The binary, running things, load
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def snakescope() -> str:
    """Path of the snakescope binary under test."""
    explicit = os.environ.get("SNAKESCOPE_BIN")
    if explicit:
        assert os.path.isfile(explicit) and os.access(explicit, os.X_OK), (
            f"SNAKESCOPE_BIN={explicit} is not an executable file"
        )
        return os.path.abspath(explicit)
    default = REPO / "target" / "release" / "snakescope"
    if not (default.is_file() and os.access(default, os.X_OK)):
        pytest.skip(f"{default} not built (run `cargo build --release`, or set SNAKESCOPE_BIN)")
    return str(default)


@pytest.fixture
def spawn() -> Iterator[Callable[..., Proc]]:
    """Factory for Proc; every process started is killed and reaped at teardown."""
    procs: list[Proc] = []

    def start(args: Sequence[str], **kwargs: Any) -> Proc:
        proc = Proc(args, **kwargs)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()


@pytest.fixture
def saturated() -> Iterator[int]:
    """Every core busy for the test's duration (support/loadgen.py: why the
    shares must not move with it). Yields the number of spinning processes."""
    with spinning() as count:
        yield count


# --------------------------------------------------------------------------
# A browser, for the HTML report (test_html.py, test_ipython.py)
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium for the HTML report's tests ($SNAKESCOPE_CHROMIUM, else found on PATH)."""
    explicit = os.environ.get("SNAKESCOPE_CHROMIUM")
    if explicit:
        assert os.access(explicit, os.X_OK), f"SNAKESCOPE_CHROMIUM={explicit} is not executable"
        return explicit
    found = find_chromium()
    if not found:
        pytest.skip("chromium not installed (`make test` installs Debian's chromium)")
    return found


@pytest.fixture(scope="session")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for the session (support/browser.py)."""
    with Browser.start(tmp_path_factory.mktemp("chromium"), chromium) as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page, closed after the test."""
    p = browser.new_page(width=1400, height=900)
    yield p
    p.close()


@pytest.fixture
def tmux(tmp_path) -> Iterator[Tmux]:
    """A tmux server of the test's own (test_top.py, test_run_live.py)."""
    if not shutil.which("tmux"):
        pytest.fail("tmux is not installed (`make test` installs Debian's tmux)")
    t = Tmux(tmp_path)
    yield t
    t.close()
