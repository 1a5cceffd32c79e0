"""The IPython magics (`%load_ext snakescope`, `%snakescope`, `%%snakescope`),
driven through IPython's own test shell (`IPython.testing.globalipapp`) and
in a Jupyter kernel (ipykernel, through `jupyter_client`).

Ground truth by construction: the cell's `hot` does all the work (a loop of
a known length), so it tops the report; `--exact` counts its calls, `--lines`
its loop's hits; a cell holding a 30 MB bytearray peaks above 30 MB at that
line. The notebook's output (the HTML report in a sandboxed iframe) is opened
in headless Chromium (support/browser.py), the frame's document inspected in
its own process.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
from pathlib import Path

import pytest
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

from support import QUICK_TIMEOUT, assert_clean_stderr, run
from test_html import ARTIFACTS, READY, check_clean, load, text_of

CELL = """
def hot(n):
    t = 0
    for i in range(n):
        t += i * i
    return t

def twice(n):
    return [hot(n) for _ in range(2)]
"""
HOT_LINE = "        t += i * i"
SOURCES = re.compile(r'<script type="application/json" id="snakescope-sources">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def ip():
    shell = start_ipython()
    shell.run_line_magic("load_ext", "snakescope")
    shell.run_cell(CELL)
    yield shell
    # A shell saving its history to a file does it on a thread of its own:
    # gone before the next module's in-process profiles count threads.
    if shell.history_manager.save_thread is not None:
        shell.history_manager.save_thread.stop()


def run_cell(ip, cell):
    """Runs a cell; returns IPython's result and what it printed and displayed."""
    with capture_output() as out:
        result = ip.run_cell(cell)
    return result, out


def table_rows(text: str, title: str) -> list[list[str]]:
    """The rows of a table of the text report, split on runs of spaces."""
    lines = text.splitlines()
    start = lines.index(title) + 2
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


class Frames(html.parser.HTMLParser):
    """The attributes of every iframe of a page (values unescaped, as a browser reads them)."""

    def __init__(self):
        super().__init__()
        self.frames: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.frames.append(dict(attrs))


def test_line_magic_puts_the_hot_function_on_top(ip, tmp_path):
    capture = tmp_path / "line.json"
    result, out = run_cell(ip, f"%snakescope --text -o {capture} twice(1_500_000)")
    assert result.success, result.error_in_exec
    top = table_rows(out.stdout, "Top functions by self time")[0]
    assert top[2] == "hot" and top[3].startswith("<ipython-input-"), out.stdout
    assert float(top[0].rstrip("%")) > 80, out.stdout
    # The statement itself is a cell of its own: its <module> calls twice.
    by_total = {row[2]: row for row in table_rows(out.stdout, "Top functions by total time")}
    assert {"hot", "twice", "<module>"} <= set(by_total), out.stdout
    # IPython's frames under the magic are left out: every stack starts in the statement's cell.
    data = json.loads(capture.read_text())
    roots = {(data["frames"][s["frames"][0]]["file"], data["frames"][s["frames"][0]]["function"])
             for s in data["stacks"]}
    assert len(roots) == 1 and all(f.startswith("<ipython-input-") and fn == "<module>" for f, fn in roots), roots


def test_cell_magic_runs_the_cell_in_the_namespace(ip):
    result, out = run_cell(ip, "%%snakescope --text\nvalue = hot(2_000_000)\nsmall = hot(10)")
    assert result.success, result.error_in_exec
    assert ip.user_ns["value"] == sum(i * i for i in range(2_000_000)) and ip.user_ns["small"] == 285
    assert table_rows(out.stdout, "Top functions by self time")[0][2] == "hot", out.stdout


def test_notebook_output_is_the_html_report_in_a_sandboxed_frame(ip, browser, page, snakescope, tmp_path):
    capture = tmp_path / "nb.json"
    result, out = run_cell(ip, f"%snakescope -o {capture} hot(3_000_000)")
    assert result.success, result.error_in_exec
    assert f"snakescope: wrote {capture}" in out.stderr
    [shown] = out.outputs
    assert set(shown.data) == {"text/html", "text/plain"}
    # A terminal shows the text report.
    text = shown.data["text/plain"]
    assert text.startswith("snakescope: ") and "Top functions by self time" in text, text
    parser = Frames()
    parser.feed(shown.data["text/html"])
    [frame] = parser.frames
    assert frame["sandbox"] == "allow-scripts", frame["sandbox"]  # scripts, but an opaque origin
    report = frame["srcdoc"]
    # The same page as `snakescope report --format html`, the cell's source given besides.
    cli = tmp_path / "cli.html"
    done = run([snakescope, "report", str(capture), "--format", "html", "-o", str(cli)], timeout=QUICK_TIMEOUT)
    assert done.returncode == 0, done.describe()
    assert_clean_stderr(done)
    cli_html = cli.read_text(encoding="utf-8")
    assert SOURCES.sub("", report) == SOURCES.sub("", cli_html)
    files = {f["path"]: f for f in json.loads(SOURCES.search(report).group(1))["files"]}
    cell_file = next(p for p in files if HOT_LINE in files[p].get("text", ""))
    assert cell_file.startswith("<ipython-input-")
    assert json.loads(SOURCES.search(cli_html).group(1))["files"][0]["unavailable"] == "not a file"

    # The notebook's output in a browser: the report runs inside the frame.
    notebook = tmp_path / "notebook.html"
    notebook.write_text(f"<!DOCTYPE html>\n<html><body><h1>Out[1]</h1>\n{shown.data['text/html']}\n</body></html>",
                        encoding="utf-8")
    page.attach_frames()
    load_plain(page, notebook)
    assert page.errors == [] and page.requests == [notebook.resolve().as_uri()]
    assert page.eval("typeof window.snakescopeReport") == "undefined", "the report's script ran in the notebook"
    inner = page.frame("about:srcdoc")
    inner.wait_for(READY, timeout=60)
    assert inner.eval("location.origin") == "null", "the frame shares the notebook's origin"
    assert inner.eval("window.snakescopeReport.errors") == [] and inner.errors == []
    first = inner.eval("document.querySelector('#functions-table tbody tr td').textContent")
    assert first == "hot"
    assert HOT_LINE.strip() in inner.eval("document.getElementById('source').textContent")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(ARTIFACTS / "notebook-output.png", max_height=1000)  # for a person to look at

    # The report alone, as a file: the annotated source shows the cell's hot line with its share.
    alone = tmp_path / "report.html"
    alone.write_text(report, encoding="utf-8")
    page = browser.new_page(width=1400, height=900)  # its requests are its own
    load(page, alone)
    check_clean(page, alone)
    source = text_of(page, "#source")
    assert cell_file in source and "Source not available" not in source.split(cell_file)[1][:200]
    row = page.eval(f"""Array.from(document.querySelectorAll('#source table.src tbody tr'))
        .map(tr => Array.from(tr.cells).map(c => c.textContent))
        .find(cells => cells.some(c => c.includes({json.dumps(HOT_LINE.strip())})))""")
    assert row and float(row[1].rstrip("%")) > 10, row
    page.close()


def load_plain(tab, path: Path) -> None:
    """Opens a page that is not a report (no READY to wait for)."""
    tab.goto(path.resolve().as_uri())


@pytest.fixture(scope="module")
def kernel():
    """A Jupyter kernel (ipykernel, this interpreter) and a client to it."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=QUICK_TIMEOUT)
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def execute(client, code: str) -> list[tuple[str, dict]]:
    """Runs a cell in the kernel; returns its outputs as (message type, content)."""
    msg_id = client.execute(code)
    outputs = []
    while True:
        msg = client.get_iopub_msg(timeout=QUICK_TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind in ("display_data", "execute_result", "stream", "error"):
            outputs.append((kind, content))
        if kind == "status" and content["execution_state"] == "idle":
            return outputs


def test_in_a_jupyter_kernel_the_cells_files_are_given_their_source(kernel):
    # ipykernel names a cell's code /tmp/ipykernel_PID/HASH.py, a file that does not exist.
    assert execute(kernel, "%load_ext snakescope") == []
    assert execute(kernel, CELL) == []
    outputs = execute(kernel, "%snakescope hot(3_000_000)")
    assert [kind for kind, _ in outputs] == ["display_data"], outputs
    data = outputs[0][1]["data"]
    top = table_rows(data["text/plain"], "Top functions by self time")[0]
    assert top[2] == "hot" and "/ipykernel_" in top[3], data["text/plain"]
    assert not os.path.exists(top[3])
    parser = Frames()
    parser.feed(data["text/html"])
    files = {f["path"]: f for f in json.loads(SOURCES.search(parser.frames[0]["srcdoc"]).group(1))["files"]}
    assert files[top[3]]["text"].strip() == CELL.strip(), files[top[3]]
    # An exception in the cell is the kernel's usual error reply.
    failed = execute(kernel, "%%snakescope\nhot(10)\n1/0")
    assert [kind for kind, _ in failed] == ["error"] and failed[0][1]["ename"] == "ZeroDivisionError"


def test_exact_counts_the_calls(ip, tmp_path):
    capture = tmp_path / "exact.json"
    result, out = run_cell(ip, f"%snakescope --exact --text -o {capture} [twice(1000) for _ in range(3)]")
    assert result.success, result.error_in_exec
    data = json.loads(capture.read_text())
    calls = {data["frames"][f["frame"]]["function"]: f["calls"] for f in data["exact"]["functions"]}
    assert calls["twice"] == 3 and calls["hot"] == 6, calls
    assert not any("_ipython" in f["file"] or "_api" in f["file"] for f in data["frames"]), data["frames"]
    assert "function calls" in out.stdout


def test_lines_times_the_named_function(ip, tmp_path):
    capture = tmp_path / "lines.json"
    result, out = run_cell(ip, f"%snakescope --lines hot --text -o {capture} twice(500)")
    assert result.success, result.error_in_exec
    data = json.loads(capture.read_text())
    # (Functions decorated with `snakescope.profile` anywhere in this process
    # are timed too, as under `run --lines`: test_run.py decorates one.)
    [timed] = [f for f in data["lines"]["functions"] if data["frames"][f["frame"]]["function"] == "hot"]
    hits = {line["line"]: line["hits"] for line in timed["lines"]}
    body = timed["source"].index(HOT_LINE)  # the source from the function's first line
    first = data["frames"][timed["frame"]]["line"]
    assert hits[first + body] == 2 * 500, hits
    assert "Line #" in out.stdout


def test_memory_names_the_allocating_line(ip, tmp_path):
    capture = tmp_path / "memory.json"
    result, _ = run_cell(ip, f"%%snakescope --memory --text -o {capture}\nkeep = bytearray(30 << 20)\nsize = len(keep)")
    assert result.success, result.error_in_exec
    data = json.loads(capture.read_text())
    memory = data["memory"]
    assert memory["peak_bytes"] >= 29 << 20, memory["peak_bytes"]
    top = max(memory["sites"], key=lambda s: s["peak_bytes"])
    leaf = data["frames"][top["frames"][-1]]
    assert (leaf["line"], leaf["function"]) == (1, "<module>") and leaf["file"].startswith("<ipython-input-")
    del ip.user_ns["keep"]


def test_an_exception_propagates_and_the_profiler_stops(ip):
    from snakescope import _native

    result, out = run_cell(ip, "%%snakescope --text\nhot(10)\nraise KeyError('boom')")
    assert isinstance(result.error_in_exec, KeyError) and result.error_in_exec.args == ("boom",)
    assert "KeyError" in out.stdout and "Top functions" not in out.stdout
    assert not _native.is_running()
    again, _ = run_cell(ip, "%snakescope --text hot(10)")
    assert again.success, again.error_in_exec


@pytest.mark.parametrize("line, message", [
    ("%snakescope", "%snakescope needs a statement to profile"),
    ("%snakescope --exact --memory hot(1)", "--memory and --rate need sampling"),
    ("%snakescope --rate fast hot(1)", "--rate takes samples per second"),
    ("%snakescope --lines nosuch hot(1)", "--lines nosuch: no 'nosuch' in the namespace"),
    ("%snakescope --lines hot.nope hot(1)", "--lines hot.nope: function has no attribute 'nope'"),
    ("%snakescope --bogus hot(1)", "option --bogus not recognized"),
    ("%%snakescope hot(1)\nhot(2)", "%%snakescope takes options only"),
])
def test_bad_options_are_one_usage_line(ip, line, message):
    result, out = run_cell(ip, line)
    assert type(result.error_in_exec).__name__ == "UsageError"
    assert message in str(result.error_in_exec), str(result.error_in_exec)
    assert "Traceback" not in out.stdout + out.stderr
