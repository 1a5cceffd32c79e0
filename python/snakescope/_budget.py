"""Budgets of the pytest plugin's marker (``max_memory``, ``max_time``):
parsing them, and what a capture says about the code that exceeded one.

Sizes: a number of bytes (int), or a string with a unit: ``B``, decimal
``kB``/``KB``, ``MB``, ``GB``, ``TB`` (powers of 1000) or binary ``KiB``,
``MiB``, ``GiB``, ``TiB`` (powers of 1024), as ``"100 MB"``, ``"1.5 GiB"``.
Times: seconds (int or float), or a string with ``s``, ``ms``, ``us``/``µs``,
``min``, as ``"2 s"``, ``"150 ms"``.
"""

import os
import re

_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4,
               "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0}
_NUMBER_UNIT = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([^\s0-9.]*)\s*")


def parse_size(value, what="max_memory"):
    """Bytes; ValueError that names the value and the accepted forms."""
    return int(_parse(value, what, _SIZE_UNITS, "b", "bytes",
                      "give bytes (int) or a size such as \"100 MB\" or \"1.5 GiB\"",
                      "is not a size: write a number and a unit, B, kB, MB, GB (powers of 1000) "
                      "or KiB, MiB, GiB (powers of 1024), as \"100 MB\""))


def parse_time(value, what="max_time"):
    """Seconds; ValueError that names the value and the accepted forms."""
    return float(_parse(value, what, _TIME_UNITS, "s", "seconds",
                        "give seconds (a number) or a time such as \"2 s\" or \"150 ms\"",
                        "is not a time: write a number and a unit, s, ms, us or min, as \"2 s\" or \"150 ms\""))


def _parse(value, what, units, default_unit, noun, bad_type, bad_unit):
    """A number, or a string of a number and one of ``units`` (none:
    ``default_unit``), in the base unit; more than 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{what}={value!r}: {bad_type}")
    if isinstance(value, str):
        m = _NUMBER_UNIT.fullmatch(value)
        unit = (m.group(2).lower() or default_unit) if m else None
        if unit not in units:
            raise ValueError(f"{what}={value!r} {bad_unit}")
        value = float(m.group(1)) * units[unit]
    if not value > 0:
        raise ValueError(f"{what}={value!r}: a budget must be more than 0 {noun}")
    return value


_BINARY = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
_DECIMAL = (("GB", 1000 ** 3), ("MB", 1000 ** 2), ("kB", 1000))


def format_size(n, like=None):
    """`n` bytes in binary units, or decimal ones when `like` (a budget as
    written) is in decimal units."""
    unit = _NUMBER_UNIT.fullmatch(like).group(2).lower() if isinstance(like, str) and _NUMBER_UNIT.fullmatch(like) \
        else ""
    for name, size in (_DECIMAL if unit in ("kb", "mb", "gb", "tb") else _BINARY):
        if n >= size:
            return f"{n / size:.1f} {name}"
    return f"{n} B"


def format_time(s):
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def _where(frame, root):
    path = frame["file"]
    if root and path.startswith(root + os.sep):
        path = os.path.relpath(path, root)
    return f"{path}:{frame['line']} {frame.get('qualname') or frame['function']}"


def top_allocation_site(data, root=None):
    """The allocating line whose blocks held the most at the peak (else
    allocated the most): ``(where, bytes)``, or None without any."""
    sites = [s for s in (data.get("memory") or {}).get("sites", []) if s["frames"]]
    if not sites:
        return None
    top = max(sites, key=lambda s: (s["peak_bytes"], s["allocated_bytes"]))
    held = top["peak_bytes"] or top["allocated_bytes"]
    return _where(data["frames"][top["frames"][-1]], root), held


def hottest_line(data, root=None):
    """The line most often innermost in the samples: ``(where, share)``, or None without samples."""
    counts = {}
    for stack in data.get("stacks", []):
        if stack["frames"]:
            leaf = stack["frames"][-1]
            counts[leaf] = counts.get(leaf, 0) + stack["count"]
    total = sum(counts.values())
    if not total:
        return None
    leaf = max(counts, key=counts.get)
    return _where(data["frames"][leaf], root), counts[leaf] / total
