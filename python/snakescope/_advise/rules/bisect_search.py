"""Linear search through sorted data -> bisect (ch. 3, "A More Efficient
Search").

Fires on a comparison (`<`, `<=`, `>`, `>=`) of a `for` loop's item inside
that loop, when the loop's branch leaves it (return or break), the loop's
lines hold at least the threshold's share of the samples, and the operand
sampler saw the iterated list with at least 1,000 items, non-decreasing at
its 64 evenly spaced probes (ints, floats or strs only).
"""

import ast
import sys

from .._finding import Finding, operand_text, pct

NAME = "bisect"
TITLE = "linear search in sorted data: bisect it"
CHAPTER = "ch. 3, Lists and Tuples (A More Efficient Search)"
ORDER = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
MIN_ITEMS = 1000


def check_line(hot, ev):
    if not ev.has_opcodes or not hot.statements():
        return None
    stmt = hot.statements()[0]
    loop = hot.source.enclosing_loop(stmt)
    if not isinstance(stmt, ast.If) or not isinstance(loop, ast.For) or not _leaves(stmt):
        return None
    seq = _iterated_name(loop)
    items = _loop_items(loop)
    compares = [c for c in hot.nodes(ast.Compare) if any(isinstance(o, ORDER) for o in c.ops)
                and any(isinstance(n, ast.Name) and n.id in items for n in ast.walk(c))]
    fact = hot.operands.get(seq) if seq else None
    if not compares or fact is None or fact["type"] != "list":
        return None
    if (fact.get("len_max") or 0) < MIN_ITEMS or fact.get("sorted") is not True:
        return None
    share = sum(h.samples for (f, n), h in ev.lines.items()
                if f == hot.file and loop.lineno <= n <= loop.end_lineno) / ev.total
    evidence = [f"the loop at line {loop.lineno} holds {pct(share)} of the samples, "
                f"{hot.instruction_samples('COMPARE_OP')} of them on this comparison (COMPARE_OP)",
                operand_text(seq, fact),
                f"`{seq}` was non-decreasing at 64 evenly spaced positions at every look "
                "(operand sampler): sorted"]
    target = hot.source.segment(compares[0].comparators[0])
    before = hot.source.lines[hot.line - 1].rstrip()
    header = hot.source.lines[loop.lineno - 1]
    pad = header[: len(header) - len(header.lstrip())]
    after = (f"{pad}i = bisect.bisect_left({seq}, {target})  # the first item >= {target}, "
             f"in log2(len) steps\n{pad}# instead of the loop")
    return Finding(
        sys.modules[__name__], hot, share=share, evidence=evidence,
        remedy=(f"`{seq}` is sorted: find the position with the bisect module (a binary "
                "search) instead of comparing item after item."),
        before=before, after=after, gain=share,
        gain_text=f"up to {pct(share)} of the run time (the loop's samples)",
    )


def _leaves(stmt):
    return any(isinstance(s, (ast.Return, ast.Break)) for s in stmt.body)


def _iterated_name(loop):
    it = loop.iter
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "enumerate":
        it = it.args[0] if it.args else None
    return it.id if isinstance(it, ast.Name) else None


def _loop_items(loop):
    return {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
