"""numpy temporaries on every pass of a loop -> in-place operators (ch. 6,
"Memory Allocations and In-Place Operations"; numexpr for longer expressions).

Fires on `x = x OP … OP …` inside a loop when the operand sampler saw `x` as
a numpy array and the memory section shows the line allocating at least four
times what it held at the peak (and 1 MB): short-lived temporaries, made and
freed again on every pass.
"""

import ast
import sys

from .._finding import Finding, indent_of, operand_text, pct, size
from ._common import in_function_loop

NAME = "numpy-inplace"
TITLE = "numpy temporaries in a loop: operate in place"
CHAPTER = "ch. 6, Matrix and Vector Computation (in-place operations, numexpr)"
OPS = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/="}
MIN_BYTES = 1_000_000


def check_line(hot, ev):
    if not ev.has_memory or not hot.statements():
        return None
    stmt = hot.statements()[0]
    steps = _inplace_steps(stmt)
    if steps is None:
        return None
    loop, _ = in_function_loop(hot, stmt)
    target = stmt.targets[0].id
    fact = hot.operands.get(target)
    if loop is None or fact is None or fact["type"] != "numpy.ndarray":
        return None
    if hot.allocated_bytes < max(4 * hot.peak_bytes, MIN_BYTES):
        return None
    evidence = [operand_text(target, fact),
                f"the line allocated {size(hot.allocated_bytes)} over the run but held "
                f"{size(hot.peak_bytes)} at the peak: temporaries made and freed on every pass"]
    pad = indent_of(hot)
    after = "\n".join(f"{pad}{target} {op} {hot.source.segment(right)}" for op, right in steps)
    before = hot.source.lines[hot.line - 1].rstrip()
    return Finding(
        sys.modules[__name__], hot, share=hot.share, evidence=evidence,
        remedy=(f"Update `{target}` in place with augmented operators (or numexpr's "
                f"`evaluate(..., out={target})`): each binary operator on arrays allocates a "
                "new array, and the allocator's page faults cost as much as the arithmetic."),
        before=before, after=after, gain=hot.share,
        gain_text=(f"up to {pct(hot.share)} of the run time (the line's samples; the "
                   "allocations are part of them)"),
        rewrite={"kind": "inplace", "line": hot.line, "target": target},
    )


def _inplace_steps(stmt):
    """`x = x * a + b` -> [("*=", a), ("+=", b)]: the operations along the
    left spine, when it starts from the target itself; else None."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.BinOp)):
        return None
    steps, node = [], stmt.value
    while isinstance(node, ast.BinOp) and type(node.op) in OPS:
        steps.append((OPS[type(node.op)], node.right))
        node = node.left
    if not (isinstance(node, ast.Name) and node.id == stmt.targets[0].id):
        return None
    return list(reversed(steps))
