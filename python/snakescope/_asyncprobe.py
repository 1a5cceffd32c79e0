"""Where this interpreter's C ``Task`` keeps its fields, found by looking.

``snakescope record --async`` runs this file with the target's interpreter
(``python -I -c``, so it must import nothing of snakescope); ``run`` does the
same with the program's interpreter, in a process of its own. The layout of
``TaskObj`` is private to ``Modules/_asynciomodule.c``: no header names it,
and it changed in most versions. So the probe makes tasks whose coroutine,
awaited future, loop, name and state it knows, and finds each of them in the
task's memory (ctypes reads its own process). A field found at no offset, or
at more than one, is an error: the caller refuses ``--async`` rather than
guess. Prints one JSON object. Works from 3.8 on.
"""

import asyncio
import ctypes
import json
import sys

WORD = ctypes.sizeof(ctypes.c_void_p)
NAME = "snakescope-probe-task"


def words(obj, size):
    base = id(obj)
    return [ctypes.c_size_t.from_address(base + i).value for i in range(0, size, WORD)]


def only(hits, what):
    if len(hits) != 1:
        raise SystemExit("%s found at %d places in the task" % (what, len(hits)))
    return hits[0]


def offset_of(obj, size, value, what):
    return only([i * WORD for i, w in enumerate(words(obj, size)) if w == value], what)


def state_offset(tasks, size):
    """The 4-byte field that is 0, 1 and 2 in a pending, cancelled and done task."""
    expected = (0, 1, 2)
    hits = []
    for off in range(0, size, 4):
        got = tuple(ctypes.c_int.from_address(id(t) + off).value for t in tasks)
        if got == expected:
            hits.append(off)
    return only(hits, "the state")


def frame_field(coro):
    """How the coroutine holds its frame: embedded (3.11+) or a pointer."""
    frame = coro.cr_frame
    size = type(coro).__basicsize__
    if sys.version_info >= (3, 11):
        # PyFrameObject: head (2 words), f_back, then f_frame (the
        # _PyInterpreterFrame, inside the coroutine object for a coroutine).
        inner = ctypes.c_size_t.from_address(id(frame) + 3 * WORD).value
        offset = inner - id(coro)
        if not 0 < offset < size:
            raise SystemExit("the coroutine's frame is not inside it")
        return {"embedded": True, "offset": offset}
    return {"embedded": False, "offset": offset_of(coro, size, id(frame), "the frame")}


def registries(task):
    """The names in ``asyncio.tasks`` of the sets that hold the task."""
    tasks_module = sys.modules["asyncio.tasks"]
    found = []
    for name in ("_all_tasks", "_scheduled_tasks", "_eager_tasks"):
        registry = getattr(tasks_module, name, None)
        if registry is None:
            continue
        weak = type(registry).__name__ == "WeakSet"
        if weak or isinstance(registry, set):
            found.append({"name": name, "weak": weak})
    if not any(task in getattr(tasks_module, r["name"]) for r in found):
        raise SystemExit("no registry of asyncio.tasks holds the task")
    return found


async def main(out):
    loop = asyncio.get_running_loop()
    waited = loop.create_future()

    async def wait():
        await waited

    async def nothing():
        pass

    coro = wait()
    task = asyncio.ensure_future(coro)
    task.set_name(NAME)
    done = asyncio.ensure_future(nothing())
    cancelled = asyncio.ensure_future(nothing())
    cancelled.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    cls = type(task)
    if cls.__module__ != "_asyncio" or cls.__name__ != "Task":
        raise SystemExit("tasks are not the C Task (%s.%s)" % (cls.__module__, cls.__name__))
    size = cls.__basicsize__
    name = task.get_name()
    out.update(
        {
            "python_version": sys.version.split()[0],
            "task_type": "%s.%s" % (cls.__module__, cls.__name__),
            "task_size": size,
            "coro": offset_of(task, size, id(coro), "the coroutine"),
            "waiter": offset_of(task, size, id(waited), "the awaited future"),
            "loop": offset_of(task, size, id(loop), "the loop"),
            "name": offset_of(task, size, id(name), "the name"),
            "state": state_offset([task, cancelled, done], size),
            "frame": frame_field(coro),
            "registries": registries(task),
        }
    )
    waited.set_result(None)
    await task


def layout():
    out = {}
    asyncio.run(main(out))
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(layout()))
