"""`snakescope top`: one frame as text (`--once`) against a workload whose CPU
split is known by construction, and the full-screen view driven through tmux
(keys, the `s` key's capture, the terminal restored after Ctrl-C).

One interpreter (`any_python`): what is tested is the view, not the reader,
which test_record.py runs over the version matrix.
"""

from __future__ import annotations

import json
import re
import shlex
import time

from support import (
    K_SIGMA,
    Capture,
    assert_error,
    assert_share,
    expected_share,
    run,
    script,
)

# --once samples this long at this rate: at least ~4000 samples even when
# the target gets half a core, so that K_SIGMA binomial sigmas of a 0.7
# share are about 3 percentage points.
ONCE_SECONDS = 4
ONCE_RATE = 2000
HEADER = re.compile(r"^\s*SELF%\s+TOTAL%\s+SELF\s+TOTAL\s+\|")
ROW = re.compile(r"^\s*([\d.]+|-)\s+([\d.]+|-)\s+(\d+)\s+(\d+)\s+\|\s+\S+\s+\S+\s+(\S+) \((.*)\)$")


def parse_once(text: str) -> list[tuple[str, str, int, int]]:
    """(function, file, self samples, total samples) of the window, in order."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if HEADER.match(line))
    rows = []
    for line in lines[start + 2:]:
        m = ROW.match(line)
        assert m, f"unparsed row {line!r} in\n{text}"
        rows.append((m[5], m[6], int(m[3]), int(m[4])))
    return rows


def test_once_shows_the_70_30_split(any_python, snakescope, tmp_path):
    truth_path = tmp_path / "truth.json"
    target = script("split_70_30.py")
    # The target runs for more CPU time than top samples: every sample is of
    # the steady heavy/light rounds or the start-up, whose split is known.
    result = run([snakescope, "top", "--once", "-d", str(ONCE_SECONDS), "-r", str(ONCE_RATE),
                  "-n", "50", "--", any_python.path, target, str(ONCE_SECONDS + 1),
                  str(truth_path)])
    assert result.returncode == 0, result.describe()
    text = result.stdout
    assert text.startswith("snakescope top: "), text
    rows = parse_once(text)
    names = [r[0] for r in rows if r[1] == target]
    assert names.index("heavy") < names.index("light"), f"heavy is hotter than light:\n{text}"
    # Sorted by total: among the functions of the workload's own rounds
    # (below main), heavy comes first.
    assert [n for n in names if n in ("heavy", "light", "work")][:1] in (["work"], ["heavy"])
    counts = {r[0]: r for r in rows if r[1] == target}
    heavy, light = counts["heavy"][3], counts["light"][3]
    truth = json.loads(truth_path.read_text())
    expected = expected_share(truth["cpu_share"], 0.7, "the target's own CPU split")
    n = heavy + light
    measured = assert_share(heavy, n, expected, "top --once: heavy's share of heavy+light")
    sigma = (expected * (1 - expected) / n) ** 0.5
    assert abs(measured - expected) <= max(0.03, K_SIGMA * sigma), (
        f"heavy {measured:.4f} vs {expected:.4f}: more than 3 pp off with {n} samples\n{text}")
    # The sampling rate achieved is printed, and no more than asked.
    m = re.search(r"sampled ([\d.]+) s at (\d+) Hz \(asked (\d+) Hz\)", text)
    assert m and int(m[3]) == ONCE_RATE and 0 < int(m[2]) <= ONCE_RATE * 1.05, text
    assert re.search(r"^\d+\s+MainThread\s+(gil|active|idle)\s+\d+", text, re.M), text


def test_once_with_pid_leaves_the_program_running(any_python, snakescope, spawn):
    target = spawn([any_python.path, script("idle_forever.py"), "120"])
    target.wait_for_line("ready")
    result = run([snakescope, "top", "--once", "-d", "0.5", "--pid", str(target.pid)])
    assert result.returncode == 0, result.describe()
    assert "target_loop" in result.stdout and f"pid {target.pid}" in result.stdout
    assert target.alive(), "top --once stopped the program it watched"


def test_top_needs_a_terminal_or_once(snakescope, any_python):
    result = run([snakescope, "top", "--pid", "1"])
    assert_error(result)
    assert "needs a terminal" in result.stderr and "--once" in result.stderr


# --------------------------------------------------------------------------
# The full-screen view, in a tmux session (the `tmux` fixture: conftest.py)
# --------------------------------------------------------------------------


def test_keys_save_and_terminal_restored_after_ctrl_c(any_python, snakescope, spawn, tmux,
                                                      tmp_path):
    target = spawn([any_python.path, script("split_70_30.py"), "300"])
    saved = tmp_path / "saved.json"
    before, after = tmp_path / "before", tmp_path / "after"
    top = (f"{shlex.quote(snakescope)} top --pid {target.pid} -w 5 "
           f"-o {shlex.quote(str(saved))}")
    tmux.send(f"cd {shlex.quote(str(tmp_path))}; stty -g > before; {top}; "
              f"echo status=$? > status; stty -g > after.part; mv after.part after", "Enter")
    tmux.wait_for(r"^\s*[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+heavy \(")
    tmux.wait_for(r"sorted by total, last 5 s, all threads")
    tmux.send("1")
    tmux.wait_for(r"sorted by self, last 5 s")
    # Sorted by self: `work` holds every sample of the rounds as its own.
    shown = tmux.wait_for(r"^\s*[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+work \(")
    first = next(line for line in shown.splitlines() if re.match(r"^\s*[\d.]+\s+[\d.]+\s", line))
    assert "work (" in first, shown
    tmux.send("2", "w")
    tmux.wait_for(r"sorted by total, since start")
    tmux.send("t")
    tmux.wait_for(rf"since start, thread {target.pid}")
    tmux.send("t")
    tmux.wait_for(r"since start, all threads")
    tmux.send("p")
    tmux.wait_for(r"\[PAUSED\]")
    tmux.send("p", "s")
    tmux.wait_for(rf"wrote {re.escape(str(saved))} \(\d+ samples\)")
    assert target.alive(), "the program stopped while watched"
    cap = Capture.load(saved)
    assert cap.meta["pid"] == target.pid and cap.total > 0
    assert cap.count(lambda s: s.has("heavy")) > 0
    tmux.send("C-c")
    deadline = time.monotonic() + 30
    while not after.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert after.exists(), f"top did not quit on Ctrl-C:\n{tmux.screen()}"
    assert (tmp_path / "status").read_text().strip() == "status=0"
    assert before.read_text() == after.read_text(), "the terminal's settings changed"
    assert target.alive(), "quitting top --pid stopped the program"


def test_a_command_that_ends_stays_on_screen_until_q(any_python, snakescope, tmux, tmp_path):
    top = f"{shlex.quote(snakescope)} top -- {shlex.quote(any_python.path)} {script('exit3.py')}"
    tmux.send(f"cd {shlex.quote(str(tmp_path))}; {top}; echo status=$? > status", "Enter")
    tmux.wait_for(r"the program ended \(exit status 3\)")
    time.sleep(1.5)  # longer than a refresh: the view stays
    assert not (tmp_path / "status").exists()
    tmux.wait_for(r"the program ended \(exit status 3\)")
    tmux.send("q")
    deadline = time.monotonic() + 30
    while not (tmp_path / "status").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (tmp_path / "status").read_text().strip() == "status=3", tmux.screen()
