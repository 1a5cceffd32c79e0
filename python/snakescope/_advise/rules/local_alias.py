"""Repeated global or attribute lookups in a hot loop -> a local alias (ch. 4,
"Dictionaries and Namespaces").

Fires on a line inside a loop in a function when the sampled instructions on
it include name/attribute lookups (LOAD_GLOBAL, LOAD_ATTR, LOAD_METHOD, in
any specialised form) holding at least 10 % of the line's samples (and 5 samples), and the
source shows the looked-up object does not change in the loop (a module,
a global, or a local not rebound in the loop body).
"""

import ast
import builtins
import sys

from .._finding import Finding, indent_of, pct
from ._common import assigned_names, in_function_loop, root_name

NAME = "local-alias"
TITLE = "repeated lookups in a hot loop: alias them to locals"
CHAPTER = "ch. 4, Dictionaries and Namespaces"
LOOKUPS = ("LOAD_GLOBAL", "LOAD_ATTR", "LOAD_METHOD")
MIN_LOOKUPS = 5  # samples: fewer is noise (one sample in ten is 10 %)


def check_line(hot, ev):
    if not ev.has_opcodes or not hot.samples or not hot.statements():
        return None
    loop, func = in_function_loop(hot, hot.statements()[0])
    if loop is None or func is None:
        return None
    lookups = hot.instruction_samples(*LOOKUPS)
    if lookups < max(MIN_LOOKUPS, 0.1 * hot.samples):
        return None
    chains = _invariant_chains(hot, loop)
    if not chains:
        return None
    names = sorted(chains)
    sampled = ", ".join(f"{n} {hot.instructions[n]}" for n in sorted(hot.instructions)
                        if any(n.startswith(g) for g in LOOKUPS))
    evidence = [f"{pct(lookups / hot.samples)} of the line's samples are lookups ({sampled})",
                f"looked up on every pass of the loop at line {loop.lineno}: "
                + ", ".join(f"`{c}`" for c in names)]
    aliases = {c: c.split(".")[-1] if "." in c else f"local_{c}" for c in names}
    before = hot.source.lines[hot.line - 1].rstrip()
    after_line = before
    for chain, alias in aliases.items():
        after_line = after_line.replace(chain, alias)
    pad = indent_of(hot)
    header = hot.source.lines[loop.lineno - 1]
    loop_pad = header[: len(header) - len(header.lstrip())]
    assign = ", ".join(aliases.values()) + " = " + ", ".join(aliases)
    after = f"{loop_pad}{assign}  # before the loop\n{loop_pad}...\n{pad}{after_line.strip()}"
    return Finding(
        sys.modules[__name__], hot, share=hot.share, evidence=evidence,
        remedy=("Bind what the loop looks up to local names before it: a local is an array "
                "slot, a global or attribute a dictionary lookup on every pass."),
        before=before, after=after, gain=lookups / ev.total,
        gain_text=f"up to {pct(lookups / ev.total)} of the run time (the samples of the lookups)",
        rewrite={"kind": "local-alias", "line": hot.line, "loop_line": loop.lineno,
                 "aliases": aliases},
    )


def _invariant_chains(hot, loop):
    """`math.sqrt`, `out.append`, `helper`: dotted names (or called globals)
    read on the line whose root is not rebound inside the loop."""
    rebound = set()
    for stmt in loop.body + getattr(loop, "orelse", []):
        rebound |= assigned_names(stmt)
    if isinstance(loop, (ast.For, ast.AsyncFor)):
        rebound |= assigned_names(loop.target)
    func = hot.source.enclosing_function(loop)
    local = assigned_names(func)
    chains = set()
    for node in hot.nodes(ast.Attribute):
        if isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name):
            root = root_name(node)
            if root not in rebound and not _is_self_data(node, hot):
                chains.add(f"{root}.{node.attr}")
    for call in hot.nodes(ast.Call):
        f = call.func
        if isinstance(f, ast.Name) and f.id not in local and f.id not in dir(builtins):
            chains.add(f.id)
    return {c for c in chains if "." in c or c.isidentifier()}


def _is_self_data(node, hot):
    """`self.count` read as data may change in the loop (aliasing it is not
    the same program); a method looked up to be called is the usual case."""
    parent = hot.source.parent.get(node)
    return root_name(node) == "self" and not (isinstance(parent, ast.Call) and parent.func is node)
