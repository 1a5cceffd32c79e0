"""An exact distinct count held in a set dominating memory -> a probabilistic
counter when an approximate count will do (ch. 11, Using Less RAM:
HyperLogLog, Bloom filters).

Fires on `s.add(...)` whose line held at least the threshold's share of the
peak heap (and 1 MB), when the operand sampler saw `s` as a set of at least
10,000 items and the source uses `s` in its function only to add to it and
take its `len()`: the items are kept for nothing but their number.
"""

import ast
import sys

from .._finding import Finding, operand_text, pct, size

NAME = "distinct-count"
TITLE = "exact distinct count in a set dominating memory: a probabilistic counter"
CHAPTER = "ch. 11, Using Less RAM (probabilistic data structures)"
MIN_ITEMS = 10_000
MIN_BYTES = 1_000_000


def check_memory(hot, ev):
    if hot.peak_bytes < MIN_BYTES or not hot.statements():
        return None
    adds = [c for c in hot.nodes(ast.Call) if isinstance(c.func, ast.Attribute)
            and c.func.attr == "add" and isinstance(c.func.value, ast.Name)]
    if not adds:
        return None
    name = adds[0].func.value.id
    fact = hot.operands.get(name)
    if fact is None or fact["type"] != "set" or (fact.get("len_max") or 0) < MIN_ITEMS:
        return None
    func = hot.source.enclosing_function(hot.statements()[0])
    if func is None or not _only_added_and_counted(func, name):
        return None
    share = hot.peak_bytes / ev.memory_peak
    evidence = [f"the line held {size(hot.peak_bytes)} at the memory peak "
                f"({pct(share)} of the peak heap of {size(ev.memory_peak)})",
                operand_text(name, fact),
                f"`{name}` is only added to and counted (`len`) in {func.name}: "
                "its items are kept for their number alone"]
    before = hot.source.lines[hot.line - 1].rstrip()
    item = hot.source.segment(adds[0].args[0]) if adds[0].args else "item"
    after = (f"counter = HyperLogLog(p=12)  # e.g. datasketch; 4 KB, ~1.6 % standard error\n"
             f"counter.update({item}.encode())\n"
             f"...  # len({name}) -> counter.count()")
    return Finding(
        sys.modules[__name__], hot, resource="memory", share=share, evidence=evidence,
        remedy=(f"If an approximate count will do, count with a HyperLogLog instead of keeping "
                f"every item of `{name}`: a few kilobytes of registers for any number of items."),
        before=before, after=after, gain=share,
        gain_text=f"up to {size(hot.peak_bytes)} of peak memory ({pct(share)} of the peak)",
    )


def _only_added_and_counted(func, name):
    for node in ast.walk(func):
        if not (isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)):
            continue
        parent = _parent(func, node)
        if isinstance(parent, ast.Attribute) and parent.attr == "add":
            continue
        if (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)
                and parent.func.id == "len"):
            continue
        return False
    return True


def _parent(root, child):
    for node in ast.walk(root):
        if child in ast.iter_child_nodes(node):
            return node
    return None
