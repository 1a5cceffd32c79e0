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

Where the tasks are kept is found the same way: in sets of ``asyncio.tasks``
up to 3.13, and from 3.14 on (no set holds a C task) in circular linked
lists through a node inside each task, whose heads are in each thread's
state and, for the tasks of threads that have ended, in the interpreter's.
"""

import asyncio
import ctypes
import json
import sys
import threading

WORD = ctypes.sizeof(ctypes.c_void_p)
NAME = "snakescope-probe-task"


def words(obj, size):
    base = id(obj)
    return [ctypes.c_size_t.from_address(base + i).value for i in range(0, size, WORD)]


def word(obj, off):
    return ctypes.c_size_t.from_address(id(obj) + off).value


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
    """The names in ``asyncio.tasks`` of its sets of tasks, when they hold the task."""
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
        return []
    return found


# Farthest a list's head may be from the start of its thread state, or
# interpreter state, for the probe to take it as a field of that state.
THREAD_SPAN = 1 << 16
INTERP_SPAN = 1 << 20


def task_lists(first, second, size):
    """3.14+: the lists that hold the C tasks, found from two pending tasks
    this thread made one after the other (``second`` the newest): the
    offset in a task of its node (``first``'s next is ``second``'s node,
    whose previous is ``first``'s), and of the list's head in the thread
    state (the newest task's next) and in the interpreter state (which
    takes the tasks of a thread that ends)."""
    node = only(
        [
            off
            for off in range(WORD, size - WORD, WORD)
            if word(first, off) == id(second) + off and word(second, off + WORD) == id(first) + off
        ],
        "no set of asyncio.tasks holds the task; a task list's node",
    )
    ctypes.pythonapi.PyThreadState_Get.restype = ctypes.c_void_p
    thread_head = head_offset(ctypes.pythonapi.PyThreadState_Get(), second, node, THREAD_SPAN, "thread")
    task = lingering_task()
    ctypes.pythonapi.PyInterpreterState_Get.restype = ctypes.c_void_p
    interp_head = head_offset(ctypes.pythonapi.PyInterpreterState_Get(), task, node, INTERP_SPAN, "interpreter")
    return {"node": node, "thread_head": thread_head, "interp_head": interp_head}


def head_offset(state, last, node, span, what):
    """The offset in the state at ``state`` of the head of the list that ends at ``last``.

    (``last``'s next is the head: a node of a live list, so reading the
    head's previous reads memory that is there.)"""
    head = word(last, node) - state
    if not 0 < head < span or head % WORD:
        raise SystemExit("the %s's task list is not in its state" % what)
    if ctypes.c_size_t.from_address(state + head + WORD).value != id(last) + node:
        raise SystemExit("the %s's task list does not end at its last task" % what)
    return head


def lingering_task():
    """A pending task of a thread that has ended: the interpreter's list holds it."""
    made = []

    def thread():
        loop = asyncio.new_event_loop()
        waited = loop.create_future()

        async def wait():
            await waited

        task = loop.create_task(wait())
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        task._log_destroy_pending = False
        made.append(task)

    t = threading.Thread(target=thread)
    t.start()
    t.join()
    return made[0]


async def main(out):
    loop = asyncio.get_running_loop()
    waited = loop.create_future()

    async def wait(future):
        await future

    async def nothing():
        pass

    coro = wait(waited)
    task = asyncio.ensure_future(coro)
    task.set_name(NAME)
    other_waited = loop.create_future()
    other = asyncio.ensure_future(wait(other_waited))
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
        }
    )
    out["registries"] = registries(task)
    if not out["registries"]:
        out["lists"] = task_lists(task, other, size)
    waited.set_result(None)
    other_waited.set_result(None)
    await task
    await other


def layout():
    out = {}
    asyncio.run(main(out))
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(layout()))
