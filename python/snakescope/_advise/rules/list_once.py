"""A list built only to be consumed once -> a generator (ch. 5, Iterators and
Generators: lazy evaluation keeps one item alive, not all of them).

Fires on a list comprehension that is passed straight to a consuming call
(sum, min, max, any, all, sorted, set, tuple, str.join, dict) or iterated
directly by a `for`, when the run's memory section shows the line holding at
least the threshold's share of the peak heap (and 1 MB).
"""

import ast
import sys

from .._finding import Finding, indent_of, pct, size

NAME = "list-once"
TITLE = "list built to be iterated once: use a generator"
CHAPTER = "ch. 5, Iterators and Generators"
CONSUMERS = {"sum", "min", "max", "any", "all", "sorted", "set", "tuple", "frozenset", "dict",
             "join"}
MIN_BYTES = 1_000_000


def check_memory(hot, ev):
    if hot.peak_bytes < MIN_BYTES or not hot.statements():
        return None
    comp = _consumed_once(hot)
    if comp is None:
        return None
    share = hot.peak_bytes / ev.memory_peak
    evidence = [f"the line held {size(hot.peak_bytes)} at the memory peak "
                f"({pct(share)} of the peak heap of {size(ev.memory_peak)})",
                f"it allocated {size(hot.allocated_bytes)} in all"]
    appends = hot.instruction_samples("LIST_APPEND")
    if appends:
        evidence.append(f"LIST_APPEND sampled {appends} times on the line: the list is filled item by item")
    text = hot.source.segment(comp)
    gen = "(" + text[1:-1] + ")"
    before = hot.source.lines[hot.line - 1].rstrip()
    parent = hot.source.parent.get(comp)
    if isinstance(parent, ast.Call) and len(parent.args) == 1 and not parent.keywords:
        after = before.replace(text, text[1:-1])  # sum(x for x in ...): the call's parentheses serve
    else:
        after = before.replace(text, gen)
    return Finding(
        sys.modules[__name__], hot, resource="memory", share=share, evidence=evidence,
        remedy=("Pass a generator expression instead of a list comprehension: the consumer "
                "reads each item once, so no list of all of them needs to exist."),
        before=before, after=indent_of(hot) + after.strip(), gain=share,
        gain_text=f"up to {size(hot.peak_bytes)} of peak memory ({pct(share)} of the peak)",
        rewrite={"kind": "generator", "line": hot.line},
    )


def _consumed_once(hot):
    for comp in hot.nodes(ast.ListComp):
        parent = hot.source.parent.get(comp)
        if isinstance(parent, ast.Call) and comp in parent.args and len(parent.args) == 1:
            f = parent.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in CONSUMERS:
                return comp
        if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is comp:
            return comp
    return None
