"""A large list of floats (or ints) kept in memory -> `array.array('d')` (or
'q'), or a numpy array (ch. 3, Lists and Tuples; ch. 11, Using Less RAM): a
list stores a pointer to a boxed number per item, 8 + 24 bytes for a float,
where an array stores the 8 bytes of the number itself.

Fires on a line that fills a list bound to a name `xs` with numbers, when:
- the source shows it: `xs.append(<number>)`, `xs = [<number> for ...]` or
  `xs = list(range(...))`, <number> being arithmetic on a numeric constant or
  a call of float/int/abs/round/math.*/random.* (no str, f-string or
  container in it: not a list of mixed objects);
- the list is kept and reused: `xs` is read at least twice in its scope
  (function or module) besides `.append`/`.extend`, or indexed, or read in a
  loop; a list read once is list-once's (a generator) or nobody's;
- the line held at least the threshold's share of the peak heap and 1 MB;
- the operand sampler saw `xs` as a list of at least 100,000 items (the
  line's facts, else its function's: on Python 3.11 a comprehension runs in
  a frame of its own, where `xs` is not yet bound, so it needs 3.12+);
- the heap census near the peak (else at exit) counted at least 100,000
  float (or int) objects; when no census saw the list (freed before the
  exit census, its peak too brief for one), every item the operand sampler
  probed in it was a float (or int).

Gain: items (the list's length, at most the census's count) x the bytes of
one boxed number (sys.getsizeof in this interpreter: 24 for a float, 28 for
a small int); the list's pointer (8) becomes the array's number (8). Bounded
by the line's bytes at the peak.
"""

import ast
import sys

from .._finding import Finding, indent_of, operand_text, pct, size

NAME = "float-list"
TITLE = "large list of numbers kept in memory: use array.array or numpy"
CHAPTER = "ch. 3, Lists and Tuples; ch. 11, Using Less RAM"
MIN_ITEMS = 100_000
MIN_BYTES = 1_000_000
_CALLS = {"float", "int", "abs", "round"}
_MODULES = {"math", "random"}
_FILLERS = {"append", "extend", "insert"}
_BOXED = {"float": sys.getsizeof(0.5), "int": sys.getsizeof(10 ** 6)}
_CODES = {"float": "d", "int": "q"}


def check_memory(hot, ev):
    if hot.peak_bytes < MIN_BYTES or not hot.statements():
        return None
    built = _filled(hot.statements()[0])
    if built is None:
        return None
    name, how = built
    fact = _fact(hot, ev, name)
    if fact is None or fact["type"] != "list" or (fact.get("len_max") or 0) < MIN_ITEMS:
        return None
    scope = hot.source.enclosing_function(hot.statements()[0]) or hot.source.tree
    if not _reused(hot.source, scope, name):
        return None
    when, kind, count = _census(ev, "int" if how == "range" else None)
    if kind is None and fact.get("items") in _BOXED and (how != "range" or fact["items"] == "int"):
        # No census saw the list (it was freed before the exit census, and
        # the peak held too briefly for one there): the operand sampler's
        # probes of its items say what they are.
        when, kind, count = "probes", fact["items"], fact["len_max"]
    if kind is None:
        return None
    items = min(fact["len_max"], count)
    saved = min(items * _BOXED[kind], hot.peak_bytes)
    share = hot.peak_bytes / ev.memory_peak
    code = _CODES[kind]
    evidence = [f"the line held {size(hot.peak_bytes)} at the memory peak "
                f"({pct(share)} of the peak heap of {size(ev.memory_peak)})",
                operand_text(name, fact),
                (f"every item the operand sampler probed (64, evenly spaced) was a `{kind}`"
                 if when == "probes" else
                 f"the heap census {'near the peak' if when == 'peak' else 'at exit'} counted "
                 f"{count:,} `{kind}` objects"),
                f"`{name}` is filled with numbers ({how}) and read again after "
                f"(kept, not consumed once)",
                f"a boxed `{kind}` takes {_BOXED[kind]} bytes (sys.getsizeof, Python "
                f"{sys.version.split()[0]}) plus the list's 8-byte pointer; "
                f"`array('{code}')` stores 8 bytes a number"]
    before = hot.source.lines[hot.line - 1].rstrip()
    stmt = hot.statements()[0]
    if how == "append":
        after = (f"{indent_of(hot)}{name} = array('{code}')  # from array import array; "
                 f"instead of {name} = []\n{before}")
    else:
        value = hot.source.segment(stmt.value)
        arg = value[5:-1] if how == "range" else "(" + value[1:-1] + ")"
        after = before.replace(value, f"array('{code}', {arg})")
    return Finding(
        sys.modules[__name__], hot, resource="memory", share=share, evidence=evidence,
        remedy=(f"Keep the numbers of `{name}` in an `array.array('{code}')` (or a numpy array): "
                f"it stores each number in 8 bytes, with no {kind} object per item; it is "
                "indexed, iterated and summed as the list was."),
        before=before, after=after, gain=saved / ev.memory_peak,
        gain_text=(f"up to {size(saved)} of peak memory ({pct(saved / ev.memory_peak)} of the "
                   f"peak): {items:,} items x {_BOXED[kind]} bytes of a boxed {kind}"),
    )


def _filled(stmt):
    """(name, how) when the statement fills a list bound to a name with numbers."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        f = call.func
        if (isinstance(f, ast.Attribute) and f.attr == "append" and isinstance(f.value, ast.Name)
                and len(call.args) == 1 and _numeric(call.args[0])):
            return f.value.id, "append"
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        value, name = stmt.value, stmt.targets[0].id
        if isinstance(value, ast.ListComp) and _numeric(value.elt):
            return name, "a comprehension of arithmetic"
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "list" and len(value.args) == 1
                and isinstance(value.args[0], ast.Call) and isinstance(value.args[0].func, ast.Name)
                and value.args[0].func.id == "range"):
            return name, "range"
    return None


def _numeric(expr):
    """Arithmetic on a numeric constant or a number-making call, nothing else."""
    leaves, has_number = [expr], False
    while leaves:
        e = leaves.pop()
        if isinstance(e, ast.BinOp) and not isinstance(e.op, (ast.MatMult,)):
            leaves += [e.left, e.right]
        elif isinstance(e, ast.UnaryOp) and isinstance(e.op, (ast.USub, ast.UAdd)):
            leaves.append(e.operand)
        elif isinstance(e, ast.Constant):
            if type(e.value) not in (int, float):
                return False
            has_number = True
        elif isinstance(e, ast.Call):
            f = e.func
            if not (isinstance(f, ast.Name) and f.id in _CALLS or isinstance(f, ast.Attribute)
                    and isinstance(f.value, ast.Name) and f.value.id in _MODULES):
                return False
            has_number = True
        elif not isinstance(e, (ast.Name, ast.Subscript, ast.Attribute)):
            return False
    return has_number


def _fact(hot, ev, name):
    """The line's fact about `name`, or its function's when that saw a longer list
    (the function's variables are looked at on every line after the filling)."""
    fact = hot.operands.get(name)
    for row in ev.operands.get("functions", []):
        if (row["file"], row["function"]) == (hot.file, hot.function) and name in row["names"]:
            other = dict(row["names"][name], where=f"{row['seen']} looks into {hot.function}")
            if fact is None or (other.get("len_max") or 0) > (fact.get("len_max") or 0):
                fact = other
    return fact


def _reused(source, scope, name):
    reads = 0
    for node in ast.walk(scope):
        if not (isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)):
            continue
        parent = source.parent.get(node)
        if isinstance(parent, ast.Attribute) and parent.attr in _FILLERS:
            continue
        if isinstance(parent, ast.Subscript) and parent.value is node:
            return True
        loop = source.enclosing_loop(node)
        if loop is not None and not (isinstance(loop, ast.For) and loop.iter is node):
            return True
        reads += 1
    return reads >= 2


def _census(ev, only):
    """(when, kind, count): the census near the peak, else at exit, counting
    at least MIN_ITEMS floats (or ints)."""
    censuses = {c.get("when"): c for c in (ev.capture.get("memory") or {}).get("census", [])}
    for when in ("peak", "exit"):
        rows = {r["type_name"]: r["count"] for r in (censuses.get(when) or {}).get("types", [])}
        kinds = [k for k in ([only] if only else ["float", "int"]) if rows.get(k, 0) >= MIN_ITEMS]
        if kinds:
            kind = max(kinds, key=lambda k: rows[k])
            return when, kind, rows[kind]
    return None, None, 0
