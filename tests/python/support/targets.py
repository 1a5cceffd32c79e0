"""The target scripts of tests/scripts/: ground truth comes from their source."""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from .capture import Capture
from .paths import SCRIPTS


def script(name: str) -> str:
    """Absolute path of a target script (name in NFC, as stored)."""
    path = SCRIPTS / unicodedata.normalize("NFC", name)
    assert path.is_file(), f"missing target script {path}"
    return str(path)



def source_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def marker_lines(path: str, pattern: str) -> dict[str, int]:
    """{marker value: line number} for lines whose comment matches `pattern`
    (a regex with one group), e.g. r"#\\s*share:\\s*(\\d+)"."""
    found: dict[str, int] = {}
    for number, text in enumerate(source_lines(path), start=1):
        m = re.search(pattern, text)
        if m:
            assert m.group(1) not in found, f"marker {m.group(1)} twice in {path}"
            found[m.group(1)] = number
    assert found, f"no marker {pattern!r} in {path}"
    return found


def module_constant(path: str, name: str) -> Any:
    """The literal value of a module-level `NAME = literal` in a script."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"no constant {name} in {path}")


def function_spans(path: str) -> dict[str, tuple[int, int]]:
    """{function name: (first line, last line)} of every def in a script."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    spans = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            spans[node.name] = (node.lineno, node.end_lineno)
    return spans


def assert_lines_inside_functions(capture: Capture, path: str) -> None:
    """Every frame of function F in `path` is at a line inside F's def."""
    spans = function_spans(path)
    checked = 0
    for frame in capture.frames:
        if frame["file"] == path and frame["function"] in spans:
            first, last = spans[frame["function"]]
            assert first <= frame["line"] <= last, (
                f"frame {frame} is outside {frame['function']} (lines {first}-{last} of {path})"
            )
            checked += 1
    assert checked, f"no frame from {path} in the capture\n{capture.summary()}"


def read_info(path: Path) -> dict[int, str]:
    """The {native tid: threading name} map written by many_threads.py / gil.py."""
    with open(path, encoding="utf-8") as f:
        info = json.load(f)
    return {int(tid): name for tid, name in info["threads"].items()}


