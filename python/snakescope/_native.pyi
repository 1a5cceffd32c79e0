"""Type stubs for the native agent (checked against the module in the tests)."""

import os
from typing import Any, Callable

__version__: str
DEFAULT_RATE_HZ: float
DEFAULT_MEMORY_INTERVAL: int

def formats() -> list[dict[str, object]]:
    """The output formats, as the registry declares them: name, about, suffixes (file names ending
    so imply it), default_file (with `{pid}`), draws (samples, memory, exact, lines, memory_stacks),
    binary, compares (diff)."""

class RunSettings:
    """`snakescope run`'s settings as the bootstrap reads them (parsed by `run`'s own options)."""
    rate: float
    output: str
    format: str
    idle: bool
    gil: bool
    opcodes: bool
    quiet: bool
    exact: bool
    sort: str
    lines: list[str]
    memory: str
    memory_interval: int
    stat: bool

def run_settings(options: list[bytes]) -> RunSettings:
    """Parses the bootstrap's options (bytes: a file name need not be UTF-8); ValueError with one line."""
    ...

def stat_start() -> None:
    """`run --stat`: start counting this thread (the program's) and what it starts from now on."""

def stat_stop() -> None:
    """`run --stat`: stop counting; the figures go into the capture at `finish_run`."""

def start(rate_hz: float = DEFAULT_RATE_HZ, idle: bool = False, gil: bool = False, hide_files: list[str] = ...,
          opcodes: bool = False, task_layout: str | None = None, own_files: list[str] = ...) -> None:
    """Start sampling this process's Python threads on a native thread; a
    stack with a frame of `own_files` above the program's is not counted."""

_Key = tuple[str, int, str]  # pstats' key of a function: file, first line, name
# A timed function: file, first line, name, qualified name, (line, hits, seconds), source.
_LineRow = tuple[str, int, str, "str | None", list[tuple[int, int, float]], list[str]]

class Capture:
    """A finished capture: samples, memory, exact statistics, line timings."""

    @property
    def mode(self) -> str: ...
    @property
    def total_samples(self) -> int: ...
    @property
    def sections(self) -> list[str]: ...
    def json(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def pstats(self) -> dict[_Key, tuple[int, int, float, float, dict[_Key, tuple[int, int, float, float]]]]: ...
    def render(self, format: str | None = None, path: str | os.PathLike[str] | None = None,
               sources: dict[str, str] | None = None) -> bytes: ...
    def save(self, path: str | os.PathLike[str], format: str | None = None) -> None: ...
    def set_lines(self, rows: list[_LineRow]) -> None: ...
    def set_opcode_table(self, table_json: str) -> None: ...
    def lines_text(self) -> str: ...
    def finish_run(self, command: list[str], exit_code: int | None = None) -> None: ...
    def write(self, output: str | os.PathLike[str], format: str | None = None, quiet: bool = False,
              summary: bool = True) -> None: ...

def stop_capture(census: Callable[[], tuple[str, float, list[tuple[str, int, int]]]] | None = None,
                 mode: str = "api") -> Capture:
    """Stop sampling (and memory tracking) and return the capture."""

def is_running() -> bool:
    """Whether the sampler is running."""

def cli_main(argv: list[str]) -> int:
    """Run the snakescope command line; returns the exit status."""

def rescue_arm(output: str, format: str | None = None, command: list[str] = ..., quiet: bool = False) -> None:
    """Write the capture to `output` if the program dies by a fatal signal
    (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT)."""

def exact_start() -> None:
    """Install the deterministic profile hook on every thread."""

def exact_install_current() -> None:
    """Install the profile hook on the calling thread (one started after --exact or 3.11 line timing began)."""

def hooks_install(traceback_here: bool) -> None:
    """Replace sys.setprofile, sys.settrace (3.12+: sys._setprofileallthreads) and threading's thread
    start by built-ins that keep snakescope's hooks installed beside the program's own functions
    (once per process)."""

def hooks_installed() -> bool:
    """Whether hooks_install ran."""

def hooks_exact_sees() -> bool | None:
    """Whether --exact's hook still saw the calls of the thread that last called exact_stop (None before)."""

def hooks_lines_depth() -> int | None:
    """The pre-3.12 line timer's call depth on the calling thread (None when it is off)."""

def exact_stop(hide_files: list[str] = ..., mode: str = "exact") -> Capture:
    """Remove the hook; return the capture with its exact section (code from `hide_files` left out)."""

def thread_count() -> int:
    """How many thread states the interpreter has."""

def lines_select(code: object) -> None:
    """Select a code object for exact line timing."""

def lines_start(matcher: object = None, disable: object = None) -> None:
    """Start line timing (sys.monitoring callbacks on 3.12+ when `disable` is given, else the profile hook)."""

def lines_stop() -> list[tuple[object, list[tuple[int, int, float]]]]:
    """Stop line timing; return (code, [(line, hits, seconds), ...]) per selected code object."""

def lines_callbacks() -> dict[str, object]:
    """The sys.monitoring callbacks: start, resume, line, leave."""

def memory_start(interval_bytes: int, hide_files: list[str] = ..., timeline_ms: float = 10.0,
                 census: Callable[[], tuple[str, float, list[tuple[str, int, int]]]] | None = None) -> None:
    """Start tracking allocations (Python domains and native), sampled every `interval_bytes` on average (0: all)."""

def memory_label(name: str, start: bool) -> None:
    """Open or close a labelled span of the memory timeline."""

def memory_pause() -> bool:
    """Stop recording the calling thread's allocations (snakescope's own
    work); returns whether this call paused it, for ``memory_resume``."""

def memory_resume(paused: bool) -> None:
    """End a ``memory_pause`` that returned ``paused``."""

def memory_restore_allocators() -> bool:
    """The interpreter's own allocators back once memory tracking has stopped (attach)."""

def memory_hooks() -> str:
    """Which hooks the interpreter's allocators have: ``"sampled"``
    (sampling over pymalloc: allocations hooked, frees of sampled blocks seen
    in the raw domain), ``"full"`` (every allocation and free) or ``"none"``."""

def memory_close_censuses() -> None:
    """No more automatic censuses near the peak (the program's main code has returned);
    returns once the census kicker, if any, has left the agent."""

def census_kicker_run() -> None:
    """The census kicker's thread (3.9-3.12, ``_handover.py``): until
    ``memory_close_censuses``, hands the GIL over once for each census still
    pending a tick after it was queued."""

def memory_on() -> bool:
    """Whether memory tracking is on."""

def heap_census(
    type_name: Any, small_ints: tuple[int, int], globals: bool = False
) -> tuple[list[tuple[str, int, int]], bool, int, int] | None:
    """The heap census, natively: (rows, estimated, references visited, one in how many
    untracked objects kept); None where the heap's layout is unknown (3.13t). With
    `globals` (the census at the end), also marks what module globals hold."""

def live_start(
    path: str | os.PathLike[str],
    census: Callable[[], tuple[Any, ...]] | None = None,
) -> None:
    """`run --live-web`: writes the capture so far to `path` every second until
    the capture is taken; with `census`, live object counts by type beside it."""

def looks_arm(callback: Callable[[], object]) -> None:
    """`advise`'s operand sampler: `callback` is the look a pending call runs in
    the main thread while it is on a CPU."""

def looks_wait(main_tid: int, early_s: float, early: int, later_s: float) -> bool:
    """Sleeps without the GIL, queuing looks in the main thread while it runs;
    True when the calling thread should look itself, False once stopped."""

def looks_stop() -> None:
    """No more looks (none is queued after this returns)."""

def memory_elapsed() -> float:
    """Seconds since memory tracking started."""
