"""String concatenation in a loop -> collect the pieces and join once (ch. 3/4:
strings are immutable, each `+=` copies everything built so far).

Fires on `x += piece` / `x = x + piece` inside a loop when the line's sampled
time is mostly its addition (BINARY_OP, INPLACE_ADD, BINARY_ADD) and the
run shows strings: the interpreter specialised the addition for str
(BINARY_OP_ADD_UNICODE, 3.11+) or the operand sampler saw the target as a str.
"""

import ast
import sys

from .._finding import Finding, indent_of, operand_text, pct
from ._common import in_function_loop

NAME = "str-concat"
TITLE = "string concatenation in a loop: join once"
CHAPTER = "ch. 3, Lists and Tuples (immutable sequences); ch. 11 on string building"
ADDS = ("BINARY_OP", "INPLACE_ADD", "BINARY_ADD")


def check_line(hot, ev):
    if not ev.has_opcodes or not hot.samples or not hot.statements():
        return None
    stmt = hot.statements()[0]
    target = _concat_target(stmt)
    if target is None:
        return None
    loop, _ = in_function_loop(hot, stmt)
    if loop is None:
        return None
    adds = hot.instruction_samples(*ADDS)
    if adds < 0.5 * hot.samples:
        return None
    text = hot.source.segment(target)
    evidence = [f"{pct(adds / hot.samples)} of the line's samples are the addition"]
    unicode = hot.specialised("BINARY_OP_ADD_UNICODE") + hot.specialised("BINARY_OP_INPLACE_ADD_UNICODE")
    fact = hot.operands.get(text)
    if fact is not None and fact["type"] == "str":
        evidence.append(operand_text(text, fact))
    elif unicode:
        evidence.append(f"the interpreter specialised it for str ({', '.join(unicode)})")
    else:
        return None
    piece = hot.source.segment(stmt.value if isinstance(stmt, ast.AugAssign) else stmt.value.right)
    pad = indent_of(hot)
    header = hot.source.lines[loop.lineno - 1]
    loop_pad = header[: len(header) - len(header.lstrip())]
    before = hot.source.lines[hot.line - 1].rstrip()
    after = (f"{loop_pad}parts = []  # before the loop\n{loop_pad}...\n{pad}parts.append({piece})\n"
             f"{loop_pad}{text} += \"\".join(parts)  # after the loop")
    return Finding(
        sys.modules[__name__], hot, share=hot.share, evidence=evidence,
        remedy=(f"Append the pieces to a list and join them once after the loop: each `+=` on "
                f"`{text}` copies the whole string built so far."),
        before=before, after=after, gain=adds / ev.total,
        gain_text=f"up to {pct(adds / ev.total)} of the run time (the samples of the addition)",
        rewrite={"kind": "join", "line": hot.line, "loop_line": loop.lineno, "target": text},
    )


def _concat_target(stmt):
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add):
        return stmt.target
    if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.value, ast.BinOp) and isinstance(stmt.value.op, ast.Add)
            and ast.dump(stmt.value.left) == ast.dump(stmt.targets[0]).replace("Store", "Load")):
        return stmt.targets[0]
    return None
