"""The program's own profile and trace functions under `snakescope run`.

``install()`` replaces ``sys.setprofile``, ``sys.settrace`` (and 3.12's
``sys._setprofileallthreads``) by native built-ins that keep snakescope's C
hooks installed and let them call the program's function the way CPython's
own trampolines do, and gives new threads the hook through ``threading``'s
thread start (``_native.hooks_install``; see docs/architecture.md).
"""

import sys


class _Probe(Exception):
    pass


def _trampoline_adds_traceback():
    """Whether this interpreter's profile trampoline adds the frame to the
    traceback of an exception its function raises (3.8 to 3.10 and early
    3.11 do; from 3.11 on the interpreter adds it itself as well): asked of
    the interpreter, as this changed within 3.11. Only 3.11 is asked: on
    3.12+ a profile function, even for a moment, instruments every code
    object through sys.monitoring (allocating as each runs next)."""
    if sys.version_info[:2] != (3, 11):
        return sys.version_info < (3, 11)

    def target():
        pass

    def raiser(frame, event, arg):
        if event == "call":
            raise _Probe

    tb = None
    sys.setprofile(raiser)
    try:
        target()
    except _Probe as exc:
        tb = exc.__traceback__
    finally:
        sys.setprofile(None)
    entries = 0
    while tb is not None:
        entries += tb.tb_frame.f_code is target.__code__
        tb = tb.tb_next
    return entries > (1 if sys.version_info >= (3, 11) else 0)


def install():
    from snakescope import _native

    _native.hooks_install(_trampoline_adds_traceback())


def _lines_depth():
    from snakescope import _native

    return _native.hooks_lines_depth()


def warn_if_replaced(exact):
    """One `snakescope:` line when the program cut a measurement off on its
    main thread by installing a C-level profile hook of its own (cProfile
    before 3.12), which replaces ours (`sys.setprofile` never sees it);
    called at the end, after --exact stopped (so nothing here is counted),
    before line timing stops. The program's output is unchanged."""
    from snakescope import _native

    try:
        cut = []
        if exact and _native.hooks_exact_sees() is False:
            cut.append("--exact's call counts")
        outer = _native.hooks_lines_depth()
        if outer is not None and _lines_depth() != outer + 1:
            cut.append("line timing")
    except Exception:  # never turn the program's exit into a snakescope traceback
        return
    if cut:
        print(f"snakescope: the program replaced snakescope's profile hook with a C-level one of its own "
              f"(cProfile?): {' and '.join(cut)} on its main thread stop where it did", file=sys.stderr)
