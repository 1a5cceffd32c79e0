"""The runtime facts the rules read, gathered once from a capture.

A *hot line* is a (file, line) of the program with its share of the
samples (self: executing on that line in the innermost frame), the sampled
instructions on it (``--opcodes``: generic and specialised names with their
samples), the memory allocated there (``run``'s memory section, sites whose
innermost frame is that line), the operand facts the operand sampler saw
there (``_operands.py``: names' types and sizes while the line ran), and its
source parsed with ``ast``. Rules only read these; nothing here guesses.
"""

import ast
import linecache
import os
from collections import defaultdict

from ._operands import OPERAND_THREAD  # its thread is advise's, not the program's


class HotLine:
    """One line of the program with everything measured about it."""

    def __init__(self, file, line, function):
        self.file, self.line, self.function = file, line, function
        self.samples = 0  # self samples (innermost frame on this line)
        self.share = 0.0  # of all the capture's counted samples
        self.instructions = defaultdict(int)  # specialised name -> self samples
        self.generic = defaultdict(int)  # generic name -> self samples
        self.allocated_bytes = 0
        self.peak_bytes = 0
        self.operands = {}  # name -> {"type", "len_max", "seen"}
        self._sources = None  # the cache the source is parsed into, on first use

    @property
    def source(self):
        """The parsed module (Source) when readable, else None: parsed on
        first use (most lines a capture names are never asked)."""
        if self._sources is None:
            return None
        return read_source(self.file, self._sources)

    @source.setter
    def source(self, value):
        self._sources = {self.file: value}

    def where(self):
        return f"{self.file}:{self.line}"

    def instruction_samples(self, *generic_names):
        """Samples on this line's instructions of these generic opcodes."""
        return sum(self.generic.get(n, 0) for n in generic_names)

    def specialised(self, prefix):
        """The specialised forms sampled here whose name starts with prefix."""
        return sorted(n for n in self.instructions if n.startswith(prefix))

    def statements(self):
        """The innermost statements that start on this line."""
        return self.source.statements_at(self.line) if self.source else []

    def nodes(self, kind):
        """The ast nodes of type `kind` inside this line's statements."""
        found = []
        for stmt in self.statements():
            for node in _walk_same_statement(stmt):
                if isinstance(node, kind):
                    found.append(node)
        return found

    def text(self):
        return self.source.line_text(self.line) if self.source else ""


def _walk_same_statement(stmt):
    """ast.walk over a statement, not into the bodies of nested statements."""
    todo = [stmt]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.stmt):
                todo.append(child)


class Source:
    """A source file's text and tree, with parents and enclosing scopes."""

    def __init__(self, path, text):
        self.path, self.text = path, text
        self.lines = text.splitlines()
        self.tree = ast.parse(text)
        self.parent = {}
        self._statements = {}  # line -> statements starting there, in ast.walk's order
        for node in ast.walk(self.tree):
            if isinstance(node, ast.stmt):
                self._statements.setdefault(node.lineno, []).append(node)
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node

    def line_text(self, line):
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""

    def statements_at(self, line):
        found = self._statements.get(line, [])
        # The innermost: a compound statement whose header is on the line keeps
        # only its header's expressions (ast walk of the same statement).
        return found[-1:] if found else []

    def ancestors(self, node):
        while node in self.parent:
            node = self.parent[node]
            yield node

    def enclosing_loop(self, node):
        """The innermost for/while around `node` within its function."""
        for up in self.ancestors(node):
            if isinstance(up, (ast.For, ast.While, ast.AsyncFor)):
                return up
            if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                return None
        return None

    def enclosing_function(self, node):
        for up in self.ancestors(node):
            if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return up
        return None

    def segment(self, node):
        return ast.get_source_segment(self.text, node) or ""


def read_source(path, cache):
    if path not in cache:
        cache[path] = None
        if os.path.isfile(path):
            try:
                text = "".join(linecache.getlines(path)) or open(path, encoding="utf-8").read()
                cache[path] = Source(path, text)
            except (SyntaxError, ValueError, OSError, UnicodeDecodeError):
                pass
    return cache[path]


class Evidence:
    """A capture's hot lines and program-wide facts (threads, memory)."""

    def __init__(self, capture, operands=None):
        self.capture = capture
        self.frames = capture.get("frames", [])
        # The operand sampler's own thread (advise's, not the program's) is left out.
        threads = capture.get("threads", [])
        own = {i for i, t in enumerate(threads) if t.get("name") == OPERAND_THREAD}
        self.stacks = [s for s in capture.get("stacks", []) if s["thread"] not in own]
        self.total = sum(s["count"] for s in self.stacks)
        self.threads = [t if i not in own else dict(t, samples=0, gil_samples=0)
                        for i, t in enumerate(threads)]
        self.has_opcodes = bool(capture.get("opcodes"))
        self.has_memory = bool(capture.get("memory"))
        self.has_operands = operands is not None
        self.operands = operands or {}  # raw: a rule may need a line no sample ended on
        self.memory_peak = (capture.get("memory") or {}).get("peak_bytes", 0)
        self.lines = {}
        self._sources = {}
        self._count_samples()
        self._count_instructions()
        self._count_memory()
        self._add_operands(operands or {})
        for hot in self.lines.values():
            hot.share = hot.samples / self.total if self.total else 0.0
            hot._sources = self._sources

    def own_sources(self, library):
        """The parsed sources of the capture's lines outside `library` (paths)."""
        files = {h.file for h in self.lines.values() if not h.file.startswith(library)}
        return [s for s in (read_source(f, self._sources) for f in sorted(files)) if s]

    def _hot(self, frame):
        key = (frame["file"], frame.get("line", 0))
        if key not in self.lines:
            name = frame.get("qualname") or frame["function"]
            self.lines[key] = HotLine(key[0], key[1], name)
        return self.lines[key]

    def _count_samples(self):
        for stack in self.stacks:
            if stack["frames"]:
                self._hot(self.frames[stack["frames"][-1]]).samples += stack["count"]

    def _count_instructions(self):
        section = self.capture.get("opcodes") or {}
        table = section.get("table") or {}
        names, generic = table.get("names") or [], table.get("generic") or []
        for code in section.get("codes", []):
            raw = bytes.fromhex(code.get("bytecode") or "")
            for ins in code.get("instructions", []):
                if not ins.get("self") or ins["offset"] >= len(raw) or not names:
                    continue
                op = raw[ins["offset"]]
                key = (code["file"], ins["line"])
                hot = self.lines.get(key)
                if hot is None:
                    continue
                hot.instructions[names[op]] += ins["self"]
                base = generic[op] if op < len(generic) else op
                hot.generic[names[base]] += ins["self"]

    def _count_memory(self):
        for site in (self.capture.get("memory") or {}).get("sites", []):
            if site["frames"]:
                hot = self._hot(self.frames[site["frames"][-1]])
                hot.allocated_bytes += site.get("allocated_bytes", 0)
                hot.peak_bytes += site.get("peak_bytes", 0)

    def _add_operands(self, operands):
        functions = {(r["file"], r["function"]): r for r in operands.get("functions", [])}
        for hot in self.lines.values():
            row = functions.get((hot.file, hot.function))
            if row is not None:
                hot.operands = {n: dict(f, where=f"{row['seen']} looks into {hot.function}")
                                for n, f in row["names"].items()}
        for row in operands.get("lines", []):
            hot = self.lines.get((row["file"], row["line"]))
            if hot is not None:
                hot.operands.update({n: dict(f, where=f"{row['seen']} looks at the line")
                                     for n, f in row["names"].items()})

    def ranked(self, minimum):
        """Lines with at least `minimum` share of the samples, hottest first."""
        hot = [h for h in self.lines.values() if h.share >= minimum]
        hot = [h for h in hot if h.source is not None]
        return sorted(hot, key=lambda h: -h.share)

    def memory_ranked(self, minimum):
        """Lines holding at least `minimum` of the peak memory, largest first."""
        if not self.memory_peak:
            return []
        hot = [h for h in self.lines.values() if h.peak_bytes >= minimum * self.memory_peak]
        hot = [h for h in hot if h.source is not None]
        return sorted(hot, key=lambda h: -h.peak_bytes)
