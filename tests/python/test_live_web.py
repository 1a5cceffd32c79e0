"""`snakescope top --live-web`: the live page and its JSON endpoint update
while the program runs, the last-N-seconds capture holds only those seconds,
a request without the page's token is refused (403), and headless Chromium
draws the page (the HTML report, swapped in every second).

The target is the 70/30 workload (tests/scripts/split_70_30.py): it keeps a
CPU busy the whole time, so at 1000 Hz every second adds samples.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support import REPO, Capture, live_page, script, target_env

WINDOW_S = 1


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def live(any_python, snakescope, spawn):
    """A running 70/30 target and `top --once --live-web` watching it: (target, page URL)."""
    target = spawn([any_python.path, script("split_70_30.py"), "300"])
    top = subprocess.Popen(
        [snakescope, "top", "--once", "-d", "120", "-w", str(WINDOW_S), "--live-web",
         "--pid", str(target.pid)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=target_env(), start_new_session=True)
    try:
        base, token = live_page(top.stderr)
        yield target, f"{base}/?token={token}"
        assert target.alive(), "the page stopped the program"
    finally:
        if top.poll() is None:
            os.killpg(top.pid, signal.SIGINT)
        out, err = top.communicate(timeout=60)
    assert top.returncode == 0, err.decode()
    assert "split_70_30" in out.decode() or "heavy" in out.decode(), out.decode()


def samples(url: str) -> Capture:
    code, body = fetch(url)
    assert code == 200, body[:200]
    return Capture(json.loads(body))


def test_endpoints_update_and_need_the_token(live):
    _, url = live
    base, token = url.split("/?token=")
    wrong = ("1" if token[0] == "0" else "0") + token[1:]  # one character off, never the token itself
    for bad in (f"{base}/", f"{base}/data.json", f"{base}/data.json?token={wrong}",
                f"{base}/report?token="):
        code, _ = fetch(bad)
        assert code == 403, f"{bad}: {code}"
    assert fetch(f"{base}/nothing?token={token}")[0] == 404
    first = samples(f"{base}/data.json?token={token}&span=start")
    time.sleep(2 * WINDOW_S + 1.5)
    second = samples(f"{base}/data.json?token={token}&span=start")
    assert second.total > first.total, (first.total, second.total)
    assert second.count(lambda s: s.has("heavy")) > first.count(lambda s: s.has("heavy"))
    # The window: the capture less its copy of between WINDOW_S and
    # WINDOW_S + 1 s ago (a copy is kept every second).
    window = samples(f"{base}/data.json?token={token}&span=window")
    assert 0 < window.total < second.total
    assert WINDOW_S <= window.meta["duration_s"] <= WINDOW_S + 1.5, window.meta
    code, page = fetch(url)
    assert code == 200 and b"snakescopeLive" in page
    code, report = fetch(f"{base}/report?token={token}&span=start")
    assert code == 200 and b'id="snakescope-capture"' in report


def test_the_page_updates_in_a_browser(live, page):
    _, url = live
    page.goto(url)
    page.wait_for("window.snakescopeLive.updates >= 1")
    page.eval("document.getElementById('span-start').click()")
    first = page.wait_for("window.snakescopeLive.span === 'start' && window.snakescopeLive.updates")
    counts = []
    for want in (first + 1, first + 3):
        page.wait_for(f"window.snakescopeLive.updates >= {want}")
        counts.append(page.eval("window.snakescopeLive.samples"))
    assert 0 < counts[0] < counts[1], counts
    # The report drew its flame graph in the frame shown.
    assert page.eval("(() => { const f = [...document.querySelectorAll('iframe')]"
                     ".find(f => !f.hidden); return !!f.contentDocument.querySelector('#flame canvas'); })()")
    assert page.eval("window.snakescopeLive.errors.length") == 0
    assert not page.errors, page.errors


def test_record_serves_the_page_and_still_writes_its_capture(any_python, snakescope, tmp_path):
    out = tmp_path / "rec.json"
    rec = subprocess.Popen(
        [snakescope, "record", "-q", "--live-web", "-o", str(out), "--",
         any_python.path, script("split_70_30.py"), "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=target_env(), start_new_session=True)
    try:
        base, token = live_page(rec.stderr)
        assert fetch(f"{base}/data.json")[0] == 403
        first = samples(f"{base}/data.json?token={token}&span=start")
        time.sleep(1.5)
        second = samples(f"{base}/data.json?token={token}&span=start")
        assert second.total > first.total, (first.total, second.total)
        _, err = rec.communicate(timeout=120)
    finally:
        if rec.poll() is None:
            os.killpg(rec.pid, signal.SIGKILL)
            rec.communicate()
    assert rec.returncode == 0, err.decode()
    final = Capture.load(out)
    assert final.total >= second.total and final.meta["exit_code"] == 0


def test_run_serves_the_agents_capture_with_memory_as_it_grows(any_python, snakescope, tmp_path):
    """`run --live-web`: the agent inside the program writes the capture so
    far every second and `run` serves it. Ground truth: live_memory.py keeps
    a CPU busy and holds one more 1 MB block every 0.1 s on a known line,
    until told to stop; two reads 3 s apart must show more samples,
    a longer memory timeline and more bytes alive on that line; the token is
    required; the program ends as it would have, and the file is gone."""
    stop, out = tmp_path / "stop", tmp_path / "out.json"
    run = subprocess.Popen(
        [snakescope, "run", "--python", any_python.path, "-o", str(out), "--live-web",
         script("live_memory.py"), str(stop)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=target_env({"PYTHONPATH": str(REPO / "python")}),
        start_new_session=True)
    try:
        base, token = live_page(run.stderr)
        wrong = ("1" if token[0] == "0" else "0") + token[1:]
        assert fetch(f"{base}/data.json?token={wrong}")[0] == 403
        time.sleep(2.5)  # the first copy is written once the agent runs
        first = json.loads(fetch(f"{base}/data.json?token={token}&span=start")[1])
        time.sleep(3)
        second = json.loads(fetch(f"{base}/data.json?token={token}&span=start")[1])
        code, page = fetch(f"{base}/report?token={token}&span=start")
        assert code == 200 and b"memory" in page.lower()
    finally:
        stop.touch()
        out_text, err = run.communicate(timeout=120)
    assert run.returncode == 0, err.decode()
    assert out_text.decode() == "done\n"

    def held_on_the_line(cap: dict) -> int:
        frames = cap["frames"]
        return sum(s["end_bytes"] for s in cap["memory"]["sites"] if s["frames"]
                   and frames[s["frames"][-1]]["file"].endswith("live_memory.py")
                   and frames[s["frames"][-1]]["line"] == grows)

    lines = Path(script("live_memory.py")).read_text().splitlines()
    grows = next(i for i, text in enumerate(lines, 1) if text.endswith("# grows"))
    total = lambda cap: sum(s["count"] for s in cap["stacks"])  # noqa: E731
    assert total(second) > total(first) > 0, (total(first), total(second))
    assert len(second["memory"]["timeline"]) > len(first["memory"]["timeline"]) > 0
    # 3 s more at 10 blocks a second: 30 MB more alive on the line, sampled every
    # 512 KiB on average (~60 samples: a standard deviation of ~4 MB); 10 MB is
    # 5 of them below.
    assert held_on_the_line(second) - held_on_the_line(first) >= 10_000_000, (
        held_on_the_line(first), held_on_the_line(second))
    assert not list(Path(tempfile.gettempdir()).glob(f"snakescope-live-{run.pid}-*"))


def test_run_live_web_is_refused_with_exact(snakescope, tmp_path):
    from support import assert_error
    from support.processes import run as run_command

    prog = tmp_path / "p.py"
    prog.write_text("pass\n")
    error, hint = assert_error(run_command([snakescope, "run", "--exact", "--live-web", str(prog)],
                                           env=target_env()))
    assert "--live-web" in error and "--exact" in error and hint
