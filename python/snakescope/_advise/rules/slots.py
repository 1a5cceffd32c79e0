"""Many small instances of a class without `__slots__` -> `__slots__` (ch. 11,
Using Less RAM; an object's overhead: ch. 3), or `array.array` / a numpy
structured array when they are plain records.

Fires on a line calling `C(...)`, C a class of the program (this file's or
another profiled file's, not the library's) with no `__slots__`, no base but
`object` or classes with `__slots__`, no decorator but `@dataclass` (without
`slots=True`), no `__dict__` or `vars` in it, setting attributes on `self`
none of which is also a class attribute, when the line held at least the
threshold's share of the peak heap (and 1 MB) and the heap census at the
peak (else at exit: a peak without a plateau is censused at exit only)
counted at least 10,000 instances of C.

Gain: instances x the bytes each saves, bounded by the line's bytes at the
peak. The saving is measured when advising, with tracemalloc in this
interpreter (the program's, when `advise` ran it), on copies of C setting
the same attributes, without and with `__slots__`. On this machine, for 3
attributes: 96 bytes per instance against 56 with `__slots__` (16 + 16 +
3 x 8) on Python 3.11.7, 40 bytes (42 %) saved; 152 / 56 on 3.8 and 3.10
(a real dict per instance), 88 / 56 on 3.12, 96 / 56 on 3.13. On 3.11
sys.getsizeof says 56 for both: no dict is made per instance until its
`__dict__` is read, but its values sit in an array of their own (40 bytes
here) that neither getsizeof nor the census sees; the census's count of
dicts says whether dicts were made.
"""

import ast
import functools
import sys
import sysconfig

from .._finding import Finding, pct, size

NAME = "slots"
TITLE = "many small instances with a dict each: use __slots__"
CHAPTER = "ch. 11, Using Less RAM (and ch. 3 on object overhead)"
MIN_INSTANCES = 10_000
MIN_BYTES = 1_000_000
_LIBRARY = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def check_memory(hot, ev):
    if hot.peak_bytes < MIN_BYTES or not hot.statements():
        return None
    own = ev.own_sources(_LIBRARY)
    for call in hot.nodes(ast.Call):
        found = isinstance(call.func, ast.Name) and _class(call.func.id, [hot.source, *own])
        if found:
            return _finding(hot, ev, *found)
    return None


def _finding(hot, ev, source, cls, attrs, dataclass):
    when, row, dicts = _census(ev, cls.name)
    plain, slotted = _per_instance(tuple(attrs)) if row else (0, 0)
    if plain <= slotted:
        return None
    count, share = row["count"], hot.peak_bytes / ev.memory_peak
    saved = min(count * (plain - slotted), hot.peak_bytes)
    ran, here = ev.capture.get("meta", {}).get("python_version"), "%d.%d.%d" % sys.version_info[:3]
    evidence = [
        f"the line held {size(hot.peak_bytes)} at the memory peak "
        f"({pct(share)} of the peak heap of {size(ev.memory_peak)})",
        f"the heap census {'near the peak' if when == 'peak' else 'at exit'} counted {count:,} "
        f"`{row['type_name']}` ({size(row['bytes'])} by sys.getsizeof) and {dicts:,} dicts in all"
        + (": room for a `__dict__` each" if dicts >= count else
           ", fewer than the instances: no `__dict__` each, their values in arrays apart"),
        f"`{cls.name}` (line {cls.lineno}) has no `__slots__` and sets "
        + ", ".join(f"`{a}`" for a in attrs),
        f"a copy setting the same attributes takes {plain} bytes per instance, {slotted} with "
        f"`__slots__` (tracemalloc, Python {here}"
        + (f"; the program ran on {ran})" if ran and ran != here else ")")]
    remedy = (f"Declare `__slots__` in `{cls.name}`: its attributes then sit in fixed slots, "
              "with no dict (or values array) per instance.")
    if all(n.name == "__init__" for n in cls.body if isinstance(n, ast.FunctionDef)):
        remedy += (" As plain records of numbers, they can also be columns of `array.array` "
                   "or one numpy structured array: no object per record.")
    before = source.lines[(cls.decorator_list[0] if dataclass else cls).lineno - 1].rstrip()
    if dataclass:
        after = before.split("@")[0] + "@dataclass(slots=True)  # Python 3.10+"
    else:
        names = ", ".join(f'"{a}"' for a in attrs) + ("," if len(attrs) == 1 else "")
        after = f"{before}\n{' ' * cls.body[0].col_offset}__slots__ = ({names})"
    return Finding(
        sys.modules[__name__], hot, resource="memory", share=share, evidence=evidence,
        remedy=remedy, before=before, after=after, gain=saved / ev.memory_peak,
        gain_text=(f"up to {size(saved)} of peak memory ({pct(saved / ev.memory_peak)} of the "
                   f"peak): {count:,} instances x {plain - slotted} bytes"),
    )


def _class(name, sources):
    """(source, ClassDef, attributes, is a dataclass) of the class `name` if it fits."""
    for source in sources:
        for cls in ast.walk(source.tree):
            if isinstance(cls, ast.ClassDef) and cls.name == name:
                return _fits(source, cls, sources)
    return None


def _fits(source, cls, sources):
    decs = cls.decorator_list
    dataclass = len(decs) == 1 and _is_dataclass(decs[0])
    if cls.keywords or (decs and not dataclass) or "__slots__" in _assigned(cls) or any(
            isinstance(n, ast.Name) and n.id == "vars" or isinstance(n, ast.Attribute)
            and n.attr == "__dict__" for n in ast.walk(cls)):
        return None
    for base in cls.bases:  # a base without __slots__ gives each instance a dict anyway
        if not isinstance(base, ast.Name) or base.id != "object" and not any(
                isinstance(c, ast.ClassDef) and c.name == base.id and "__slots__" in _assigned(c)
                for s in sources for c in ast.walk(s.tree)):
            return None
    if dataclass:
        attrs = [n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)
                 and isinstance(n.target, ast.Name) and "ClassVar" not in ast.dump(n.annotation)]
        return (source, cls, attrs, True) if attrs else None
    attrs = []
    for func in cls.body:
        if isinstance(func, ast.FunctionDef) and func.args.args and not func.decorator_list:
            me = func.args.args[0].arg
            attrs += [n.attr for n in ast.walk(func) if isinstance(n, ast.Attribute)
                      and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name)
                      and n.value.id == me]
    attrs = list(dict.fromkeys(attrs))
    # a class attribute of the same name would clash with its slot
    return (source, cls, attrs, False) if attrs and not _assigned(cls) & set(attrs) else None


def _assigned(cls):
    """Names given a value in the class body itself (class attributes, __slots__)."""
    return {t.id for n in cls.body if isinstance(n, ast.Assign) or isinstance(n, ast.AnnAssign)
            and n.value for t in getattr(n, "targets", [getattr(n, "target", None)])
            if isinstance(t, ast.Name)}


def _is_dataclass(dec):
    call = dec if isinstance(dec, ast.Call) else None
    func = call.func if call else dec
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return name == "dataclass" and not any(k.arg == "slots" for k in (call.keywords if call else []))


def _census(ev, name):
    """(when, the class's census row, dicts counted): the census near the peak, else at exit."""
    censuses = {c.get("when"): c for c in (ev.capture.get("memory") or {}).get("census", [])}
    for when in ("peak", "exit"):
        rows = (censuses.get(when) or {}).get("types", [])
        mine = [r for r in rows if r["type_name"].split(".")[-1] == name]
        if mine and mine[0]["count"] >= MIN_INSTANCES:
            return when, mine[0], sum(r["count"] for r in rows if r["type_name"] == "dict")
    return None, None, 0


@functools.lru_cache(maxsize=None)
def _per_instance(attrs, n=2000):
    """Bytes per instance (tracemalloc, rounded to 8), without and with __slots__."""
    def init(self):
        for a in attrs:
            setattr(self, a, None)

    import tracemalloc  # (here: only a finding needs it)

    measured = []
    for extra in ({}, {"__slots__": attrs}):
        cls = type("Copy", (), {"__init__": init, **extra})
        cls()  # the class's shared keys, made once
        objs = [None] * n
        tracemalloc.start()  # (advise's own process: nothing else traces it)
        for i in range(n):
            objs[i] = cls()
        measured.append(8 * round(tracemalloc.get_traced_memory()[0] / n / 8))
        tracemalloc.stop()
    return tuple(measured)
