"""A headless Chromium driven over the DevTools protocol, standard library only.

Chromium is started with `--remote-debugging-pipe`: it reads protocol
messages (JSON, each ended by a NUL byte) from its file descriptor 3 and
writes replies and events to descriptor 4, so no WebSocket client and no port
are needed (Puppeteer's `pipe: true` mode). One page is opened and attached
in "flat" mode; every command to it carries that session id.

Used by test_html.py:

    with Browser.start(tmp_path) as browser:
        page = browser.new_page(width=1400, height=900)
        page.goto(url)                         # waits for the load event
        page.wait_for("window.snakescopeReport && window.snakescopeReport.ready")
        page.eval("document.title")
        page.click(x, y)
        page.screenshot(path)
        page.errors                            # console errors and uncaught exceptions
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

# The Debian package's command; the Makefile installs it when missing.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    explicit = os.environ.get("SNAKESCOPE_CHROMIUM")
    if explicit:
        return explicit
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class ProtocolError(RuntimeError):
    pass


class Browser:
    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int, log: Path):
        self.proc = proc
        self._out = to_browser
        self._in = from_browser
        self._buf = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.log = log

    @classmethod
    def start(cls, workdir: Path, executable: str | None = None) -> "Browser":
        exe = executable or find_chromium()
        if not exe:
            raise FileNotFoundError("no chromium found (install Debian's `chromium`; `make test` does)")
        workdir.mkdir(parents=True, exist_ok=True)
        # Chromium reads fd 3 and writes fd 4.
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()

        def child_fds() -> None:
            # Move both ends above 4 first, so neither is clobbered by the other's dup2.
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(evt_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        log = workdir / "chromium.log"
        args = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            f"--user-data-dir={workdir / 'profile'}", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--disable-component-update", "--mute-audio", "--hide-scrollbars", "about:blank",
        ]
        with open(log, "wb") as logf:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                    close_fds=False, preexec_fn=child_fds, start_new_session=True)
        os.close(cmd_r)
        os.close(evt_w)
        return cls(proc, cmd_w, evt_r, log)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", timeout=5)
            except (ProtocolError, OSError, TimeoutError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        for fd in (self._out, self._in):
            try:
                os.close(fd)
            except OSError:
                pass

    # ---- the protocol

    def _write(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            n = os.write(self._out, data)
            data = data[n:]

    def _read_one(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from chromium in time")
            ready, _, _ = select.select([self._in], [], [], left)
            if ready:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise ProtocolError(f"chromium closed the pipe (see {self.log})")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._write(msg)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_one(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ProtocolError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, session: str | None, timeout: float,
                   since: int = 0) -> dict:
        deadline = time.monotonic() + timeout
        seen = since
        while True:
            for ev in self.events[seen:]:
                if ev["method"] == method and ev.get("sessionId") == session:
                    return ev
            seen = len(self.events)
            msg = self._read_one(deadline)
            if "method" in msg:
                self.events.append(msg)

    def new_page(self, width: int = 1400, height: int = 900) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session, target)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return page


class Page:
    def __init__(self, browser: Browser, session: str, target: str):
        self.browser = browser
        self.session = session
        self.target = target

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})

    def send(self, method: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        return self.browser.send(method, params, self.session, timeout)

    def goto(self, url: str, timeout: float = 60.0) -> None:
        mark = len(self.browser.events)
        result = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if result.get("errorText"):
            raise ProtocolError(f"navigation to {url} failed: {result['errorText']}")
        self.browser.wait_event("Page.loadEventFired", self.session, timeout, since=mark)

    def eval(self, expression: str, timeout: float = 30.0) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise ProtocolError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} still false after {timeout:g} s")
            time.sleep(0.05)

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params = {"type": kind, "x": x, "y": y}
            if kind != "mouseMoved":
                params.update(button="left", clickCount=1)
            self.send("Input.dispatchMouseEvent", params)

    def screenshot(self, path: Path, max_height: int = 8000) -> None:
        """The page from its top, at most max_height CSS pixels of it, as PNG."""
        self.eval("window.scrollTo(0, 0)")
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height),
                "scale": 1}
        shot = self.send("Page.captureScreenshot",
                         {"format": "png", "clip": clip, "captureBeyondViewport": True}, timeout=60)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def attach_frames(self) -> None:
        """Out-of-process frames (a sandboxed `<iframe>` runs in a process of
        its own) are attached from now on, each with a session of its own:
        call before `goto`, then `frame(url)`."""
        self.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True})

    def frame(self, url: str, timeout: float = 30.0) -> "Page":
        """The attached frame whose document is `url` (e.g. `about:srcdoc`), as a Page to evaluate in."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.browser.events:
                info = ev.get("params", {}).get("targetInfo", {})
                if (ev["method"] == "Target.attachedToTarget" and ev.get("sessionId") == self.session
                        and info.get("type") == "iframe" and info.get("url") == url):
                    frame = Page(self.browser, ev["params"]["sessionId"], info["targetId"])
                    for domain in ("Runtime", "Log"):
                        frame.send(f"{domain}.enable")
                    return frame
            if time.monotonic() > deadline:
                raise TimeoutError(f"no frame {url} attached in {timeout:g} s")
            self.eval("0")  # reads the events that arrived meanwhile

    @property
    def errors(self) -> list[str]:
        """Console errors, failed console.assert calls and uncaught exceptions so far."""
        out = []
        for ev in self.browser.events:
            if ev.get("sessionId") != self.session:
                continue
            p = ev.get("params", {})
            if ev["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(f"uncaught: {d.get('exception', {}).get('description') or d.get('text')}")
            elif ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console." + p["type"] + ": " + " ".join(
                    str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif ev["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log: {p['entry'].get('text')} ({p['entry'].get('url', '')})")
        return out

    @property
    def requests(self) -> list[str]:
        """URLs of every request the page made."""
        return [ev["params"]["request"]["url"] for ev in self.browser.events
                if ev.get("sessionId") == self.session and ev["method"] == "Network.requestWillBeSent"]
