"""``snakescope.Profiler``: profile a block of code from inside a program.

    with snakescope.Profiler() as p:          # sampling, all threads
        work()
    p.print()                                 # the summary, on stderr
    p.save("work.svg")                        # any format, from the name

    with snakescope.Profiler(exact=True) as p:  # every call, cProfile's accounting
        work()
    p.print(sort="tottime")                   # pstats' table
    p.save("work.pstats")

    with snakescope.Profiler(lines=[hot, "mymod:Parser.*"]) as p:
        work()                                # sampling, plus exact line timing
    p.print()                                 # ... with kernprof's line tables
    p.line_stats()                            # {(file, line, name): [(line, hits, s)]}

``p.capture()`` is the capture itself (``snakescope._native.Capture``), one
shape whatever was measured: ``.sections``, ``.to_dict()``, ``.json()``,
``.render(format)``, ``.save(path)``, and ``.pstats()`` (cProfile's stats
dict) for exact statistics.
"""

import sys

# `_memory` here, with the module, never inside start()/stop() while the
# sampler runs: an import statement runs importlib's Python code, which a
# sample would take for the program's.
from snakescope import _memory, _native


class Profiler:
    """A context manager around the in-process agent."""

    def __init__(self, exact=False, lines=None, rate_hz=_native.DEFAULT_RATE_HZ, idle=False, gil=False,
                 memory=False, memory_interval=_native.DEFAULT_MEMORY_INTERVAL, opcodes=False):
        """`lines`: functions (or classes, methods, properties) and
        ``module:function`` patterns whose lines are timed exactly, besides
        every function decorated with ``@snakescope.profile``; ``True`` for
        the decorated ones only; ``None`` (default) for no line timing."""
        self.exact = exact
        self.lines = lines
        # memory: False, True (sampled every `memory_interval` bytes on
        # average) or "exact"; sampling mode only (the capture holds it).
        self.memory = memory
        self.memory_interval = memory_interval
        self._line_stats = None
        self.rate_hz = rate_hz
        self.idle = idle
        self.gil = gil
        # opcodes: samples per bytecode instruction (`snakescope dis`); sampling mode only.
        self.opcodes = opcodes
        self._capture = None
        # Code left out: files whose frames at the root of stacks are the
        # caller's (sampling, memory), and the caller's own code (exact
        # statistics leave its functions out wherever they are called).
        # The IPython magics and the pytest plugin add theirs.
        self._root_files = [__file__]
        self._own_files = [__file__]
        # Censuses of live objects by type (near the peak, at the end): a
        # walk of the whole heap each, which the pytest plugin, measuring
        # every test, leaves out.
        self._census = True

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if self.lines is not None:
            from snakescope import _lines

            items = [] if self.lines is True else list(self.lines)
            _lines.start(patterns=[i for i in items if isinstance(i, str)],
                         functions=[i for i in items if not isinstance(i, str)])
        if self.exact:
            from snakescope import _exact  # noqa: F401  (imported before profiling)

            _native.exact_start()
        else:
            _native.start(self.rate_hz, self.idle, self.gil, self._root_files, self.opcodes,
                          own_files=self._own_files)
            if self.memory:
                try:
                    _native.memory_start(0 if self.memory == "exact" else self.memory_interval, self._root_files,
                                         census=(lambda: _memory.census_rows("peak")) if self._census else None)
                except BaseException:
                    _native.stop_capture()  # the sampler must not outlive a start that failed
                    raise

    def stop(self):
        if self.exact:
            self._capture = _native.exact_stop(self._own_files, "api")
        else:
            self._capture = _native.stop_capture((lambda: _memory.census_rows("end")) if self._census else None)
            if self.opcodes:
                from snakescope import _opcodes

                self._capture.set_opcode_table(_opcodes.table_json())
        if self.lines is not None:
            from snakescope import _lines

            self._line_stats = _lines.stop()
            if self._line_stats is not None:
                self._capture.set_lines(self._line_stats.rows())

    def _hide_callers(self, *files):
        """Leaves out, at the root of the stacks, the frames of every file on
        the calling thread's stack now (a kernel's, pytest's) and of `files`:
        a profile started by the IPython magics or the pytest plugin starts
        at the cell or the test."""
        frame = sys._getframe(1)
        while frame is not None:
            files += (frame.f_code.co_filename,)
            frame = frame.f_back
        self._root_files += [f for f in dict.fromkeys(files) if f not in self._root_files]

    def line_stats(self):
        """Line timings: ``{(filename, first line, name): [(line, hits, seconds), ...]}``."""
        if self._line_stats is None:
            raise RuntimeError("the profiler did not time lines (give it lines=[...])")
        return self._line_stats.functions

    def lines_text(self):
        """The line timings as kernprof -l -v prints them."""
        self.line_stats()
        return self._finished().lines_text()

    def capture(self):
        """The result: a ``snakescope._native.Capture`` (sampled stacks,
        memory, exact statistics, line timings: what was measured)."""
        return self._finished()

    def print(self, sort="cumulative", file=None):
        """The summary (sampling) or pstats' table sorted by `sort` (exact)."""
        file = file or sys.stderr
        if self.exact:
            from snakescope import _exact

            _exact.print_table(self._finished().pstats(), sort, stream=file)
        else:
            file.write(self._finished().render("summary").decode())
        if self._line_stats is not None:
            file.write(self._finished().lines_text())

    def save(self, path, format=None):
        """Writes the result in the format named, else the one `path`'s name
        implies (else a flame graph, or pstats for exact statistics)."""
        self._finished().save(path, format)

    def _finished(self):
        if self._capture is None:
            raise RuntimeError("the profiler has not run yet")
        return self._capture
