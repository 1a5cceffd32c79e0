"""The operand sampler: runtime facts about the names a hot line reads.

Started by ``snakescope advise`` inside the program (``_run.py``, when
``SNAKESCOPE_ADVISE_OPERANDS`` names the file to write): every 40 ms (the
first 12 times, then every 250 ms) a look reads each thread's innermost
frame of the program's own code — in the main thread as a pending call
while it runs, else from the sampler's daemon thread (``arm``) — and, for
the names the current line reads (``x`` and ``x.attr``), records the type
of the value bound to them and, for the built-in containers and str, its
length (``len`` of a built-in never runs program code; nothing
else is called: attributes are read from the instance's ``__dict__`` only).
The function's own variables are noted at every look too (in a tight loop
the GIL changes hands at a jump that has no line). At exit it writes
``{"lines": [{file, line, seen, names: {name: {type, len_max, seen}}}],
"functions": [{file, function, seen, names}]}``; the advisor joins them to
the capture's hot lines (the line's facts first, else its function's). The
same looks measure where threads were blocked (``"waits"``: ``_waits.py``).
The file is written with ``marshal`` (the rules' process runs the same
interpreter): this module is imported as the program starts, so it imports
nothing costly then (``json`` took 4 ms; ``ast`` and ``sysconfig`` come with
the first look, in the sampler's thread).
"""

import atexit
import marshal
import os
import sys
import threading
import time

from .._handover import PENDING_CALLS_WAIT
from ._waits import Waits

INTERVAL = 0.04  # between the first EARLY looks (short programs get enough of them)
EARLY = 12
LATER = 0.25  # between the rest (on 3.9-3.12 each look from the thread is a GIL
# handover: ~12 ms of julia.py's main thread blocked a run, bench/advise.py)
# Where a look may run in the main thread as a pending call: 3.9-3.12 only
# notice a pending call queued by another thread at the main thread's next
# GIL handover (python/cpython#95820), which is the cost the pending look saves.
PENDING_LOOKS = not PENDING_CALLS_WAIT
OPERAND_THREAD = "snakescope-operands"  # left out of the advice (_evidence.py)
SIZED = {list, tuple, set, frozenset, dict, str, bytes, bytearray}
_OWN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Sampler:
    def __init__(self, path):
        self.path = path
        self.lines = {}  # (file, line) -> {"seen": n, "names": {name: fact}}
        self.functions = {}  # (file, qualified name) -> the same, for its variables
        self.reads = {}  # (file, line) -> [names read], parsed once
        self.trees = {}
        self.stopped = False
        self.pending = False  # looks as pending calls (`arm`)
        self.me = None  # the sampler thread's ident, once it runs
        self.thread = threading.Thread(target=self.loop, name=OPERAND_THREAD, daemon=True)
        self.waits = Waits(lambda file: file.startswith(_OWN))  # serial-io's evidence

    def loop(self):
        self.me = me = threading.get_ident()
        if not self.pending:
            return self.loop_here(me)
        main = threading.main_thread().native_id
        while _native_looks().looks_wait(main, INTERVAL, EARLY, LATER):
            self.look_all(me)  # the main thread is blocked, or in C code
        self.waits.close()

    def loop_here(self, me):
        """Every look from this thread (where a pending look would wait for a
        GIL handover, or without a native thread id: see `arm`)."""
        looks = 0
        while True:
            # time.sleep, not an Event's wait with a timeout: on 3.11 that
            # cost the program 2 ms a wake-up (julia.py: +46 ms over 1.7 s,
            # against nothing for sleeping).
            time.sleep(INTERVAL if looks < EARLY else LATER)
            if self.stopped:
                break
            looks += 1
            self.look_all(me)
        self.waits.close()  # (here: only this thread uses them)

    def look_all(self, me):
        """One look at every thread but this sampler's (`me`)."""
        if self.stopped:
            return
        try:
            frames = sys._current_frames()
            for tid, frame in frames.items():
                if tid != me:
                    self.look(frame)
            self.waits.look(frames, me)
        except Exception:  # a fact less, never the program's failure
            pass

    def look(self, frame):
        while frame is not None and _skipped(frame.f_code.co_filename):
            frame = frame.f_back
        if frame is None:
            return
        local, glob = frame.f_locals, frame.f_globals
        code = frame.f_code
        # The function's own variables, wherever it is: in a tight loop the
        # GIL changes hands at a jump that has no line (f_lineno is None).
        key = (code.co_filename, getattr(code, "co_qualname", code.co_name))
        row = self.functions.setdefault(key, {"seen": 0, "names": {}})
        row["seen"] += 1
        for name in code.co_varnames + code.co_cellvars + code.co_freevars:
            if name in local:
                _note(row["names"], name, local[name])
        line = frame.f_lineno
        if line is None:
            return
        # The names (and `name.attr`s) the current line reads.
        row = self.lines.setdefault((code.co_filename, line), {"seen": 0, "names": {}})
        row["seen"] += 1
        for name in self.names_read(code.co_filename, line):
            found, value = _resolve(name, local, glob)
            if found:
                _note(row["names"], name, value)

    def names_read(self, file, line):
        key = (file, line)
        if key not in self.reads:
            self.reads[key] = _reads_on_line(self.tree(file), line)
        return self.reads[key]

    def tree(self, file):
        if file not in self.trees:
            import ast  # (the first look: see the module's documentation)

            try:
                with open(file, encoding="utf-8") as f:
                    self.trees[file] = ast.parse(f.read())
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
                self.trees[file] = None
        return self.trees[file]

    def arm(self):
        """Looks in the main thread as pending calls, where they can be (see
        PENDING_LOOKS and the agent's looks.rs): no GIL handover while the
        program runs. Armed before the thread starts, so a stop is final."""
        main = getattr(threading.main_thread(), "native_id", None)
        if PENDING_LOOKS and main is not None:
            _native_looks().looks_arm(lambda: self.look_all(self.me))
            self.pending = True

    def stop(self):
        """No more looks (the program's main code returned, or writing). The
        thread leaves before the interpreter's exit: one that takes the GIL
        back during the exit is ended by a forced unwind, which must not cross
        the agent's frames."""
        self.stopped = True
        if self.pending:
            _native_looks().looks_stop()
            if self.thread.is_alive() and self.thread is not threading.current_thread():
                self.thread.join(1.0)

    def write(self):
        self.stop()
        # (list(): a look still running in the sampler's thread may add rows)
        rows = [{"file": f, "line": n, "seen": r["seen"], "names": r["names"]}
                for (f, n), r in list(self.lines.items())]
        functions = [{"file": f, "function": n, "seen": r["seen"], "names": r["names"]}
                     for (f, n), r in list(self.functions.items())]
        try:
            with open(self.path, "wb") as out:
                marshal.dump({"interval_s": LATER, "lines": rows, "functions": functions,
                              "waits": self.waits.section()}, out)
        except (OSError, ValueError):  # (ValueError: a value marshal cannot write)
            pass


_LIBRARY = []  # the library's directories, found at the first look


def _skipped(filename):
    """snakescope's own files, the standard library's and installed packages':
    the facts are about the program's own lines."""
    if not _LIBRARY:
        import sysconfig

        paths = sysconfig.get_paths()
        _LIBRARY.append(tuple({paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}))
    return filename.startswith(_OWN) or filename.startswith("<") or filename.startswith(_LIBRARY[0])


def _reads_on_line(tree, line):
    if tree is None:
        return []
    import ast  # (imported by then: see `tree`)

    names = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) != line:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            names.add(f"{node.value.id}.{node.attr}")
    return sorted(names)


def _resolve(name, local, glob):
    base, _, attr = name.partition(".")
    if base in local:
        value = local[base]
    elif base in glob:
        value = glob[base]
    else:
        return False, None
    if not attr:
        return True, value
    d = getattr(value, "__dict__", None) if not isinstance(value, type) else None
    if isinstance(d, dict) and attr in d:
        return True, d[attr]
    return False, None


def _note(facts, name, value):
    kind = type(value)
    module = kind.__module__
    label = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    fact = facts.setdefault(name, {"type": label, "len_max": None, "seen": 0})
    if fact["type"] != label:
        fact["type"] = "mixed"
    fact["seen"] += 1
    if label == "numpy.ndarray":  # C getters: no program code runs
        fact["shape"] = [int(d) for d in value.shape]
        fact["dtype"] = str(value.dtype)
    if kind is list and len(value) >= 2:
        picks = _probes(value)
        fact["sorted"] = _sorted_at(picks) and fact.get("sorted", True)
        items = _item_type(picks)
        fact["items"] = items if fact.get("items", items) == items else None
    if kind in SIZED or label == "collections.deque":
        n = len(value)
        fact["len_max"] = n if fact["len_max"] is None else max(fact["len_max"], n)


def start_from_environment():
    """Starts the sampler when `snakescope advise` asked for it; returns its
    module file (snakescope's own, left out of the profile) or None."""
    path = os.environ.pop("SNAKESCOPE_ADVISE_OPERANDS", None)
    if not path:
        return None
    sampler = _Sampler(path)
    _SAMPLER.append(sampler)
    atexit.register(sampler.write)
    sampler.arm()
    sampler.thread.start()
    time.sleep(0)
    return os.path.abspath(__file__)


_SAMPLER = []  # the sampler started, if any


def _native_looks():
    from snakescope import _native  # (imported by the bootstrap already)

    return _native


def stop():
    """The program's main code returned: no more looks (3.8 cannot take a
    pending call once the interpreter's exit has begun)."""
    for sampler in _SAMPLER:
        sampler.stop()


PROBES = 64
ORDERED = (int, float, str)


def _probes(values):
    """PROBES items at evenly spaced positions of a list (all of a short one)."""
    n = len(values)
    return [values[i * (n - 1) // (PROBES - 1)] for i in range(PROBES)] if n > PROBES else values[:]


def _sorted_at(picks):
    """Whether probed ints, floats or strs are non-decreasing (None when they
    are of other types: comparing them could run program code)."""
    if not all(type(v) in ORDERED for v in picks) or len({type(v) is str for v in picks}) > 1:
        return None
    return all(a <= b for a, b in zip(picks, picks[1:]))


def _item_type(picks):
    """"int" or "float" when every probed item is exactly one (float-list's
    evidence when no census saw the list), else None."""
    kinds = {type(v) for v in picks}
    return {int: "int", float: "float"}.get(kinds.pop()) if len(kinds) == 1 else None
