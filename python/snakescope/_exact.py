"""`run --exact`: turns the native profile tables into cProfile's statistics.

The native hook (``_native.exact_start``/``exact_stop``) keeps cProfile's
accounting; this module labels its entries the way ``cProfile`` does and
builds the ``pstats`` dictionary, so ``pstats.Stats`` (and snakeviz) read the
result and the printed table is pstats' own.
"""

import marshal
import sys
import types


def _builtin_label(fn):
    """cProfile's name for a built-in function or method (``normalizeUserObj``)."""
    name = fn.__name__
    owner = fn.__self__
    module = fn.__module__
    if owner is None:
        if module and module != "builtins":
            return f"<{module}.{name}>"
        return f"<{name}>"
    if not isinstance(owner, types.ModuleType):
        for klass in type(owner).__mro__:
            if name in klass.__dict__:
                return repr(klass.__dict__[name])
    if isinstance(module, str):
        return f"<built-in method {module}.{name}>"
    return f"<built-in method {name}>"


def label(obj):
    """The pstats key of a profiled object: a code object or a built-in."""
    if isinstance(obj, types.CodeType):
        return (obj.co_filename, obj.co_firstlineno, obj.co_name)
    return ("~", 0, _builtin_label(obj))


def snapshot(entries):
    """cProfile's ``snapshot_stats`` over the native ``getstats``-like entries."""
    stats = {}
    callers_of = {}
    for obj, calls, recursive, inline, total, _ in entries:
        func = label(obj)
        callers = {}
        callers_of[id(obj)] = callers
        stats[func] = (calls - recursive, calls, inline, total, callers)
    for obj, _, _, _, _, callees in entries:
        func = label(obj)
        for callee, calls, recursive, inline, total in callees:
            callers = callers_of.get(id(callee))
            if callers is None:
                continue
            nc, cc, tt, ct = calls, calls - recursive, inline, total
            if func in callers:
                prev = callers[func]
                nc, cc, tt, ct = nc + prev[0], cc + prev[1], tt + prev[2], ct + prev[3]
            callers[func] = (nc, cc, tt, ct)
    return stats


class _Snapshot:
    """What ``pstats.Stats`` accepts in place of a ``cProfile.Profile``."""

    def __init__(self, stats):
        self.stats = stats

    def create_stats(self):
        pass


def write(stats, path):
    with open(path, "wb") as f:
        marshal.dump(stats, f)


def print_table(stats, sort, stream=None):
    """The table ``python -m cProfile -s SORT`` prints."""
    import pstats  # only now: the profiled program's own imports must stay its own

    pstats.Stats(_Snapshot(stats), stream=stream or sys.stderr).strip_dirs().sort_stats(sort).print_stats()
