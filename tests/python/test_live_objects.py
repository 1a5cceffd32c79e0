"""The live page's object counts by type (`run --live-web`): dowser's table,
from the agent's censuses while the program runs.

Ground truth: live_objects.py holds exactly 5000 instances of its class
`Blob`, then exactly 8000 once told to grow. The collector tracks every
one, and the census counts tracked objects one by one, so the counts must
be exact, not within a tolerance. A census the page asks for is marked
`asked`, so the test knows it saw that one and not a periodic one.
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

from support import REPO, live_page, script, target_env

BLOB = "__main__.Blob"


def fetch(url: str, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class LiveRun:
    """`snakescope run --live-web` of live_objects.py, with its page's address."""

    def __init__(self, snakescope: str, python: str, tmp_path: Path, *options: str):
        self.base_file = tmp_path / "ctl"
        self.proc = subprocess.Popen(
            [snakescope, "run", "--python", python, "-o", str(tmp_path / "out.json"), *options,
             "--live-web", script("live_objects.py"), str(self.base_file)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=target_env({"PYTHONPATH": str(REPO / "python")}), start_new_session=True)
        try:
            self.base, self.token = live_page(self.proc.stderr)
        except BaseException:
            self.finish()
            raise
        self.url = f"{self.base}/?token={self.token}"

    def objects(self) -> dict:
        code, body = fetch(f"{self.base}/objects.json?token={self.token}")
        assert code == 200, body[:200]
        return json.loads(body)

    def wait_for_census(self, accept, timeout: float = 30) -> dict:
        """The newest census once `accept(census)` holds for it."""
        deadline = time.monotonic() + timeout
        while True:
            censuses = self.objects()["censuses"]
            if censuses and accept(censuses[-1]):
                return censuses[-1]
            if time.monotonic() > deadline:
                pytest.fail(f"no such census within {timeout:g} s; the last: "
                            f"{censuses[-1] if censuses else None}")
            time.sleep(0.2)

    def grow(self) -> None:
        Path(f"{self.base_file}.grow").touch()
        deadline = time.monotonic() + 30
        while not Path(f"{self.base_file}.grown").exists():
            assert time.monotonic() < deadline, "the program did not grow"
            time.sleep(0.05)

    def finish(self) -> tuple[str, str]:
        self.base_file.touch()
        try:
            out, err = self.proc.communicate(timeout=120)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.communicate()
        return out.decode(), err.decode()


def count(census: dict, type_name: str) -> int | None:
    return next((r["count"] for r in census["types"] if r["type_name"] == type_name), None)


def test_counts_by_type_and_a_census_when_asked(any_python, snakescope, tmp_path):
    live = LiveRun(snakescope, any_python.path, tmp_path)
    try:
        wrong = ("1" if live.token[0] == "0" else "0") + live.token[1:]
        assert fetch(f"{live.base}/objects.json?token={wrong}")[0] == 403
        assert fetch(f"{live.base}/census?token={wrong}", "POST")[0] == 403
        first = live.wait_for_census(lambda c: count(c, BLOB) is not None)
        assert count(first, BLOB) == 5000 and first["when"] == "live", first["when"]
        live.grow()
        code, body = fetch(f"{live.base}/census?token={live.token}", "POST")
        assert code == 202, body
        asked = live.wait_for_census(lambda c: c["when"] == "asked")
        assert count(asked, BLOB) == 8000
        assert asked["t"] > first["t"]
        objects = live.objects()
        assert objects["available"] is True and objects["spent_s"] > 0
        # Periodic censuses go on: one a second within their time budget.
        later = live.wait_for_census(lambda c: c["t"] > asked["t"] and c["when"] == "live")
        assert count(later, BLOB) == 8000
    finally:
        out, err = live.finish()
    assert live.proc.returncode == 0, err
    assert out == "done\n"
    # The final capture keeps the exit census only (the live ones were the page's).
    final = json.loads((tmp_path / "out.json").read_text())
    whens = [c["when"] for c in final["memory"]["census"]]
    assert "live" not in whens and "asked" not in whens, whens
    leftovers = list(Path(tempfile.gettempdir()).glob(f"snakescope-live-{live.proc.pid}-*"))
    assert not leftovers, leftovers


def test_no_counts_without_memory_tracking_or_the_agent(any_python, snakescope, tmp_path):
    live = LiveRun(snakescope, any_python.path, tmp_path, "--memory", "off")
    try:
        objects = live.objects()
        assert objects["available"] is False and "--memory off" in objects["why"], objects
        code, body = fetch(f"{live.base}/census?token={live.token}", "POST")
        assert code == 409 and b"--memory off" in body, (code, body)
    finally:
        _, err = live.finish()
    assert live.proc.returncode == 0, err
    # From outside (`record`), there is no agent to count objects.
    rec = subprocess.Popen(
        [snakescope, "record", "-q", "--live-web", "-o", str(tmp_path / "rec.json"), "--",
         any_python.path, script("split_70_30.py"), "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=target_env(), start_new_session=True)
    try:
        base, token = live_page(rec.stderr)
        code, body = fetch(f"{base}/objects.json?token={token}")
        objects = json.loads(body)
        assert objects["available"] is False and "run --live-web" in objects["why"], objects
        assert fetch(f"{base}/census?token={token}", "POST")[0] == 409
        rec.communicate(timeout=120)
    finally:
        if rec.poll() is None:
            os.killpg(rec.pid, signal.SIGKILL)
            rec.communicate()
    assert rec.returncode == 0


def test_the_page_shows_counts_growth_and_a_checkpoint(any_python, snakescope, tmp_path, page):
    live = LiveRun(snakescope, any_python.path, tmp_path)
    try:
        page.goto(live.url)
        page.eval("document.getElementById('span-objects').click()")
        page.wait_for(f"window.snakescopeLive.objects.counts['{BLOB}'] === 5000")
        assert page.eval("document.getElementById('objects').hidden") is False
        assert page.eval("[...document.querySelectorAll('iframe')].every(f => f.hidden)")
        page.eval("document.getElementById('checkpoint').click()")
        live.grow()
        page.eval("document.getElementById('census').click()")
        page.wait_for("window.snakescopeLive.objects.asked === 1")
        page.wait_for(f"window.snakescopeLive.objects.counts['{BLOB}'] === 8000")
        row = page.eval(
            "(() => { const r = [...document.querySelectorAll('#objects-rows tr')]"
            f".find(r => r.cells[0].textContent === '{BLOB}');"
            " return [...r.cells].slice(0, 4).map(c => c.textContent)"
            ".concat([r.querySelector('polyline').getAttribute('points').split(' ').length]); })()")
        assert row[:4] == [BLOB, "8000", row[2], "+3000"], row
        assert row[4] >= 2, row  # one point per census that counted it
        assert "checkpoint" in page.eval("document.getElementById('change-head').textContent")
        assert page.eval("window.snakescopeLive.errors.length") == 0
        assert not page.errors, page.errors
    finally:
        _, err = live.finish()
    assert live.proc.returncode == 0, err
