"""Membership test on a list in a hot line -> a set (ch. 4).

Fires when the line's sampled time is mostly its `in` test (CONTAINS_OP;
COMPARE_OP on 3.8) and the container on the right was seen at run time as a
list or tuple of at least 100 items (the operand sampler); without operand
facts, when the source builds it as a list, and the finding says so.
"""

import ast
import sys

from .._finding import Finding, indent_of, operand_text, pct
from ._common import in_function_loop, list_origin

NAME = "membership-list"
TITLE = "membership test on a list: use a set"
CHAPTER = "ch. 4, Dictionaries and Sets"
SEQUENCES = ("list", "tuple", "collections.deque")
LARGE = 100


def check_line(hot, ev):
    if not ev.has_opcodes or not hot.samples:
        return None
    test = hot.instruction_samples("CONTAINS_OP") or hot.instruction_samples("COMPARE_OP")
    if test < 0.5 * hot.samples:
        return None
    for compare in hot.nodes(ast.Compare):
        for op, right in zip(compare.ops, compare.comparators):
            if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, ast.Name):
                finding = _finding(hot, ev, right.id, test)
                if finding:
                    return finding
    return None


def _finding(hot, ev, name, test):
    opname = "CONTAINS_OP" if hot.instruction_samples("CONTAINS_OP") else "COMPARE_OP"
    evidence = [f"{pct(test / hot.samples)} of the line's samples are on its `in` test ({opname})"]
    fact = hot.operands.get(name)
    if fact is not None:
        if fact["type"] not in SEQUENCES or (fact.get("len_max") or 0) < LARGE:
            return None
        evidence.append(operand_text(name, fact))
    else:
        stmt = hot.statements()[0]
        origin = list_origin(hot.source, hot.source.enclosing_function(stmt), name)
        if origin is None:
            return None
        evidence.append(f"`{name}` is built as a list at line {origin} (from the source only: "
                        "its type and size were not observed at run time)")
    loop, _ = in_function_loop(hot, hot.statements()[0])
    before = hot.source.lines[hot.line - 1].rstrip()
    after_line = before.replace(f" in {name}", f" in {name}_set")
    if loop is not None:
        header = hot.source.lines[loop.lineno - 1]
        loop_pad = header[: len(header) - len(header.lstrip())]
        after = f"{loop_pad}{name}_set = set({name})  # before the loop\n{loop_pad}...\n{after_line}"
    else:
        after = f"{indent_of(hot)}# {name}_set = set({name}), once, where {name} is built\n{after_line}"
    return Finding(
        sys.modules[__name__], hot, share=hot.share, evidence=evidence,
        remedy=(f"Test membership in a set made once from `{name}`: a list is searched item by "
                "item, a set hashes straight to the answer."),
        before=before, after=after, gain=test / ev.total,
        gain_text=f"up to {pct(test / ev.total)} of the run time (the samples of the `in` test)",
        rewrite={"kind": "membership", "name": name, "line": hot.line},
    )
