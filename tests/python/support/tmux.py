"""A tmux server of a test's own, to drive snakescope's full-screen views
(`top`, `run --live`) as a user at a terminal would: keys in, the screen
read back as text."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest


class Tmux:
    """A detached tmux server of its own (socket in tmp_path) with one
    160x40 window running bash without rc files."""

    def __init__(self, tmp_path: Path):
        self.socket = str(tmp_path / "tmux.sock")
        self.tmux("new-session", "-d", "-x", "160", "-y", "40", "bash --norc --noprofile")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if re.search(pattern, shown, re.M):
                return shown
            if time.monotonic() > deadline:
                pytest.fail(f"no {pattern!r} on the screen within {timeout:g} s:\n{shown}")
            time.sleep(0.2)

    def wait_for_file(self, path: Path, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                pytest.fail(f"{path.name} was not written within {timeout:g} s:\n{self.screen()}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)
