"""A program with its own profile and trace functions, printing what they see.

Run as `program_hooks.py PART...` (all parts without arguments). Its output
under `snakescope run --exact` / `--lines` must be byte for byte what plain
`python` prints. `work` runs WORK_CALLS times in every part that calls it,
its loop line LOOP times per call (for the exact counts and line hits).
"""

import sys
import threading
import traceback

WORK_CALLS = 0
LOOP = 5


def work(n):
    total = 0
    for i in range(n):
        total += i
    return total


def helper(x):
    return work(x) + len([x])


def describe(frame, event, arg):
    """One event as a line: event, function, line, and the C function's name."""
    name = frame.f_code.co_name
    extra = getattr(arg, "__name__", "") if event.startswith("c_") else ""
    if event == "return":
        extra = repr(arg)
    return f"{event} {name}:{frame.f_lineno} {extra}".rstrip()


def call_work(times):
    global WORK_CALLS
    for _ in range(times):
        WORK_CALLS += 1
        helper(LOOP)


def part_profile():
    seen = []

    def hook(frame, event, arg):
        seen.append(describe(frame, event, arg))

    print("before", sys.getprofile())
    sys.setprofile(hook)
    print("installed", sys.getprofile() is hook)
    call_work(2)
    sys.setprofile(None)
    print("removed", sys.getprofile())
    print("\n".join(seen))


def part_replace():
    """A second profile function replaces the first (it sees the c_return)."""
    first, second = [], []
    sys.setprofile(lambda f, e, a: first.append(describe(f, e, a)))
    helper(2)
    sys.setprofile(lambda f, e, a: second.append(describe(f, e, a)))
    helper(3)
    sys.setprofile(None)
    call_work(1)
    print("first", first)
    print("second", second)


def traced_function(n):
    x = n
    for i in range(n):
        x += i
    try:
        raise KeyError(x)
    except KeyError:
        pass
    return x


def part_trace():
    seen = []

    def local(frame, event, arg):
        detail = type(arg[1]).__name__ if event == "exception" else ""
        seen.append(f"  {describe(frame, event, None)} {detail}".rstrip())
        return local

    def tracer(frame, event, arg):
        seen.append(describe(frame, event, arg))
        if frame.f_code.co_name == "traced_function":
            return local
        return None

    sys.settrace(tracer)
    print("installed", sys.gettrace() is tracer)
    traced_function(3)
    call_work(1)
    sys.settrace(None)
    print("removed", sys.gettrace())
    print("\n".join(seen))


def part_opcodes():
    counts = {"opcode": 0, "line": 0}

    def local(frame, event, arg):
        if event in counts:
            counts[event] += 1
        return local

    def tracer(frame, event, arg):
        if frame.f_code.co_name == "traced_function":
            frame.f_trace_opcodes = True
            return local
        return None

    sys.settrace(tracer)
    traced_function(4)
    sys.settrace(None)
    print("opcodes and lines seen", counts)


def changed_local():
    value = 1
    value = value + 0
    return value


def part_locals():
    """A tracer that sets a local through f_locals (what debuggers do)."""

    def tracer(frame, event, arg):
        if frame.f_code.co_name == "changed_local":
            def local(frame, event, arg):
                if event == "line" and frame.f_lineno == changed_local.__code__.co_firstlineno + 2:
                    frame.f_locals["value"] = 41
                return local
            return local
        return None

    sys.settrace(tracer)
    result = changed_local()
    sys.settrace(None)
    print("changed_local returned", result)


def part_raise_profile():
    def hook(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "helper":
            raise RuntimeError("profile hook failed")

    sys.setprofile(hook)
    try:
        call_work(1)
    except RuntimeError:
        traceback.print_exc(file=sys.stdout)
    print("after raise", sys.getprofile())
    call_work(1)


def leaf(x):
    return len(x)


def leaf_caller():
    total = 0
    for i in range(4):
        try:
            total += leaf([i])
        except RuntimeError:
            total += 100
    return total


def part_raise_c_call():
    """The profile function raises at a c_call: the C function is not called."""

    def hook(frame, event, arg):
        if event == "c_call" and getattr(arg, "__name__", "") == "len" and frame.f_locals["x"] == [2]:
            raise RuntimeError("c_call")

    sys.setprofile(hook)
    first = leaf_caller()
    print("after raise", sys.getprofile(), first, leaf_caller())


def part_raise_trace():
    def tracer(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "helper":
            raise ValueError("trace hook failed")
        return None

    sys.settrace(tracer)
    try:
        call_work(1)
    except ValueError:
        traceback.print_exc(file=sys.stdout)
    print("after raise", sys.gettrace())
    call_work(1)


def part_threads():
    events = []
    lock = threading.Lock()

    def hook(frame, event, arg):
        if frame.f_code.co_name in ("work", "helper"):
            with lock:
                events.append(("profile", event, frame.f_code.co_name))

    def tracer(frame, event, arg):
        if frame.f_code.co_name == "helper":
            with lock:
                events.append(("trace", event, frame.f_code.co_name))
        return None

    threading.setprofile(hook)
    threading.settrace(tracer)
    t = threading.Thread(target=call_work, args=(1,))
    t.start()
    t.join()
    threading.setprofile(None)
    threading.settrace(None)
    t = threading.Thread(target=call_work, args=(1,))
    t.start()
    t.join()
    print("thread events", sorted(events))


def part_all_threads():
    if not hasattr(threading, "setprofile_all_threads"):
        call_work(2)
        print("no setprofile_all_threads")
        return
    events = []
    started, release = threading.Event(), threading.Event()

    def waiting():
        started.set()
        release.wait()
        call_work(1)

    t = threading.Thread(target=waiting)
    t.start()
    started.wait()

    def hook(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "work":
            events.append(threading.current_thread() is threading.main_thread())

    threading.setprofile_all_threads(hook)
    release.set()
    t.join()
    call_work(1)
    threading.setprofile_all_threads(None)
    print("all threads", sorted(events), sys.getprofile())


def uncaught():
    """Not a part: the program dies of its trace function's exception."""

    def tracer(frame, event, arg):
        if frame.f_code.co_name == "helper":
            raise LookupError("uncaught in the trace function")
        return None

    sys.settrace(tracer)
    call_work(1)


PARTS = {name[5:]: f for name, f in sorted(globals().items()) if name.startswith("part_")}
PARTS_AND_MORE = {**PARTS, "uncaught": uncaught}

if __name__ == "__main__":
    for part in sys.argv[1:] or sorted(PARTS):
        print(f"== {part}")
        PARTS_AND_MORE[part]()
    print("work calls", WORK_CALLS)
