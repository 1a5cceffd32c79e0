"""Memory from Python: labels for the timeline, and the heap census.

``with snakescope.label("load"): ...`` marks a span of the memory timeline
(what ``profile.timestamp`` gave memory_profiler's ``mprof``).

``snakescope.checkpoint()`` remembers the objects alive now;
``snakescope.heap()`` returns the census of the objects alive now that were
not alive at the last checkpoint (all objects without one) — heapy's
``setrelheap()`` / ``heap()``. The census counts objects by type, as the
garbage collector sees them: every object it tracks plus the untracked
objects they refer to directly (strings, numbers, bytes inside containers),
leaving out what the interpreter preallocates (small ints, one-character
strings, built-in types). Both functions first run a full collection, and
their own objects are neither counted nor recorded as the program's
allocations. The checkpoint knows objects by address and type: an object
freed after it whose address a new object of the same type takes counts
as old.
"""

import gc
import sys
from array import array

from snakescope import _native

# The objects alive at the last checkpoint: (their ids, their types' ids),
# two arrays — flat memory, no Python objects the next census could count.
_checkpoint = None


def _type_name(t):
    module = getattr(t, "__module__", "builtins")
    return t.__qualname__ if module == "builtins" else f"{module}.{t.__qualname__}"


_SINGLETONS = (type(None), type(Ellipsis), type(NotImplemented), bool)


def _cached_int_bound(step):
    """The last int the interpreter preallocates going up (step 1) or down
    (step -1) from 0: -5..256 until 3.14, -5..1024 since 3.15. Found by
    asking, since it changes between versions."""
    def cached(n):
        return int(str(n)) is int(str(n))

    lo, hi = 0, step
    while cached(hi) and abs(hi) < 1 << 20:
        lo, hi = hi, hi * 2
    while abs(hi - lo) > 1:  # cached(lo), not cached(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if cached(mid) else (lo, mid)
    return lo


_SMALL_INTS = (_cached_int_bound(-1), _cached_int_bound(1))


def _is_permanent(obj):
    """An object the interpreter made, not the program, and that is never
    new: a type built into it or an extension, or one of its preallocated
    singletons — the small ints (-5..256, or ..1024 since 3.15), the empty
    and one-character (Latin-1) strings and bytes, the empty tuple, None,
    True, False. The census meets these only through other objects (they are
    not tracked), so it would count one as new the first time something
    refers to it."""
    t = type(obj)
    if t is int:
        return _SMALL_INTS[0] <= obj <= _SMALL_INTS[1]
    if t is str or t is bytes:
        return len(obj) <= 1 and (t is bytes or not obj or ord(obj) < 256)
    if t is tuple:
        return not obj
    if t in _SINGLETONS:
        return True
    return isinstance(obj, type) and not obj.__flags__ & (1 << 9)  # Py_TPFLAGS_HEAPTYPE


_MODULE = type(sys)

# The automatic censuses (near the peak, at exit) read every object one by
# one, about 1 µs each: a list of 10 million ints cost 12 s and 750 MB. A
# built-in container with more items than _BIG has every k-th item read
# instead (k = len // _SAMPLE), each standing for k: its untracked items
# (ints, floats, str...) are estimated, and the census says so.
_BIG = 100_000
_SAMPLE = 10_000
_SAMPLED_TYPES = (list, tuple, dict, set, frozenset)


def _live_objects(bounded=False):
    """Every object the collector tracks, and the objects they refer to;
    with ``bounded``, the items of big containers sampled (see ``_BIG``):
    ``(objects by id, {type: [count, bytes]} estimated)``.

    Modules are counted but never asked for their referents: an extension
    module's traverse function may visit memory it does not own. 3.12's
    ``_asyncio`` (until 3.12.5, CPython gh-122695) visits its free list of
    future iterators — dead objects, reference count 0 — so
    ``gc.get_referents`` hands them out as live, and dropping them frees them
    a second time: the free list turns into a loop or a dangling pointer and
    the interpreter's last collection hangs or crashes. What a module holds
    in Python is its ``__dict__``, which the collector tracks, so the census
    still sees it; only untracked objects held by a C module's state alone
    go uncounted."""
    objects = gc.get_objects()
    seen = {id(obj): obj for obj in objects}
    is_tracked, is_permanent = gc.is_tracked, _is_permanent
    estimated = {}
    if bounded:
        big = [obj for obj in objects if type(obj) in _SAMPLED_TYPES and len(obj) > _BIG]
        for obj in big:
            _sample_items(obj, seen, estimated)
        sampled = {id(obj) for obj in big}
        walked = []  # (a loop: a comprehension would hold `sampled` in a cell before 3.12)
        for obj in objects:
            if not isinstance(obj, _MODULE) and id(obj) not in sampled:
                walked.append(obj)
        del big, sampled, obj
    else:
        # (_MODULE a global: a local the comprehension used would be a
        # closure cell before 3.12, an object of the census's own)
        walked = [obj for obj in objects if not isinstance(obj, _MODULE)]
    # One call for every object's referents (per-object calls cost as much
    # as the rest of the census: it runs at exit and near the peak).
    for ref in gc.get_referents(*walked):
        key = id(ref)
        if key not in seen and not is_tracked(ref) and not is_permanent(ref):
            seen[key] = ref
    if sys.version_info < (3, 11):
        seen.pop(id(sys._getframe()), None)  # this call's own frame object
    return seen, estimated


def _sample_items(container, seen, estimated):
    """Every k-th item of a big container, each standing for k of its kind
    (tracked ones are counted as collector objects; see ``_BIG``)."""
    from itertools import islice

    step = len(container) // _SAMPLE
    parts = (container.keys(), container.values()) if type(container) is dict else (container,)
    is_tracked, is_permanent, getsizeof = gc.is_tracked, _is_permanent, sys.getsizeof
    for part in parts:
        for item in islice(part, 0, None, step):
            if id(item) in seen or is_tracked(item) or is_permanent(item):
                continue
            entry = estimated.get(type(item))
            if entry is None:
                estimated[type(item)] = entry = [0, 0]
            entry[0] += step
            try:
                entry[1] += getsizeof(item, 0) * step
            except Exception:  # objects whose __sizeof__ fails still count
                pass


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


def _own_frames():
    """The ids of this call's frames: before 3.11 every frame is an object
    the collector tracks, the census's own included."""
    if sys.version_info >= (3, 11):
        return set()  # frames there are objects only when asked for
    own, f = set(), sys._getframe(1)
    while f is not None:
        own.add(id(f))
        f = f.f_back
    return own


def _census(objects, when, exclude=None, own=(), estimated=None):
    """``exclude``: {id: type id} of objects not to count (the checkpoint's);
    ``own``: ids of snakescope's own objects; ``estimated``: {type: [count,
    bytes]} of sampled containers' items, added in."""
    by_type = {t: list(e) for t, e in (estimated or {}).items()}
    own = {id(objects), *own}
    getsizeof = sys.getsizeof
    for key, obj in objects.items():
        if key in own:
            continue
        t = type(obj)
        if exclude is not None and exclude.get(key) == id(t):
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
    # The census's objects are snakescope's, not the program's: this
    # thread's allocations are not recorded meanwhile.
    paused = _native.memory_pause()
    try:
        # Garbage in reference cycles is not alive: collected first, it
        # cannot leave addresses that new objects then reuse
        # and pass for the old ones (the checkpoint knows objects by id).
        gc.collect()
        objects, _ = _live_objects()
        _checkpoint = (array("Q", objects), array("Q", [id(type(o)) for o in objects.values()]))
    finally:
        _native.memory_resume(paused)


def heap():
    """The census of the objects alive now (since the last ``checkpoint()``)."""
    paused = _native.memory_pause()  # as in checkpoint()
    try:
        gc.collect()
        objects, _ = _live_objects()
        own = _own_frames()
        exclude = None
        if _checkpoint is not None:
            ids, types = _checkpoint
            own.update((id(_checkpoint), id(ids), id(types)))
            exclude = dict(zip(ids, types))
        return _census(objects, "heap", exclude, own)
    finally:
        _native.memory_resume(paused)


# JSON string escapes: quote, backslash and the control characters.
def census_rows(when):
    """The census as the capture stores it (for the report): ``(when, seconds
    from the start, [(type name, count, bytes)], whether it is an estimate,
    (references visited, one in how many untracked objects counted) or
    None)``, the 200 types holding the most bytes. Native (the agent's
    ``memory/heapcount.rs``: bounded by a distinct sample) where the
    interpreter's heap layout is known; elsewhere (3.13t) this module's
    walk, bounded by ``_BIG``. The census at the end (not near the peak,
    nor the live page's) also marks what module globals hold
    (``memory/globals``)."""
    native = _native.heap_census(_type_name, _SMALL_INTS, when not in ("peak", "live"))
    if native is not None:
        rows, estimated, visited, one_in = native
        return (when, float(_native.memory_elapsed()), rows, estimated, (visited, one_in))
    objects, estimated = _live_objects(bounded=True)
    c = _census(objects, when, estimated=estimated)
    return (when, float(_native.memory_elapsed()), c.rows[:200], bool(estimated), None)


class label:
    """Marks the block as a named span of the memory timeline (a class, not
    ``contextlib.contextmanager``: contextlib is not imported for it)."""

    def __init__(self, name):
        self.name = str(name)

    def __enter__(self):
        _native.memory_label(self.name, True)
        return None

    def __exit__(self, *exc):
        _native.memory_label(self.name, False)
        return False
