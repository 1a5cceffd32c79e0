"""Memory from Python: labels for the timeline, and the heap census.

``with snakescope.label("load"): ...`` marks a span of the memory timeline
(what ``profile.timestamp`` gave memory_profiler's ``mprof``).

``snakescope.checkpoint()`` remembers the objects alive now;
``snakescope.heap()`` returns the census of the objects alive now that were
not alive at the last checkpoint (all objects without one) — heapy's
``setrelheap()`` / ``heap()``. The census counts objects by type, as the
garbage collector sees them: every object it tracks plus the untracked
objects they refer to directly (strings, numbers, bytes inside containers).
"""

import contextlib
import gc
import sys

_checkpoint = None  # {id: type} of the objects alive at the last checkpoint


def _type_name(t):
    module = getattr(t, "__module__", "builtins")
    return t.__qualname__ if module == "builtins" else f"{module}.{t.__qualname__}"


def _is_static_type(obj):
    """A type built into the interpreter or an extension (not created by the
    program): reached only through other objects, and never new."""
    return isinstance(obj, type) and not obj.__flags__ & (1 << 9)  # Py_TPFLAGS_HEAPTYPE


def _live_objects():
    """Every object the collector tracks, and the objects they refer to."""
    objects = gc.get_objects()
    seen = {id(obj): obj for obj in objects}
    is_tracked, is_static_type = gc.is_tracked, _is_static_type
    # One call for every object's referents (per-object calls cost as much
    # as the rest of the census: it runs at exit and near the peak).
    for ref in gc.get_referents(*objects):
        key = id(ref)
        if key not in seen and not is_tracked(ref) and not is_static_type(ref):
            seen[key] = ref
    return seen


class Census:
    """Live objects by type: ``rows`` is ``[(type name, count, bytes)]``, most bytes first."""

    def __init__(self, rows, when):
        self.rows = rows
        self.when = when

    @property
    def count(self):
        return sum(r[1] for r in self.rows)

    @property
    def size(self):
        return sum(r[2] for r in self.rows)

    def by_type(self):
        return {name: (count, size) for name, count, size in self.rows}

    def __str__(self):
        lines = [f"Partition of a set of {self.count} objects. Total size = {self.size} bytes.",
                 " Index  Count   %     Size   % Cumulative  % Kind (class / dict of class)"]
        total_n, total_b, cumulative = self.count or 1, self.size or 1, 0
        for i, (name, count, size) in enumerate(self.rows[:30]):
            cumulative += size
            lines.append(f"{i:6} {count:6} {100 * count // total_n:3} {size:8} {100 * size // total_b:3} "
                         f"{cumulative:10} {100 * cumulative // total_b:3} {name}")
        if len(self.rows) > 30:
            lines.append(f"<{len(self.rows) - 30} more rows>")
        return "\n".join(lines)

    __repr__ = __str__


def _census(objects, when, exclude=None):
    by_type = {}
    own = {id(objects), id(exclude)}
    getsizeof = sys.getsizeof
    for key, obj in objects.items():
        if key in own:
            continue
        t = type(obj)
        if exclude is not None and exclude.get(key) is t:
            continue
        entry = by_type.get(t)
        if entry is None:
            by_type[t] = entry = [0, 0]
        entry[0] += 1
        try:
            entry[1] += getsizeof(obj, 0)
        except Exception:  # objects whose __sizeof__ fails still count
            pass
    rows = sorted(((_type_name(t), n, b) for t, (n, b) in by_type.items()), key=lambda r: (-r[2], r[0]))
    return Census(rows, when)


def checkpoint():
    """Remembers the objects alive now; ``heap()`` then shows only newer ones."""
    global _checkpoint
    _checkpoint = None
    objects = _live_objects()
    _checkpoint = {key: type(obj) for key, obj in objects.items()}


def heap():
    """The census of the objects alive now (since the last ``checkpoint()``)."""
    objects = _live_objects()
    return _census(objects, "heap", _checkpoint)


def census_json(when):
    """The census as the capture stores it (for the report), as JSON."""
    import json

    from snakescope import _native

    c = _census(_live_objects(), when)
    return json.dumps([{"when": when, "t": _native.memory_elapsed(),
                        "types": [{"type_name": n, "count": k, "bytes": b} for n, k, b in c.rows[:200]]}])


@contextlib.contextmanager
def label(name):
    """Marks the block as a named span of the memory timeline."""
    from snakescope import _native

    _native.memory_label(str(name), True)
    try:
        yield
    finally:
        _native.memory_label(str(name), False)
