"""Pure-Python float arithmetic in a loop over lists -> numpy vectorisation
(ch. 6), or a compiler when the loop stays scalar (ch. 7: Numba, Cython).

Fires on a line inside a loop in a function that indexes a list (seen at run
time as a list of at least 1,000 items) and whose samples are at least 40 %
arithmetic (BINARY_OP and its 3.8-3.10 forms, BINARY_SUBSCR), when the run
shows floats: the interpreter specialised the arithmetic for them
(BINARY_OP_*_FLOAT, 3.11+: the types never changed, which is also what makes
the loop a compile candidate) or a variable the line reads was a float.
"""

import ast
import sys

from .._finding import Finding, operand_text, pct
from ._common import in_function_loop

NAME = "float-loop"
TITLE = "float arithmetic one item at a time over lists: vectorise with numpy"
CHAPTER = "ch. 6, Matrix and Vector Computation; ch. 7, Compiling to C"
ARITHMETIC = ("BINARY_OP", "BINARY_ADD", "BINARY_MULTIPLY", "BINARY_SUBTRACT",
              "BINARY_TRUE_DIVIDE", "INPLACE_ADD", "INPLACE_MULTIPLY", "INPLACE_SUBTRACT",
              "BINARY_SUBSCR")
MIN_ITEMS = 1000


def check_line(hot, ev):
    if not ev.has_opcodes or not hot.samples or not hot.statements():
        return None
    loop, func = in_function_loop(hot, hot.statements()[0])
    if loop is None or func is None:
        return None
    work = hot.instruction_samples(*ARITHMETIC)
    if work < 0.4 * hot.samples:
        return None
    lists = sorted({n.value.id for n in hot.nodes(ast.Subscript) if isinstance(n.value, ast.Name)
                    and hot.operands.get(n.value.id, {}).get("type") == "list"
                    and (hot.operands[n.value.id].get("len_max") or 0) >= MIN_ITEMS})
    if not lists:
        return None
    floats = sorted(n for n in hot.instructions if n.startswith("BINARY_OP") and "FLOAT" in n)
    float_names = sorted(n.id for n in hot.nodes(ast.Name)
                         if hot.operands.get(n.id, {}).get("type") == "float")
    if not floats and not float_names:
        return None
    evidence = [f"{pct(work / hot.samples)} of the line's samples are arithmetic and indexing"]
    evidence += [operand_text(name, hot.operands[name]) for name in lists]
    if floats:
        evidence.append(f"the interpreter specialised it for floats ({', '.join(floats)}): the "
                        "types never changed, so the loop is also a compile candidate (Numba, Cython)")
    else:
        evidence.append(f"{', '.join(f'`{n}`' for n in float_names)} held floats")
    before = hot.source.lines[hot.line - 1].rstrip()
    arrays = ", ".join(lists)
    after = (f"{arrays} = " + ", ".join(f"np.asarray({n})" for n in lists)
             + "  # once, before the loop\n" + _vectorised(hot, lists))
    return Finding(
        sys.modules[__name__], hot, share=hot.share, evidence=evidence,
        remedy=(f"Hold {arrays} in numpy arrays and write the loop as one expression over "
                "them: each item is then a machine float in C, not a boxed Python float "
                "dispatched one operator at a time."),
        before=before, after=after, gain=work / ev.total,
        gain_text=(f"up to {pct(work / ev.total)} of the run time (the samples of the "
                   "arithmetic and indexing)"),
    )


def _vectorised(hot, lists):
    """The line with each `xs[i]` read as the whole array `xs`: `total += expr`
    becomes `total += float((expr).sum())`, the loop gone."""
    stmt = hot.statements()[0]
    value = getattr(stmt, "value", None)
    if value is None:
        return "# then one expression over whole arrays instead of the loop"
    text = hot.source.segment(value)
    base = value.col_offset
    cuts = sorted(((n.col_offset - base, n.end_col_offset - base, n.value.id)
                   for n in hot.nodes(ast.Subscript)
                   if isinstance(n.value, ast.Name) and n.value.id in lists
                   and n.lineno == n.end_lineno == value.lineno), reverse=True)
    for start, end, name in cuts:
        text = text[:start] + name + text[end:]
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add):
        return f"{hot.source.segment(stmt.target)} += float(({text}).sum())  # instead of the loop"
    return f"# instead of the loop, over whole arrays: {text}"
