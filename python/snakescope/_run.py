"""Bootstrap of ``snakescope run``: ``python -m snakescope._run [options] -- KIND TARGET ARGS...``

Starts the native sampler, then runs the program exactly as ``python`` would
run it (KIND is ``script``, ``module`` or ``code``): ``sys.argv``,
``sys.path[0]``, a fresh ``__main__`` module, the exit status, and uncaught
exceptions printed through ``sys.excepthook`` without snakescope's own frames.
The profile is written at interpreter exit, after the program's own ``atexit``
handlers and non-daemon threads have finished.
"""

import atexit
import os
import runpy
import signal
import sys
import types


class _Options:
    def __init__(self, argv):
        split = argv.index("--")
        opts, rest = argv[:split], argv[split + 1:]
        # Parsed by `snakescope run`'s own definition of its options, in Rust.
        try:
            settings = _NATIVE.run_settings([os.fsencode(o) for o in opts])
        except ValueError as e:
            raise SystemExit(f"snakescope._run: {e}") from None
        for name in ("rate", "format", "idle", "gil", "quiet", "exact", "sort", "lines", "memory",
                     "memory_interval", "stat", "opcodes", "task_layout_file", "live_snapshot_file", "messages_file",
                     "handoff_file"):
            setattr(self, name, getattr(settings, name))
        self.kind, self.target, self.args = rest[0], rest[1], rest[2:]
        # Where the program was started: a chdir() later does not move the output.
        self.output = os.path.abspath(settings.output)

    def command(self):
        python = os.path.basename(sys.executable) or "python"
        flag = {"script": [], "module": ["-m"], "code": ["-c"]}[self.kind]
        return [python, *flag, self.target, *self.args]


def _exit_code(exc):
    """The status Python exits with for this SystemExit."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def _fresh_main(file=None):
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    if file is not None:
        main.__file__ = file
    sys.modules["__main__"] = main
    return main


# Each runner prepares everything (argv, path, compiling) and returns the call
# that runs the program, so profiling starts as late as it can.

def _run_script(path, args):
    sys.argv[:] = [path, *args]
    sys.path[0] = os.path.dirname(os.path.realpath(path))
    # The script's name as `python` gives it: absolute since 3.9, as typed before.
    name = os.path.abspath(path) if sys.version_info >= (3, 9) else path
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, name, "exec", dont_inherit=True)
    main = _fresh_main(name)
    main.__spec__ = None
    main.__package__ = None
    return lambda: exec(code, main.__dict__)


def _run_module(name, args):
    sys.argv[:] = [name, *args]
    sys.path[0] = os.getcwd()
    _fresh_main()
    return lambda: runpy._run_module_as_main(name, alter_argv=True)


def _run_code(code, args):
    sys.argv[:] = ["-c", *args]
    sys.path[0] = ""
    main = _fresh_main()
    main.__spec__ = None
    compiled = compile(code, "<string>", "exec", dont_inherit=True)
    return lambda: exec(compiled, main.__dict__)


_NATIVE = None  # snakescope._native, once main() has imported it
_RUNNERS = {"script": _run_script, "module": _run_module, "code": _run_code}
_OWN_FILES = {os.path.abspath(__file__), runpy.__file__, "<frozen runpy>"}
_OWN_FILES_LIST = sorted(_OWN_FILES)


def _user_traceback(tb):
    """Drops the leading frames that belong to this bootstrap and runpy."""
    while tb is not None and tb.tb_frame.f_code.co_filename in _OWN_FILES:
        tb = tb.tb_next
    return tb


def _program_done(opts, write_profile):
    """With --exact, stop where cProfile stops (the program's main code has
    returned) unless other threads are still running: then at exit, after them."""
    if opts.exact and _NATIVE.thread_count() == 1:
        write_profile()


def _stop_exact(native, opts):
    """Stops --exact and prints pstats' table of it (from the capture's own
    pstats writer); returns the capture."""
    capture = native.exact_stop(_OWN_FILES_LIST, "run")  # first: nothing below is the program's
    if not opts.quiet:
        from snakescope import _exact

        _exact.print_table(capture.pstats(), opts.sort)
    return capture


def _write_lines(opts, capture):
    """The line timings (functions decorated with @profile or matching
    --lines), printed as kernprof -l -v prints them and written next to the
    main output as OUTPUT.lines.txt (the capture holds them too)."""
    text = capture.lines_text()
    path = os.path.splitext(opts.output)[0] + ".lines.txt"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    if not opts.quiet:
        sys.stderr.write(text)
        print(f"wrote {path} (line timings)", file=sys.stderr)


def _hand_over(opts, capture):
    """Child processes were followed (`run` sampled them from outside, and
    created the file beside `opts.handoff_file` that says so): the capture
    goes to that file, and `run` merges the children's into it and writes
    the output as this would have. Returns whether it went."""
    path = opts.handoff_file
    if not path or not os.path.exists(os.path.splitext(path)[0] + ".children"):
        return False
    capture.write(path, "json", True, summary=False)
    return True


def _messages_to(path):
    """`run --live`: snakescope's messages at the end (the summary, "wrote
    ...") go to `path` instead of stderr, which the live view holds; `run`
    prints them once the view is closed. The program's own output is
    flushed first and stays its own. Returns what `_messages_back` needs."""
    if not path:
        return None
    try:
        sys.stderr.flush()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return None  # then on stderr, as without --live
    saved = os.dup(2)
    os.dup2(fd, 2)
    os.close(fd)
    return saved


def _messages_back(saved):
    if saved is not None:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _add_opcode_table(capture):
    """--opcodes: this interpreter's opcode table, asked after sampling stopped."""
    from snakescope import _opcodes

    try:
        capture.set_opcode_table(_opcodes.table_json())
    except Exception as exc:  # the instructions stay, shown as numbers
        print(f"snakescope: no opcode table for --opcodes: {exc}", file=sys.stderr)


def _print_uncaught(exc):
    """What Python prints for an uncaught exception, through the program's own
    `sys.excepthook`, without the bootstrap's frames (the default hook prints
    the exception's own traceback, so that is what is trimmed)."""
    exc.__traceback__ = _user_traceback(exc.__traceback__)
    sys.excepthook(type(exc), exc, exc.__traceback__)


def _die_by_sigint():
    """What Python does after an uncaught KeyboardInterrupt, once the
    traceback is printed: wait for non-daemon threads, run the atexit
    functions (the program's, then snakescope's write), flush the standard
    streams, and die by SIGINT so the parent sees it."""
    threading = sys.modules.get("threading")
    if threading is not None and hasattr(threading, "_shutdown"):
        threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def _std_streams_flush():
    """Whether stdout and stderr flush: when they do not (a closed pipe),
    Python's own flush right after the atexit functions fails again and the
    exit status becomes 120."""
    ok = True
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            ok = False
    return ok


def _guard_endings(state, write_profile):
    """Endings that skip the interpreter's exit write the capture first:
    `os._exit` (from any thread) and the `exec` family (os.execl*, execv*
    and execlp* all end in os.execv or os.execve). A forked child's
    `os._exit` is the child's own: the sampler stayed in the parent."""
    def written_first(real, status):
        def wrapper(*args):  # os._exit and os.exec* take positional arguments only
            state["code"] = status(args)
            write_profile()  # returns at once in a forked child
            return real(*args)

        _looks_like(wrapper, real)
        return wrapper

    os._exit = written_first(os._exit, lambda args: args[0])
    # After exec the program goes on as another image: no exit status.
    os.execv = written_first(os.execv, lambda args: None)
    os.execve = written_first(os.execve, lambda args: None)
    if sys.version_info >= (3, 12):
        _quiet_fork_warning()


def _looks_like(new, old):
    new.__name__ = new.__qualname__ = old.__name__
    new.__doc__ = old.__doc__
    new.__module__ = old.__module__


def _quiet_fork_warning():
    """Since 3.12 `os.fork()` warns when the process has more than one OS
    thread ("This process is multi-threaded, use of fork() may lead to
    deadlocks"): snakescope's own native threads would make a
    single-threaded program warn. Forks then run with that warning off
    unless the program has threads of its own, when it is raised as usual
    (from the caller's line, as os.fork raises it)."""
    import warnings

    real_fork = os.fork

    def fork():
        if _program_threads() > 1:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DeprecationWarning)
                pid = real_fork()
            if pid != 0:
                for w in caught:
                    warnings.warn_explicit(w.message, w.category, *_caller())
            return pid
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning,
                                    message=r"This process \(pid=\d+\) is multi-threaded")
            return real_fork()

    _looks_like(fork, real_fork)
    os.fork = fork


def _caller():
    """File, line, module and registry of the code that called os.fork."""
    frame = sys._getframe(2)
    globs = frame.f_globals
    return (frame.f_code.co_filename, frame.f_lineno, globs.get("__name__", "<string>"),
            globs.setdefault("__warningregistry__", {}))


def _program_threads():
    """OS threads of this process that are not snakescope's (named snakescope-*)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    own = 0
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/comm", "rb") as f:
                own += f.read().startswith(b"snakescope-")
        except OSError:
            pass
    return len(tasks) - own


def _start_lines(opts):
    """kernprof's `profile` builtin (unless the program's environment has one)
    and the --lines patterns."""
    import builtins

    from snakescope import _lines

    if not hasattr(builtins, "profile"):
        builtins.profile = _lines.profile
    _lines.arm(opts.lines)


_OPERANDS = []  # the operand sampler's module, once `advise` started it


def _start_operands():
    """`snakescope advise`: the operand sampler (snakescope/_advise/_operands.py),
    its file left out of the profile as the bootstrap's own are."""
    if os.environ.get("SNAKESCOPE_ADVISE_OPERANDS"):
        from snakescope._advise import _operands

        _OPERANDS.append(_operands)
        own = _operands.start_from_environment()
        if own:
            _OWN_FILES_LIST.append(own)


def _stop_operands():
    """The program's main code returned: the operand sampler's looks end
    (they are pending calls, which 3.8 refuses once the exit has begun).
    Calls no builtin unless advise started the sampler: --exact is still
    counting here, and would count it as the program's."""
    if _OPERANDS:
        _OPERANDS[0].stop()


def _return_the_package():
    """When `snakescope run` lent this package to an interpreter that does not
    have it (a directory of its own first on PYTHONPATH), takes that directory
    off sys.path and restores PYTHONPATH, so the program sees the sys.path and
    environment plain `python` would give it. The package stays imported."""
    lent = os.environ.pop("SNAKESCOPE_RUN_PATH", None)
    if lent is None:
        return
    sys.path[:] = [p for p in sys.path if p != lent]
    sys.path_importer_cache.pop(lent, None)
    original = os.environ.pop("SNAKESCOPE_RUN_PYTHONPATH", None)
    if original is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = original


def main(argv):
    global _NATIVE
    _return_the_package()
    try:
        from snakescope import _native
    except ImportError as exc:  # one line, not a traceback; the program has not started
        print(f"error: snakescope cannot load its native module in {sys.executable}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    _NATIVE = _native
    opts = _Options(argv)
    # "child": this is a forked child (no os.getpid() calls at the end: under
    # --exact they would count as the program's).
    state = {"code": 0, "written": False, "child": False}
    os.register_at_fork(after_in_child=lambda: state.update(child=True))

    from snakescope import _handover, _memory  # noqa: F401  imported now, not while writing

    def write_profile(at_exit=False):
        if state["written"] or state["child"]:  # a forked child writes nothing
            return
        state["written"] = True
        capture = None
        if opts.stat:  # first: what follows is snakescope's work, not the program's
            _native.stat_stop()
        try:
            if opts.exact:  # first: nothing below is the program's calls
                capture = _stop_exact(_native, opts)
            else:
                if at_exit and state["code"] >= 0 and not _std_streams_flush():
                    state["code"] = 120  # what Python exits with when its final flush fails
                capture = _native.stop_capture(lambda: _memory.census_rows("exit"), "run")
                if opts.opcodes:
                    _add_opcode_table(capture)
        except Exception as exc:  # never turn the program's exit into a snakescope traceback
            print(f"snakescope: could not write the profile: {exc}", file=sys.stderr)
        from snakescope import _hooks, _lines

        _hooks.warn_if_replaced(opts.exact)  # after exact_stop, before the lines stop
        lines = None
        try:
            lines = _lines.stop()
            if lines is not None and capture is not None:
                capture.set_lines(lines.rows())
        except Exception as exc:
            print(f"snakescope: could not write the line timings: {exc}", file=sys.stderr)
        saved = _messages_to(opts.messages_file)
        try:
            if capture is not None:
                try:
                    capture.finish_run(opts.command(), state["code"])
                    if not _hand_over(opts, capture):
                        capture.write(opts.output, opts.format, opts.quiet, summary=not opts.exact)
                except Exception as exc:
                    print(f"snakescope: could not write the profile: {exc}", file=sys.stderr)
            if lines is not None and capture is not None:
                try:
                    _write_lines(opts, capture)
                except Exception as exc:
                    print(f"snakescope: could not write the line timings: {exc}", file=sys.stderr)
        finally:
            _messages_back(saved)

    try:
        program = _RUNNERS[opts.kind](opts.target, opts.args)
        atexit.register(write_profile, at_exit=True)  # registered first, so it runs last
        _guard_endings(state, write_profile)  # before profiling starts: its imports are not the program's
        try:
            # The program's own sys.setprofile/settrace keep working beside
            # our hooks (exact, and line timing before 3.12), and new threads
            # get our hook without threading.setprofile.
            from snakescope import _hooks

            _start_operands()  # `snakescope advise` only
            _hooks.install()
            _start_lines(opts)
            if opts.exact:
                from snakescope import _exact  # noqa: F401  imported now, not profiled at exit

                _native.exact_start()
            else:
                _native.start(opts.rate, opts.idle, opts.gil, _OWN_FILES_LIST, opts.opcodes,
                              opts.task_layout_file)
                if opts.memory != "off":
                    _native.memory_start(0 if opts.memory == "exact" else opts.memory_interval,
                                         _OWN_FILES_LIST, census=lambda: _memory.census_rows("peak"))
                    # 3.9-3.12: a GIL handover makes the main thread run a queued census.
                    _handover.start_census_kicker(_native)
                if opts.live_snapshot_file:  # --live-web: the capture so far, every second
                    objects = None if opts.memory == "off" else (lambda: _memory.census_rows("live"))
                    _native.live_start(opts.live_snapshot_file, objects)
                _native.rescue_arm(opts.output, opts.format, opts.command(), opts.quiet)
            if opts.stat:  # last: snakescope's own threads are started, and not counted
                _native.stat_start()
        except Exception as exc:
            state["written"] = True
            print(f"snakescope: profiling is off: {exc}", file=sys.stderr)
        try:
            program()
        finally:
            _stop_operands()
            if opts.memory != "off":
                # Before the interpreter's exit begins (3.8 cannot take a
                # census request then, and the census kicker must have left:
                # see memory_close_censuses).
                _native.memory_close_censuses()
        _program_done(opts, write_profile)
    except SystemExit as exc:
        state["code"] = _exit_code(exc)
        _program_done(opts, write_profile)
        raise
    except KeyboardInterrupt as exc:
        _print_uncaught(exc)
        state["code"] = -signal.SIGINT
        _die_by_sigint()
    except BaseException as exc:
        _print_uncaught(exc)
        state["code"] = 1
        raise SystemExit(1) from None


if __name__ == "__main__":
    main(sys.argv[1:])
