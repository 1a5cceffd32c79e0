"""Exact line timing of selected functions: kernprof -l -v's job.

Functions are selected by the ``@snakescope.profile`` decorator (``profile``
under ``snakescope run``, as with kernprof), by ``--lines PATTERN``
(``module:function``, no code change) or by ``Profiler(lines=[...])``. The
native agent times their lines (``_native.lines_*``): on 3.12+ through
``sys.monitoring`` events set on the selected code objects only, on 3.11
through the profile hook, which switches line tracing on only while a
selected function is the innermost call.
"""

import sys

# Code objects decorated while no line profiler ran, so that a profiler
# started later (``Profiler(lines=...)``) times them too.
_decorated = []
_active = None  # the running LineProfiler
_armed = None  # under `run`: settings for a profiler started by the first @profile
_names = {}  # before 3.11 (no co_qualname): selected code object -> qualified name

_MONITORING = sys.version_info >= (3, 12)
_TOOL_IDS = (4, 3)  # free by convention (0 debugger, 1 coverage, 2 profiler, 5 optimizer)


def codes_of(obj):
    """The code objects a decorated or listed object stands for: a function,
    a method, a static/class method, a property's accessors, a class's
    functions."""
    if isinstance(obj, property):
        return [c for f in (obj.fget, obj.fset, obj.fdel) if f is not None for c in codes_of(f)]
    if isinstance(obj, (staticmethod, classmethod)):
        return codes_of(obj.__func__)
    if isinstance(obj, type):
        return [c for v in vars(obj).values()
                if callable(v) or isinstance(v, (property, staticmethod, classmethod)) for c in codes_of(v)]
    func = getattr(obj, "__func__", obj)
    code = getattr(func, "__code__", None)
    if code is not None and not hasattr(code, "co_qualname"):
        _names[code] = getattr(func, "__qualname__", code.co_name)
    return [code] if code is not None else []


def profile(func):
    """``@profile``: times the function's lines while a line profiler runs
    (always under ``snakescope run``); otherwise returns it unchanged."""
    global _active, _armed
    if _active is None and _armed is not None:
        profiler = LineProfiler(**_armed)
        try:
            profiler.start()
        except RuntimeError as exc:  # e.g. no free sys.monitoring tool id: the program still runs
            _armed = None
            print(f"snakescope: @profile times nothing: {exc}", file=sys.stderr)
            return func
        _active = profiler
    for code in codes_of(func):
        if _active is not None:
            _active.add(code)
        else:
            _decorated.append(code)
    return func


def arm(patterns=()):
    """Under `run`: start now when there are patterns, else at the first @profile."""
    global _armed
    if patterns:
        start(patterns=patterns)
    else:
        _armed = {"patterns": ()}


def start(patterns=(), functions=()):
    global _active
    if _active is not None:
        raise RuntimeError("a line profiler is already running")
    _active = LineProfiler(patterns)
    _active.start()
    for code in _decorated:
        _active.add(code)
    for f in functions:
        for code in codes_of(f):
            _active.add(code)
    return _active


def stop():
    """Stops the running line profiler (if any); returns its LineStats or None."""
    global _active, _armed
    _armed = None
    if _active is None:
        return None
    profiler, _active = _active, None
    return profiler.stop()


def _split(pattern):
    module, sep, func = pattern.rpartition(":")
    return (module if sep else "*"), func


class LineProfiler:
    def __init__(self, patterns=()):
        self.patterns = [_split(p) for p in patterns]
        self.tool = None

    def start(self):
        from snakescope import _native

        matcher = self._match if self.patterns else None
        if _MONITORING:
            mon = sys.monitoring
            for tool in _TOOL_IDS:
                if mon.get_tool(tool) is None:
                    mon.use_tool_id(tool, "snakescope")
                    self.tool = tool
                    break
            else:
                raise RuntimeError("no free sys.monitoring tool id for the line profiler")
            E = mon.events
            cb = _native.lines_callbacks()
            for event, name in ((E.PY_START, "start"), (E.PY_RESUME, "resume"), (E.PY_THROW, "resume"),
                                (E.LINE, "line"), (E.PY_RETURN, "leave"), (E.PY_YIELD, "leave"),
                                (E.PY_UNWIND, "leave")):
                mon.register_callback(self.tool, event, cb[name])
            _native.lines_start(matcher, mon.DISABLE)
            mon.set_events(self.tool, E.PY_UNWIND | E.PY_THROW | (E.PY_START if matcher else 0))
        else:
            import threading

            _native.lines_start(matcher, None)
            # Threads started later get the hook too (under `run` through its
            # thread start, see hooks_install).
            if threading._profile_hook is None and not _native.hooks_installed():
                threading.setprofile(_install_on_new_thread)

    def add(self, code):
        from snakescope import _native

        _native.lines_select(code)
        if self.tool is not None:
            E = sys.monitoring.events
            sys.monitoring.set_local_events(
                self.tool, code, E.PY_START | E.PY_RESUME | E.LINE | E.PY_RETURN | E.PY_YIELD)

    def _match(self, code):
        """Called by the agent once per new code object while patterns are set."""
        from fnmatch import fnmatchcase

        frame = sys._getframe(1)
        own = frame.f_code is code
        module = frame.f_globals.get("__name__") if own else None
        qualname = getattr(code, "co_qualname", None) or _qualname(code, frame.f_globals if own else None)
        filename = code.co_filename
        stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        for mod, func in self.patterns:
            if "<locals>" in qualname and "<locals>" not in func:
                continue  # nested functions and comprehensions only when named
            if not (fnmatchcase(qualname, func) or ("." not in func and fnmatchcase(code.co_name, func))):
                continue
            if (mod == "*" or (module is not None and fnmatchcase(module, mod)) or fnmatchcase(stem, mod)
                    or (mod.endswith(".py") and filename.endswith(mod))
                    or filename.endswith("/" + mod.replace(".", "/") + ".py")):
                if not hasattr(code, "co_qualname"):
                    _names[code] = qualname
                self.add(code)
                return True
        return False

    def stop(self):
        from snakescope import _native

        if self.tool is not None:
            mon = sys.monitoring
            mon.set_events(self.tool, 0)
        rows = _native.lines_stop()
        if self.tool is not None:
            for code, _ in rows:
                mon.set_local_events(self.tool, code, 0)
            for event in vars(mon.events).values():
                if isinstance(event, int) and event and not event & (event - 1):
                    try:
                        mon.register_callback(self.tool, event, None)
                    except ValueError:
                        pass
            mon.free_tool_id(self.tool)
            self.tool = None
        return LineStats(rows)


def _qualname(code, module_globals):
    """A code object's qualified name before 3.11 (no ``co_qualname``): the
    ``__qualname__`` of the function of a class of its module that runs it,
    found through the module's globals (nested classes included), else its name."""
    if module_globals is not None:
        seen = set()
        classes = [v for v in list(module_globals.values()) if isinstance(v, type)]
        while classes:
            cls = classes.pop()
            if id(cls) in seen:
                continue
            seen.add(id(cls))
            for value in list(vars(cls).values()):
                if isinstance(value, type):
                    classes.append(value)
                    continue
                if isinstance(value, property):
                    candidates = (value.fget, value.fset, value.fdel)
                else:
                    candidates = (getattr(value, "__func__", value),)
                for func in candidates:
                    if getattr(func, "__code__", None) is code:
                        return func.__qualname__
    return code.co_name


def _install_on_new_thread(frame, event, arg):
    """threading's profile function for threads started while profiling
    (outside `run`): replaces itself with the native hook on its first event."""
    from snakescope import _native

    _native.exact_install_current()


class LineStats:
    """Per function: ``(filename, first line, name) -> [(line, hits, seconds), ...]``."""

    def __init__(self, rows):
        self.functions = {}
        self._codes = {}
        for code, lines in rows:
            name = _names.get(code) or getattr(code, "co_qualname", code.co_name)
            key = (code.co_filename, code.co_firstlineno, name)
            self.functions[key] = sorted(lines)
            self._codes[key] = code.co_name

    def rows(self):
        """The timings as the capture's line section takes them
        (``Capture.set_lines``): file, first line, name, qualified name,
        lines, and the function's source from its first line."""
        out = []
        for (filename, first, name), lines in sorted(self.functions.items()):
            code_name = self._codes[(filename, first, name)]
            last = max((line for line, _, _ in lines), default=first)
            out.append((filename, first, code_name, name, lines, _source(filename, first, code_name, last)))
        return out


def _source(filename, first, code_name="", last=0):
    """A function's source lines from its first line (none when unreadable):
    its block, and at least to its `last` timed line; a module's whole file
    (its block would end at its first class or function)."""
    import inspect
    import linecache

    source = linecache.getlines(filename)
    if not source or first < 1:
        return []
    rest = source[first - 1:]
    block = rest if code_name == "<module>" else inspect.getblock(rest)
    block = rest[:max(len(block), last - first + 1)]
    return [line.rstrip("\n") for line in block]
