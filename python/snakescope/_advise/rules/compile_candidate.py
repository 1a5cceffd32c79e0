"""A hot pure-Python scalar loop whose types never change -> compile it
(ch. 7: Numba @jit, Cython, or run it on PyPy).

Fires once per loop, on the loop's header line, when the hot line is the
hottest line of its innermost loop (the line's own loop when it is a
`while`/`for` header) and that loop:

- is in a function (Numba compiles functions) and is a `while` loop or a
  `for` over `range(...)`;
- has no comprehension, generator, lambda or call other than the numeric
  builtins (abs, min, max, int, float, complex, round, divmod, pow) in it;
- reads only names the operand sampler saw as the same scalar type (int,
  float, complex or bool) at every look (a name seen as two types is "mixed":
  not type-stable; a name it never saw: no finding), none of them a container
  (float-loop's case: a loop indexing a big list is numpy's);
- has at least 60 % of its lines' samples on arithmetic, comparisons, local
  loads/stores, constants and jumps (BINARY_OP, COMPARE_OP, LOAD_FAST,
  STORE_FAST, ... and their specialised forms), at least 20 % on the
  arithmetic and comparisons themselves.

Its share and gain are the loop's samples (all its lines): the bound on what
compiling can give, not a promise.
"""

import ast
import sys

from .._finding import Finding, operand_text, pct
from ._common import FUNCTIONS, LOOPS

NAME = "compile-candidate"
TITLE = "a hot pure-Python scalar loop with stable types: compile it (Numba, Cython, PyPy)"
CHAPTER = "ch. 7, Compiling to C"
MATH = ("BINARY_OP", "COMPARE_OP", "UNARY_NEGATIVE", "BINARY_ADD", "BINARY_SUBTRACT",
        "BINARY_MULTIPLY", "BINARY_TRUE_DIVIDE", "BINARY_FLOOR_DIVIDE", "BINARY_MODULO",
        "BINARY_POWER", "INPLACE_ADD", "INPLACE_SUBTRACT", "INPLACE_MULTIPLY")
SCALAR = MATH + ("LOAD_FAST", "STORE_FAST", "LOAD_CONST", "SWAP", "COPY", "ROT_TWO",
                 "UNPACK_SEQUENCE", "BUILD_TUPLE", "POP_TOP", "NOP", "RESUME", "FOR_ITER",
                 "JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_ABSOLUTE", "POP_JUMP_IF_FALSE",
                 "POP_JUMP_IF_TRUE", "POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_FORWARD_IF_TRUE",
                 "POP_JUMP_BACKWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_TRUE",
                 "JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP", "EXTENDED_ARG", "CACHE")
NUMERIC_CALLS = {"abs", "min", "max", "int", "float", "complex", "round", "divmod", "pow"}
SCALARS = {"int", "float", "complex", "bool"}
OTHER = (ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp, ast.Lambda, ast.Await,
         ast.Yield, ast.YieldFrom, ast.Subscript, ast.Starred)


def check_line(hot, ev):
    if not ev.has_opcodes or not hot.samples or not hot.statements():
        return None
    stmt = hot.statements()[0]
    loop = stmt if isinstance(stmt, LOOPS) else hot.source.enclosing_loop(stmt)
    if loop is None or not _scalar_loop_shape(hot.source, loop):
        return None
    lines = [ev.lines[(hot.file, n)] for n in range(loop.lineno, loop.end_lineno + 1)
             if (hot.file, n) in ev.lines]
    if max(lines, key=lambda h: (h.samples, -h.line)) is not hot:
        return None  # one finding per loop, from its hottest line
    names = _names_read(loop)
    facts = {n: _fact(lines, n) for n in names}
    if not names or any(f is None or f["type"] not in SCALARS for f in facts.values()):
        return None
    samples = sum(h.samples for h in lines)
    scalar = sum(h.instruction_samples(*SCALAR) for h in lines)
    math = sum(h.instruction_samples(*MATH) for h in lines)
    if scalar < 0.6 * samples or math < 0.2 * samples:
        return None
    header = ev.lines.get((hot.file, loop.lineno), hot)
    share = samples / ev.total
    special = sorted({n for h in lines for n in h.instructions
                      if n.startswith(("BINARY_OP_", "COMPARE_OP_")) and "ADAPTIVE" not in n})
    evidence = [f"the loop (lines {loop.lineno}-{loop.end_lineno}) holds {pct(share)} of the "
                f"samples, {pct(scalar / samples)} of them on arithmetic, comparisons and local "
                "variables: interpreter overhead around a few machine-sized numbers"]
    evidence += [operand_text(n, facts[n]) + ", the same type at every look" for n in sorted(names)]
    if special:
        evidence.append(f"the interpreter specialised it for those types ({', '.join(special)})")
    func = hot.source.enclosing_function(loop)
    pad = hot.source.lines[func.lineno - 1][: func.col_offset]
    return Finding(
        sys.modules[__name__], header, share=share, evidence=evidence,
        remedy=(f"Compile `{func.name}`: its loop only does arithmetic on numbers whose types "
                "never change, which a compiler turns into a C loop on machine ints and floats "
                "(Numba's @jit with no other change; Cython with typed `cdef` locals; or run the "
                "program on PyPy). numpy cannot help: the iteration count depends on the data."),
        before=hot.source.lines[loop.lineno - 1].rstrip(),
        after=(f"{pad}from numba import njit  # pip install numba\n\n"
               f"{pad}@njit\n{pad}def {func.name}(...):  # the same body, compiled on first call"),
        gain=share,
        gain_text=(f"up to {pct(share)} of the run time (the loop's samples); compiling "
                   "typically removes most of it, the loop's share is the bound"),
    )


def _scalar_loop_shape(source, loop):
    if source.enclosing_function(loop) is None:
        return False
    if isinstance(loop, ast.For) and not (
            isinstance(loop.iter, ast.Call) and isinstance(loop.iter.func, ast.Name)
            and loop.iter.func.id == "range"):
        return False
    if not isinstance(loop, (ast.For, ast.While)):
        return False
    for node in ast.walk(loop):
        if isinstance(node, OTHER) or isinstance(node, FUNCTIONS + (ast.ClassDef,)):
            return False
        if isinstance(node, ast.Call) and node is not getattr(loop, "iter", None) and not (
                isinstance(node.func, ast.Name) and node.func.id in NUMERIC_CALLS):
            return False
    return True


def _names_read(loop):
    called = {id(n.func) for n in ast.walk(loop) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(loop)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in called}


def _fact(lines, name):
    for h in lines:
        if name in h.operands:
            return h.operands[name]
    return None
