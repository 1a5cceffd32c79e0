"""Source facts the rules share (ast only: what the code says, not what ran)."""

import ast

LOOPS = (ast.For, ast.While, ast.AsyncFor)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def assigned_names(node):
    """Names bound anywhere inside `node` (targets, for-targets, imports, params)."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in sub.names)
    return names


def root_name(node):
    """`a` for `a.b.c`, else None."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


LISTY_CALLS = {"list", "sorted"}


def list_origin(source, scope, name):
    """The line where `name` is bound to a list (literal, comprehension,
    list()/sorted() or .split()) in `scope` or at module level, else None."""
    for where in (scope, source.tree):
        if where is None:
            continue
        for sub in ast.walk(where):
            if isinstance(sub, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == name for t in sub.targets):
                value = sub.value
                if isinstance(value, (ast.List, ast.ListComp)):
                    return sub.lineno
                if isinstance(value, ast.Call):
                    func = value.func
                    if isinstance(func, ast.Name) and func.id in LISTY_CALLS:
                        return sub.lineno
                    if isinstance(func, ast.Attribute) and func.attr in ("split", "readlines"):
                        return sub.lineno
    return None


def in_function_loop(hot, node):
    """(loop, function) when `node` runs in a loop inside a function, else (None, None)."""
    loop = hot.source.enclosing_loop(node)
    func = hot.source.enclosing_function(node)
    return (loop, func) if loop is not None else (None, func)
