"""The docs say what the code does: supported versions, output formats, names.

Each claim the docs make about a list the code owns is compared with that
list, so adding a version or a format to the code without the docs (or the
other way round) fails here, naming the file and the sentence:

- supported versions: the layouts crate (`crates/snakescope-layouts`: one
  generated file per static layout, the `TABLES` of `_Py_DebugOffsets` shapes,
  and `SUPPORTED_VERSIONS`, the wording of its error messages) against the
  README, docs/versions.md, docs/commands/record.md and run.md, crates/README.md,
  and the version matrix the tests run on;
- output formats: `--format`'s possible values in each command's `--help`
  against docs/formats.md, the README and each command's page; the file names
  formats.md says imply a format do;
- names: every `snakescope-<crate>::<module>` and every `*.rs` file the docs
  mention exists.

A claim is found by the sentence around it (CLAIMS below); a rewording that
loses it fails with the pattern, to be updated with the sentence.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support import MATRIX, QUICK_TIMEOUT, REPO, SYNTHETIC, run

LAYOUTS = REPO / "crates" / "snakescope-layouts" / "src"

# Every Markdown file a user or developer reads.
DOC_FILES = sorted(
    [REPO / "README.md", REPO / "crates" / "README.md", REPO / "bench" / "README.md",
     REPO / "tests" / "python" / "README.md", *(REPO / "docs").rglob("*.md")]
)


def _text(path: Path) -> str:
    """The file's text with every run of whitespace made one space, so a
    sentence is found whatever its line breaks."""
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8"))


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


# --------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------


def _minor_range(a: int, b: int) -> set[str]:
    return {f"3.{m}" for m in range(a, b + 1)}


def versions_in(text: str) -> set[str]:
    """The versions a phrase names: `3.8 to 3.15`, `3.8–3.10`, `3.11-3.15`
    (ranges), `3.13/3.14`, `3.11, 3.12 and 3.13` (lists), `3.13t`. A patch
    version (`3.13.5`) is not a claim about support and must not be in one."""
    assert not re.search(r"\b3\.\d+\.\d", text), f"a patch version in a support claim: {text!r}"
    found: set[str] = set()
    for m in re.finditer(r"\b3\.(\d+)\s*(?:to|–|-)\s*3\.(\d+)\b(?!t)", text):
        found |= _minor_range(int(m[1]), int(m[2]))
    text = re.sub(r"\b3\.(\d+)\s*(?:to|–|-)\s*3\.(\d+)\b(?!t)", " ", text)
    found |= {f"3.{m[1]}{m[2]}" for m in re.finditer(r"\b3\.(\d+)(t?)\b", text)}
    return found


def static_layouts() -> set[str]:
    """3.8–3.12: one generated offsets file per version (src/v3_N.rs)."""
    found = {f"3.{m[1]}" for p in LAYOUTS.glob("v3_*.rs") if (m := re.fullmatch(r"v3_(\d+)\.rs", p.name))}
    assert found, f"no src/v3_N.rs in {LAYOUTS}"
    return found


def debug_offsets_tables() -> set[str]:
    """3.13+: the `_Py_DebugOffsets` table shapes in `TABLES`."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((LAYOUTS / "debug_offsets").glob("*.rs")))
    m = re.search(r"const TABLES: \[Fields; \d+\] = \[([^\]]*)\]", text)
    assert m, "no `const TABLES: [Fields; N] = [...]` in snakescope-layouts/src/debug_offsets/"
    return {f"3.{n}" for n in re.findall(r"V3_(\d+)", m[1])}


def supported_versions_constant() -> str:
    """`SUPPORTED_VERSIONS`: how the error messages word the list — the
    words of layouts' `gil_versions!` and `free_threaded_versions!`, which
    `concat!` joins into it."""
    text = (LAYOUTS / "lib.rs").read_text(encoding="utf-8")
    words = [re.search(rf'macro_rules! {name} \{{\s*\(\) => \{{\s*"([^"]*)"', text)
             for name in ("gil_versions", "free_threaded_versions")]
    assert all(words), f"no `gil_versions!`/`free_threaded_versions!` words in {LAYOUTS / 'lib.rs'}"
    return f"{words[0][1]}, and free-threaded {words[1][1]}"


def supported() -> set[str]:
    """Every version the code reads: the layouts, and the free-threaded builds
    `SUPPORTED_VERSIONS` names (3.13t: the 3.13 table read without a GIL)."""
    free_threaded = {v for v in versions_in(supported_versions_constant()) if v.endswith("t")}
    return static_layouts() | debug_offsets_tables() | free_threaded


def test_supported_versions_constant_names_every_layout():
    """The error messages' list is the list of layouts (no more, no fewer)."""
    worded = supported_versions_constant()
    gil = {v for v in versions_in(worded) if not v.endswith("t")}
    assert gil == static_layouts() | debug_offsets_tables(), (
        f"SUPPORTED_VERSIONS is {worded!r}; the layouts are "
        f"{sorted(static_layouts() | debug_offsets_tables(), key=_key)}"
    )
    assert {v for v in versions_in(worded) if v.endswith("t")}, \
        f"SUPPORTED_VERSIONS ({worded!r}) names no free-threaded build; the docs say 3.13t"


def _key(version: str) -> tuple[int, str]:
    minor, t = re.fullmatch(r"3\.(\d+)(t?)", version).groups()
    return int(minor), t


# (file, pattern around the claim with one group: the versions it names,
# which of the lists it claims). "supported" is every version `record`,
# `dump` and `run` read.
CLAIMS = [
    ("README.md", r"Linux x86-64; (CPython [^(]*?3\.13t) \(no GIL", "supported"),
    ("README.md", r"lends its package to any other (CPython .*?) given with `--python`", "supported"),
    ("docs/commands/record.md", r"Supported: (CPython .*?) on Linux x86-64", "supported"),
    ("docs/commands/run.md", r"`--python PATH` \| the interpreter: (CPython .*?), with the", "supported"),
    ("docs/commands/run.md", r"`run` works with (CPython .*?3\.13t)", "supported"),
    ("crates/README.md", r"generated from the (3\.\S+) headers \(`generate/`\)", "static"),
    ("crates/README.md", r"table shape \(generated from the (3\.\S+) headers\)", "tables"),
]


@pytest.mark.parametrize("path, pattern, which", CLAIMS,
                         ids=[f"{p}:{w}:{i}" for i, (p, _, w) in enumerate(CLAIMS)])
def test_version_claims(path, pattern, which):
    m = re.search(pattern, _text(REPO / path))
    assert m, f"{path}: no sentence matching {pattern!r} (reworded? update CLAIMS in test_docs.py)"
    want = {"supported": supported, "static": static_layouts, "tables": debug_offsets_tables}[which]()
    got = versions_in(m[1])
    assert got == want, (
        f"{path} says {m[1]!r}: {sorted(got, key=_key)}; the code reads {sorted(want, key=_key)}"
    )


def test_versions_page_table():
    """docs/versions.md's "Supported" table has one row per version read."""
    rows = set()
    for line in (REPO / "docs" / "versions.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| (3\.\d+t?) \|", line)
        if m:
            assert m[1] not in rows, f"docs/versions.md: two rows for {m[1]}"
            rows.add(m[1])
    assert rows == supported(), (
        f"docs/versions.md's table has {sorted(rows, key=_key)}; "
        f"the code reads {sorted(supported(), key=_key)}"
    )


def test_every_supported_version_is_in_the_test_matrix():
    """The docs say every supported version is tested: each has an interpreter
    in the matrix (present or not: absent ones are skipped with a reason)."""
    in_matrix = {m[1] for i in MATRIX if (m := re.search(r"-(3\.\d+t?)$", i.id))}
    assert supported() <= in_matrix, (
        f"no interpreter in support/interpreters.py's MATRIX for {sorted(supported() - in_matrix, key=_key)}"
    )


def test_run_help_names_the_supported_versions(snakescope):
    out = _help(snakescope, "run")
    m = re.search(r"--python <PATH>\s+.*?: (CPython .*?), with the", out, re.S)
    assert m, "`run --help` has no `--python`: CPython ... sentence"
    assert versions_in(re.sub(r"\s+", " ", m[1])) == supported(), m[1]


# --------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------


def _help(snakescope: str, command: str) -> str:
    result = run([snakescope, command, "--help"], timeout=QUICK_TIMEOUT)
    assert result.returncode == 0, result.describe()
    return result.stdout


def help_formats(snakescope: str, command: str) -> set[str]:
    """`--format`'s possible values in `snakescope COMMAND --help`."""
    out = _help(snakescope, command)
    m = re.search(r"--format <\w+>\n(.*?)(?=\n  {1,6}-|\Z)", out, re.S)
    assert m, f"`{command} --help` has no --format option:\n{out}"
    section = m[1]
    values = set(re.findall(r"^\s+- ([\w-]+)(?::|$)", section, re.M))
    inline = re.search(r"\[possible values: ([^\]]*)\]", section)
    if inline:
        values |= {v.strip() for v in inline[1].split(",")}
    assert values, f"`{command} --help`: no possible values under --format:\n{section}"
    return values


# (file, pattern with one group holding the list, command whose --format it lists)
FORMAT_CLAIMS = [
    ("README.md", r"`--format ([a-z|]+)` \(default from the file name", "record"),
    ("docs/commands/record.md", r"\| `-f, --format F` \| ([^|]*) \|", "record"),
    ("docs/commands/run.md", r"\| `-f, --format F` \| ([^|]*) \|", "run"),
    ("docs/commands/report.md", r"snakescope report CAPTURE\.json \[--format ([a-z|]+)\]", "report"),
    ("docs/commands/diff.md", r"snakescope diff BEFORE\.json AFTER\.json \[--format ([a-z|]+)\]", "diff"),
    ("docs/architecture.md", r"Capture ──► formats \(snakescope-formats' registry: ([a-z, ]+[a-z])\)", "report"),
]


def _listed(text: str) -> set[str]:
    """`a|b|c`, or the backquoted words of a table cell."""
    quoted = re.findall(r"`([a-z]+)`", text)
    return set(quoted) if quoted else {word.strip() for word in re.split(r"[|,]", text)}


@pytest.mark.parametrize("path, pattern, command", FORMAT_CLAIMS,
                         ids=[f"{p}:{c}" for p, _, c in FORMAT_CLAIMS])
def test_format_claims(snakescope, path, pattern, command):
    m = re.search(pattern, _text(REPO / path))
    assert m, f"{path}: no sentence matching {pattern!r} (reworded? update FORMAT_CLAIMS in test_docs.py)"
    want = help_formats(snakescope, command)
    got = _listed(m[1])
    assert got == want, (
        f"{path} lists {sorted(got)} for `{command} --format`; `{command} --help` has {sorted(want)}"
    )


def test_formats_page_table(snakescope):
    """docs/formats.md's table has one row per format `report` writes, and so
    do `record` and `run` (they write the same formats)."""
    lines = (REPO / "docs" / "formats.md").read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("|") and "`--format`" in line)
    rows = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        rows.append(re.fullmatch(r"`([a-z]+)`", line.split("|")[2].strip())[1])
    assert len(rows) == len(set(rows)), f"docs/formats.md: a format listed twice: {rows}"
    want = help_formats(snakescope, "report")
    assert set(rows) == want, f"docs/formats.md lists {sorted(rows)}; `report --help` has {sorted(want)}"
    for command in ("record", "run"):
        assert help_formats(snakescope, command) == want, f"`{command} --format` differs from `report`'s"
    for name in want:
        assert re.search(rf"^## .*\(`{name}`", "\n".join(lines), re.M), \
            f"docs/formats.md has no section `## ... (`{name}`...)` for {name}"


# Names that no format claims today: `report -o` must refuse them (a format
# that starts to take one must be given it in docs/formats.md's table).
UNCLAIMED_NAMES = ("out.csv", "out.prof", "out.md", "out.dat")


def _written_format(data: bytes) -> str:
    """Which format a file `report` wrote is, from its content."""
    if data[:2] == b"\x1f\x8b":
        return "pprof"
    text = data.decode("utf-8")
    if text.startswith(("<?xml", "<svg")):
        return "flamegraph"
    if text.lstrip().lower().startswith("<!doctype html"):
        return "html"
    if text.startswith("{"):
        doc = json.loads(text)
        if "traceEvents" in doc:
            return "chrome"
        if "speedscope" in str(doc.get("$schema")):
            return "speedscope"
        if doc.get("format") == "snakescope-capture":
            return "json"
    if re.match(r"thread \(\d+\)[^\n]* \d+\n", text):
        return "collapsed"
    return "text"


def test_formats_page_file_names(snakescope, tmp_path):
    """The names docs/formats.md says imply a format do (`report -o NAME`
    without --format), and names it does not list are refused."""
    capture = tmp_path / "capture.json"
    capture.write_text(json.dumps(SYNTHETIC), encoding="utf-8")
    lines = (REPO / "docs" / "formats.md").read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("|") and "`--format`" in line)
    checked = 0
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.split("|")]
        name, names, draws = re.fullmatch(r"`([a-z]+)`", cells[2])[1], cells[3], cells[4]
        if names.startswith("—"):
            continue
        for suffix in re.findall(r"`\*(\.[\w.]+)`", names):
            out = tmp_path / f"out{suffix}"
            result = run([snakescope, "report", str(capture), "-o", str(out)], timeout=QUICK_TIMEOUT)
            if "samples" not in draws:
                # The capture holds samples only: a format that draws none is
                # chosen by the name and refused for what it lacks, one line.
                assert result.returncode == 2 and result.stderr.startswith(f"error: `{capture}` has no "), \
                    f"docs/formats.md: `*{suffix}` implies {name} ({draws}){result.describe()}"
                assert not out.exists()
                checked += 1
                continue
            assert result.returncode == 0, f"docs/formats.md: `*{suffix}` implies {name}{result.describe()}"
            assert _written_format(out.read_bytes()) == name, \
                f"docs/formats.md: `*{suffix}` implies {name}, but `report -o {out.name}` wrote another format"
            checked += 1
    assert checked >= 8, f"only {checked} file names found in docs/formats.md's table"
    for unclaimed in UNCLAIMED_NAMES:
        result = run([snakescope, "report", str(capture), "-o", str(tmp_path / unclaimed)], timeout=QUICK_TIMEOUT)
        assert result.returncode != 0, (
            f"`report -o {unclaimed}` chose a format: name it in docs/formats.md's table{result.describe()}"
        )


def test_record_page_file_names_are_the_formats_pages():
    """The extensions record.md's `-o` row lists are names formats.md's table gives."""
    table = _text(REPO / "docs" / "formats.md")
    m = re.search(r"\| `-o, --output FILE` \| ([^|]*) \|", _text(REPO / "docs" / "commands" / "record.md"))
    assert m, "docs/commands/record.md: no `-o, --output FILE` row"
    listed = re.findall(r"`(\.[\w.]+)`", m[1])
    assert listed, f"docs/commands/record.md's -o row names no extension: {m[1]!r}"
    unknown = [e for e in listed if f"`*{e}`" not in table]
    assert not unknown, f"docs/commands/record.md names {unknown}, which docs/formats.md's table does not"


# --------------------------------------------------------------------------
# Names of crates, modules and files
# --------------------------------------------------------------------------


def _crate_has(crate: str, name: str) -> bool:
    src = REPO / "crates" / f"snakescope-{crate}" / "src"
    if (src / f"{name}.rs").is_file() or (src / name).is_dir():
        return True
    return any(re.search(rf"\b(fn|mod|struct|enum|trait|const|static|type) {name}\b",
                         p.read_text(encoding="utf-8")) for p in src.rglob("*.rs"))


def test_crate_paths_in_the_docs_exist():
    """`snakescope-remote::attach`, `snakescope_formats::printable`: the crate
    has that module (or item)."""
    wrong = []
    for path in DOC_FILES:
        for m in re.finditer(r"snakescope[-_]([a-z]+)::([a-z_]+)", path.read_text(encoding="utf-8")):
            crate, name = m[1], m[2]
            if not (REPO / "crates" / f"snakescope-{crate}").is_dir() or not _crate_has(crate, name):
                wrong.append(f"{_rel(path)}: {m[0]}")
    assert not wrong, "the docs name modules that do not exist:\n" + "\n".join(sorted(set(wrong)))


def test_rust_files_in_the_docs_exist():
    """Every `something.rs` (or `dir/something.rs`) the docs name is a file of
    the repository (`v3_x.rs`, the how-to's placeholder, excepted)."""
    rust_files = [str(p.relative_to(REPO)) for p in (REPO / "crates").rglob("*.rs")]
    wrong = []
    for path in DOC_FILES:
        for m in re.finditer(r"[\w/.-]*\w\.rs\b", path.read_text(encoding="utf-8")):
            name = m[0].lstrip("./")
            if "v3_x" in name:
                continue
            if not any(f == name or f.endswith("/" + name) for f in rust_files):
                wrong.append(f"{_rel(path)}: {m[0]}")
    assert not wrong, "the docs name Rust files that do not exist:\n" + "\n".join(sorted(set(wrong)))


def test_tests_readme_names_every_test_module():
    """tests/python/README.md describes every test module and support module."""
    readme = (REPO / "tests" / "python" / "README.md").read_text(encoding="utf-8")
    here = REPO / "tests" / "python"
    modules = [p.name for p in here.glob("test_*.py")]
    modules += [f"support/{p.name}" for p in (here / "support").glob("*.py") if p.name != "__init__.py"]
    missing = [m for m in sorted(modules) if f"`{m}`" not in readme]
    assert not missing, f"tests/python/README.md does not describe {missing}"


# --------------------------------------------------------------------------
# The capture's schema (docs/capture.schema.json, generated from the model
# by `make schema`) and its page
# --------------------------------------------------------------------------


def _resolve(schema: dict, node: dict) -> dict:
    """`node` with its `$ref`s followed (to `$defs` or `definitions`) and an
    optional value's `anyOf: [T, {"type": "null"}]` unwrapped to T."""
    while True:
        if "$ref" in node:
            target = schema
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
            continue
        kinds = [n for n in node.get("anyOf", []) if n.get("type") != "null"]
        if len(kinds) != 1:
            return node
        node = kinds[0]


def _schema_node(schema: dict, dotted: str) -> dict | None:
    """The schema of `meta.ticks`, `memory.sites[i].frees`...; None if absent."""
    node = schema
    for part in dotted.split("."):
        name, indexed = re.fullmatch(r"(\w+)(\[i\])?", part).groups()
        node = _resolve(schema, node).get("properties", {}).get(name)
        if node is None:
            return None
        if indexed:
            node = _resolve(schema, node).get("items", {})
    return node


def test_capture_page_fields_are_in_the_schema():
    """Every field docs/capture-format.md describes is in the schema the tests
    validate captures with, and every field of the schema is on the page."""
    schema = json.loads((REPO / "docs" / "capture.schema.json").read_text(encoding="utf-8"))
    page = (REPO / "docs" / "capture-format.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`((?:meta|threads|frames|stacks|memory)(?:\[i\])?(?:\.\w+(?:\[i\])?)*)`", page))
    assert documented, "docs/capture-format.md names no field"
    missing = sorted(d for d in documented if _schema_node(schema, d) is None)
    assert not missing, f"docs/capture-format.md describes fields docs/capture.schema.json lacks: {missing}"

    def names(node: dict, seen: set[str]) -> None:
        node = _resolve(schema, node)
        for name, sub in node.get("properties", {}).items():
            seen.add(name)
            names(sub, seen)
        if "items" in node:
            names(node["items"], seen)

    fields: set[str] = set()
    names(schema, fields)
    assert {"meta", "ticks", "memory", "sites", "census", "type_name"} <= fields, \
        f"the walk through docs/capture.schema.json missed fields it has: {sorted(fields)}"
    undocumented = sorted(f for f in fields if not re.search(rf"\b{f}\b", page))
    assert not undocumented, f"docs/capture.schema.json has fields docs/capture-format.md never names: {undocumented}"


# --------------------------------------------------------------------------
# The site
# --------------------------------------------------------------------------


def test_docs_site_builds_strict(tmp_path):
    """`mkdocs build --strict` (as `make docs`): every page of docs/ is in the
    navigation, and every link between pages, and to a heading, resolves."""
    import shutil
    import subprocess
    import sys

    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs, "mkdocs is not installed beside this Python (tests/python/requirements.txt pins it)"
    r = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=REPO,
                       capture_output=True, text=True, timeout=QUICK_TIMEOUT * 4)
    assert r.returncode == 0, f"mkdocs build --strict failed:\n{r.stderr[-4000:]}"
    for page in ["index.html", "coming-from/index.html", "commands/run/index.html",
                 "integrations/pytest/index.html"]:
        assert (tmp_path / "site" / page).is_file(), f"the site lacks {page}"


def test_coming_from_page_uses_only_real_options(snakescope):
    """Every `snakescope CMD … --option` the coming-from page shows is an option
    of that command's --help."""
    page = (REPO / "docs" / "coming-from.md").read_text(encoding="utf-8")
    helps: dict[str, str] = {}
    wrong = []
    for m in re.finditer(r"`snakescope (\w+)([^`]*)`", page):
        command, rest = m[1], m[2].split(" -- ")[0]
        if command not in helps:
            helps[command] = run([snakescope, command, "--help"], timeout=QUICK_TIMEOUT).stdout
        for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", rest):
            if not re.search(rf"(?<![\w-]){re.escape(option)}\b", helps[command]):
                wrong.append(f"snakescope {command} {option}")
    assert not wrong, f"docs/coming-from.md shows options the CLI lacks: {sorted(set(wrong))}"


def test_every_command_has_a_page_in_the_nav(snakescope):
    """Each subcommand `snakescope --help` lists has docs/commands/CMD.md, in
    mkdocs.yml's nav, and named in the README's tour."""
    help_text = run([snakescope, "--help"], timeout=QUICK_TIMEOUT).stdout
    section = help_text.split("Commands:", 1)[1].split("Options:", 1)[0]
    commands = [m[1] for m in re.finditer(r"^  (\w+)\s", section, re.M) if m[1] != "help"]
    assert "top" in commands and "record" in commands, section
    nav = _text(REPO / "mkdocs.yml")
    readme = _text(REPO / "README.md")
    missing = [c for c in commands
               if not (REPO / "docs" / "commands" / f"{c}.md").is_file()
               or f"commands/{c}.md" not in nav or f"snakescope {c}" not in readme]
    assert not missing, f"commands without a page, a nav entry or a README line: {missing}"


def test_top_page_names_every_option(snakescope):
    """docs/commands/top.md's option table has a row for each of `top --help`'s options."""
    help_text = run([snakescope, "top", "--help"], timeout=QUICK_TIMEOUT).stdout
    options = set(re.findall(r"^\s+(?:-\w, )?(--[a-z][\w-]*)", help_text, re.M))
    options -= {"--help", "--version"}
    page = (REPO / "docs" / "commands" / "top.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(?:-\w, )?(--[a-z][\w-]*)", page, re.M))
    assert options and options == rows, f"help: {sorted(options)}; page: {sorted(rows)}"
