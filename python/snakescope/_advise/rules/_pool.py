"""Source facts about pool calls (ast only): the names a call sends again with
every task, and the call's line without them (pickled-args)."""

import ast

from ._common import assigned_names

MAPS = {"map", "starmap", "imap", "imap_unordered", "map_async", "starmap_async"}
CALLS = {"apply_async", "apply", "submit"}
DROPS = CALLS | {"partial", "zip"}  # calls whose arguments the after line drops the name from
_COMPS = (ast.ListComp, ast.GeneratorExp, ast.SetComp)


def repeated(source):
    """(call, name, how): names sent again with every task of a pool call."""
    for call in ast.walk(source.tree):
        if not isinstance(call, ast.Call):
            continue
        attr, args = getattr(call.func, "attr", None), call.args
        if attr in MAPS and len(args) >= 2:
            if isinstance(args[1], _COMPS):
                bound = _bound(args[1])
                for name in _direct(args[1].elt) - bound:
                    yield call, name, (f"it is in each item of the comprehension over "
                                       f"`{', '.join(sorted(bound))}` that makes the tasks")
            for sub in ast.walk(args[1]):
                if _callee(sub) == "repeat" and sub.args:
                    for name in _direct(sub.args[0]):
                        yield call, name, "the tasks repeat it (`repeat`)"
            if _callee(args[0]) == "partial":
                for name in _direct(ast.Tuple(elts=args[0].args[1:])):
                    yield call, name, "it is bound in the `partial` sent with every chunk of tasks"
        elif attr in CALLS and len(args) >= 2:
            around = next((a for a in source.ancestors(call) if isinstance(a, _COMPS + (
                ast.For, ast.While, ast.FunctionDef, ast.AsyncFunctionDef))), None)
            if isinstance(around, _COMPS + (ast.For, ast.While)):
                sent = ast.Tuple(elts=args[1:] + [k.value for k in call.keywords])
                for name in _direct(sent) - _bound(around):
                    yield call, name, (f"an argument of `{attr}`, called in a loop (line "
                                       f"{around.lineno}) that does not rebind it")


def _bound(node):
    """Names a comprehension's targets or a loop bind."""
    if isinstance(node, _COMPS):
        return set().union(*(assigned_names(g.target) for g in node.generators))
    return assigned_names(node)


def _direct(node):
    """Names sent as they are: the node itself, or items of tuple/list/dict literals."""
    if isinstance(node, (ast.Name, ast.Starred)):
        return {node.id} if isinstance(node, ast.Name) else _direct(node.value)
    items = getattr(node, "elts", None) or (node.values if isinstance(node, ast.Dict) else [])
    return set().union(*(_direct(n) for n in items))


def _callee(node):
    return isinstance(node, ast.Call) and (getattr(node.func, "id", None)
                                           or getattr(node.func, "attr", None))


def without(line, name):
    """The submitting line with `name` left out of what each task sends."""
    class Drop(ast.NodeTransformer):
        def generic_visit(self, node):
            super().generic_visit(node)
            field = "elts" if hasattr(node, "elts") else "args" if _callee(node) in DROPS else None
            if field:
                setattr(node, field, [n for n in getattr(node, field) if not (
                    getattr(n, "id", None) == name or _callee(n) == "repeat"
                    and getattr(n.args[0] if n.args else None, "id", None) == name)])
            if isinstance(node, _COMPS) and len(getattr(node.elt, "elts", ())) == 1:
                node.elt = node.elt.elts[0]
            if _callee(node) == "partial" and len(node.args) == 1 and not node.keywords:
                return node.args[0]
            return node
    try:
        return ast.unparse(Drop().visit(ast.parse(line.strip())))
    except (SyntaxError, AttributeError):  # not one line; 3.8 has no ast.unparse
        return line.strip()
