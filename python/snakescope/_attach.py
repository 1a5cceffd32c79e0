"""The agent's session inside a running program, for ``snakescope attach``.

``snakescope attach --pid N`` makes the target's main thread run, at its next
safe point (a pending call, with the GIL), a few lines that put this package
on ``sys.path`` for the import only and call :func:`begin` with the path of
the session's settings (JSON). :func:`begin` starts a ``Profiler`` (sampling,
memory, exact statistics, line timing: what the settings ask) and a thread of
the ``_thread`` module (not in ``threading.enumerate()``) that, after the
duration, stops the profiler — profile and trace functions removed, the
interpreter's own allocators put back, the sampler's thread joined —, writes
the capture (JSON, atomically: a temporary file renamed) where the command
waits for it, and ends. Nothing of this must ever raise into the program: a
failure is written, as one line, to ``OUTPUT.error`` for the command to show.
"""

import json
import os
import sys
import time

_BUSY = "snakescope is already profiling this process (snakescope run, a Profiler, or another attach)"


def begin(settings_path):
    """Starts the session described by the JSON file at `settings_path`."""
    with open(settings_path, "rb") as f:
        settings = json.loads(f.read().decode("utf-8"))
    output = settings["output"]
    try:
        profiler = _start(settings)
    except BaseException as exc:  # the program must not see it
        _report(output, f"{type(exc).__name__}: {exc}")
        return
    import _thread

    _thread.start_new_thread(_finish, (profiler, settings))
    _touch(output + ".started")


def _start(settings):
    from snakescope import _api, _native

    if _native.is_running():
        raise RuntimeError(_BUSY)
    lines = settings.get("lines")
    profiler = _api.Profiler(
        exact=settings.get("exact", False),
        lines=lines if lines else None,
        rate_hz=settings.get("rate", _native.DEFAULT_RATE_HZ),
        idle=settings.get("idle", False),
        gil=settings.get("gil", False),
        memory=settings.get("memory", False),
        memory_interval=settings.get("memory_interval", _native.DEFAULT_MEMORY_INTERVAL),
    )
    # This module and the bootstrap sit at the root of the main thread's
    # stack while the session starts; the timer thread's frames are ours.
    own = [__file__, settings.get("boot", "")]
    profiler._root_files += own
    profiler._own_files += own
    profiler._census = False  # a walk of the whole heap: not in someone else's program
    threading = sys.modules.get("threading")
    profiler._threading_hook = getattr(threading, "_profile_hook", None)
    profiler.start()
    return profiler


def _restore_threading_hook(profiler):
    """Line timing before 3.12 gives threads started meanwhile its hook
    through ``threading.setprofile``, which its stop leaves set: put back
    what the program had (unless the program set another one since)."""
    threading = sys.modules.get("threading")
    if threading is None or profiler.lines is None:
        return
    from snakescope import _lines

    if getattr(threading, "_profile_hook", None) is _lines._install_on_new_thread:
        threading.setprofile(profiler._threading_hook)


def _finish(profiler, settings):
    output = settings["output"]
    try:
        time.sleep(settings["duration"])
        profiler.stop()
        _restore_threading_hook(profiler)
        if profiler.memory:
            from snakescope import _native

            _native.memory_restore_allocators()
        data = profiler.capture().json()
        tmp = output + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, output)
    except BaseException as exc:  # noqa: BLE001  (never into the program)
        _report(output, f"{type(exc).__name__}: {exc}")


def _touch(path):
    try:
        with open(path, "wb"):
            pass
    except OSError:
        pass


def _report(output, line):
    try:
        tmp = output + ".error.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(line.replace("\n", " ") + "\n")
        os.replace(tmp, output + ".error")
    except BaseException:  # noqa: BLE001
        pass
