"""Pending calls queued by another thread, and the census kicker.

``Py_AddPendingCall`` from a thread other than the main thread does not set
the main thread's eval breaker on CPython 3.9-3.12 (python/cpython#95820):
the call runs only when the main thread next takes the GIL back. The one
version test for that is here (``PENDING_CALLS_WAIT``); advise's pending
looks (``_advise/_operands.py``) and the memory censuses both use it.

On those versions ``snakescope run`` starts the census kicker when memory is
tracked (``start_census_kicker``): a thread of its own, started with
``_thread`` (no Python frame, no ``threading`` object), that waits in the
agent without the GIL (``memory/kicker.rs``) and hands the GIL over once for
each census queued for the main thread (near the peak, or live) that is
still pending 10 ms later. It costs nothing while no census is queued, and
leaves when ``memory_close_censuses`` is called (the program's main code
returned), before the interpreter's exit.
"""

import sys

PENDING_CALLS_WAIT = (3, 9) <= sys.version_info < (3, 13)


def start_census_kicker(native):
    """Starts the census kicker where pending calls wait for a handover;
    returns whether it started."""
    if not PENDING_CALLS_WAIT:
        return False
    import _thread

    _thread.start_new_thread(native.census_kicker_run, ())
    return True
