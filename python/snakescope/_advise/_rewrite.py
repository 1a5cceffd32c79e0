"""The mechanical rewrites of ``advise --verify``, on a concrete syntax tree
(libcst: formatting and comments survive). Each takes the program's source and
the finding's ``rewrite`` facts and returns the new source, or None when the
code is not in the shape the rewrite handles."""

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider


def apply(source, rewrite):
    kind = rewrite["kind"]
    transformer = {
        "membership": _Membership,
        "local-alias": _LocalAlias,
        "join": _Join,
        "generator": _Generator,
        "inplace": _InPlace,
    }.get(kind)
    if transformer is None:
        return None
    wrapper = MetadataWrapper(cst.parse_module(source))
    t = transformer(rewrite)
    new = wrapper.visit(t)
    return new.code if t.done and new.code != source else None


class _Base(cst.CSTTransformer):
    """Finds nodes by their line and inserts statements around a statement."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, rewrite):
        super().__init__()
        self.rw = rewrite
        self.done = False
        self.before = {}  # statement line -> [statements to insert before it]
        self.after = {}
        self.replace = {}  # statement line -> replacement statement

    def line_of(self, node):
        return self.get_metadata(PositionProvider, node).start.line

    def _body(self, original, updated):
        body = []
        for old, new in zip(original.body, updated.body):
            line = self.line_of(old)
            body.extend(self.before.get(line, []))
            body.append(self.replace.get(line, new))
            body.extend(self.after.get(line, []))
        return updated.with_changes(body=body)

    def leave_IndentedBlock(self, original, updated):
        return self._body(original, updated)

    def leave_Module(self, original, updated):
        return self._body(original, updated)


def _stmt(code):
    return cst.parse_statement(code)


class _Membership(_Base):
    """`x in known` on the line -> `x in known_set`, `known_set = set(known)`
    before the loop around it."""

    def __init__(self, rewrite):
        super().__init__(rewrite)
        self.name = rewrite["name"]
        self.loop_line = None

    def visit_For(self, node):
        self._maybe_loop(node)

    def visit_While(self, node):
        self._maybe_loop(node)

    def _maybe_loop(self, node):
        pos = self.get_metadata(PositionProvider, node)
        if pos.start.line < self.rw["line"] <= pos.end.line:
            self.loop_line = pos.start.line  # the innermost wins: visited last

    def leave_ComparisonTarget(self, original, updated):
        if (self.line_of(original) == self.rw["line"] and self.loop_line is not None
                and isinstance(original.operator, (cst.In, cst.NotIn))
                and isinstance(original.comparator, cst.Name)
                and original.comparator.value == self.name):
            self.done = True
            self.before[self.loop_line] = [_stmt(f"{self.name}_set = set({self.name})\n")]
            return updated.with_changes(comparator=cst.Name(f"{self.name}_set"))
        return updated


class _LocalAlias(_Base):
    """`math.sqrt`/`out.append` on the line -> their aliases, bound before the loop."""

    def __init__(self, rewrite):
        super().__init__(rewrite)
        self.aliases = rewrite["aliases"]
        self.attrs = set()  # the `attr` Names of attributes: never a global's name

    def visit_Attribute(self, node):
        self.attrs.add(id(node.attr))

    def leave_Attribute(self, original, updated):
        return self._swap(original, updated, _dotted(original))

    def leave_Name(self, original, updated):
        if id(original) in self.attrs:
            return updated
        return self._swap(original, updated, original.value)

    def _swap(self, original, updated, dotted):
        if dotted in self.aliases and self.line_of(original) == self.rw["line"]:
            self.done = True
            names = list(self.aliases)
            assign = f"{', '.join(self.aliases[n] for n in names)} = {', '.join(names)}\n"
            self.before[self.rw["loop_line"]] = [_stmt(assign)]
            return cst.Name(self.aliases[dotted])
        return updated


def _dotted(node):
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


class _Join(_Base):
    """`T += piece` in the loop -> `parts.append(piece)`; `parts = []` before
    the loop, `T += "".join(parts)` after it."""

    def leave_SimpleStatementLine(self, original, updated):
        if self.line_of(original) != self.rw["line"] or len(updated.body) != 1:
            return updated
        stmt = updated.body[0]
        target = self.rw["target"]
        if not (isinstance(stmt, cst.AugAssign) and isinstance(stmt.operator, cst.AddAssign)
                and cst.Module([]).code_for_node(stmt.target) == target):
            return updated
        self.done = True
        piece = cst.Module([]).code_for_node(stmt.value)
        loop = self.rw["loop_line"]
        self.before[loop] = [_stmt("_snakescope_parts = []\n")]
        self.after[loop] = [_stmt(f'{target} += "".join(_snakescope_parts)\n')]
        return updated.with_changes(body=[cst.parse_statement(
            f"_snakescope_parts.append({piece})\n").body[0]])


class _Generator(_Base):
    """`[expr for …]` consumed once on the line -> `(expr for …)`."""

    def leave_Call(self, original, updated):
        if (self.line_of(original) == self.rw["line"] and len(updated.args) == 1
                and isinstance(updated.args[0].value, cst.ListComp)):
            comp = updated.args[0].value
            self.done = True
            gen = cst.GeneratorExp(elt=comp.elt, for_in=comp.for_in, lpar=[], rpar=[])
            return updated.with_changes(args=[updated.args[0].with_changes(value=gen)])
        return updated

    def leave_For(self, original, updated):
        if (self.line_of(original) == self.rw["line"] and isinstance(updated.iter, cst.ListComp)):
            comp = updated.iter
            self.done = True
            return updated.with_changes(iter=cst.GeneratorExp(elt=comp.elt, for_in=comp.for_in))
        return updated


class _InPlace(_Base):
    """`x = x * a + b` on the line -> `x *= a` then `x += b`."""

    OPS = {cst.Add: "+=", cst.Subtract: "-=", cst.Multiply: "*=", cst.Divide: "/="}

    def leave_SimpleStatementLine(self, original, updated):
        if self.line_of(original) != self.rw["line"] or len(updated.body) != 1:
            return updated
        stmt = updated.body[0]
        target = self.rw["target"]
        if not (isinstance(stmt, cst.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0].target, cst.Name)
                and stmt.targets[0].target.value == target):
            return updated
        steps, node = [], stmt.value
        while isinstance(node, cst.BinaryOperation) and type(node.operator) in self.OPS:
            steps.append(f"{target} {self.OPS[type(node.operator)]} "
                         f"{cst.Module([]).code_for_node(node.right)}\n")
            node = node.left
        if not (isinstance(node, cst.Name) and node.value == target) or not steps:
            return updated
        steps.reverse()
        self.done = True
        self.after[self.rw["line"]] = [_stmt(s) for s in steps[1:]]
        return _stmt(steps[0]).with_changes(leading_lines=updated.leading_lines)
