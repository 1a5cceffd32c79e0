"""`snakescope run --live`: `top`'s full-screen view of a program under the
in-process agent, fed from the captures the agent writes every second, with
the heap panel that only the agent can fill. Driven through tmux.

Ground truth: live_memory.py keeps one CPU busy in a generator expression
and holds one more 1 MB bytearray every 0.1 s on its line marked `# grows`,
so that line is the allocation site holding the most live memory, and the
heap grows by about 10 MB a second.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from support import REPO, assert_error, script, target_env
from support.processes import run as run_command


def grows_line() -> int:
    lines = Path(script("live_memory.py")).read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.endswith("# grows"))


def command(snakescope: str, python: str, *rest: str) -> str:
    env = f"PYTHONPATH={shlex.quote(str(REPO / 'python'))}"
    return " ".join([env, shlex.quote(snakescope), "run", "--live", "--python",
                     shlex.quote(python), *map(shlex.quote, rest)])


def test_the_view_shows_functions_and_heap_and_ends_with_the_program(
        any_python, snakescope, tmux, tmp_path):
    stop, out = tmp_path / "stop", tmp_path / "out.json"
    run = command(snakescope, any_python.path, "-o", str(out), script("live_memory.py"), str(stop))
    tmux.send(f"cd {shlex.quote(str(tmp_path))}; stty -g > before; {run}; "
              f"echo status=$? > status; stty -g > after.part; mv after.part after", "Enter")
    # The hottest function, and the heap panel with the growing line first.
    tmux.wait_for(r"^\s*[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+<genexpr> \(")
    shown = tmux.wait_for(r"^HEAP\s+[\d.]+ MiB now, peak [\d.]+ MiB")
    sites = [line for line in shown.splitlines() if re.match(r"^\s*[\d.]+ \S+ live\s", line)]
    assert sites and f"live_memory.py:{grows_line()})" in sites[0], shown
    heap = lambda text: float(re.search(r"^HEAP\s+([\d.]+) MiB now", text, re.M)[1])  # noqa: E731
    first = heap(shown)
    later = tmux.wait_for(rf"^HEAP\s+(?!{re.escape(str(first))} MiB)[\d.]+ MiB now")
    assert heap(later) > first, (first, later)
    assert re.search(rf"Python {re.escape(any_python.version)}", later), later
    # `s` writes the capture so far (the agent's), without stopping.
    tmux.send("s")
    tmux.wait_for(r"wrote snakescope-top-\d+-1\.json \(\d+ samples\)")
    snap = json.loads(next(tmp_path.glob("snakescope-top-*-1.json")).read_text())
    assert snap["meta"]["mode"] == "run" and snap["memory"]["sites"]
    stop.touch()
    tmux.wait_for(r"the program ended \(exit status 0\)")
    tmux.send("q")
    tmux.wait_for_file(tmp_path / "after")
    assert (tmp_path / "status").read_text().strip() == "status=0"
    assert (tmp_path / "before").read_text() == (tmp_path / "after").read_text()
    final = json.loads(out.read_text())  # the profile is written as without --live
    assert final["meta"]["exit_code"] == 0 and final["memory"]["sites"]


def test_quitting_while_it_runs_interrupts_it_as_ctrl_c_would(any_python, snakescope, tmux,
                                                              tmp_path):
    run = command(snakescope, any_python.path, "-o", str(tmp_path / "out.json"),
                  script("live_memory.py"), str(tmp_path / "never"))
    # In a script for sh: an interactive bash would end the whole command
    # line when its command dies of SIGINT, before writing the status.
    (tmp_path / "steps.sh").write_text(
        f"stty -g > before\n{run}\necho status=$? > status\nstty -g > after.part\nmv after.part after\n")
    tmux.send(f"cd {shlex.quote(str(tmp_path))}; sh steps.sh", "Enter")
    tmux.wait_for(r"^HEAP\s+[\d.]+ MiB now")
    tmux.send("C-c")
    tmux.wait_for_file(tmp_path / "after")
    # SIGINT: Python's KeyboardInterrupt, which ends it with status 130 in a shell.
    assert (tmp_path / "status").read_text().strip() == "status=130", tmux.screen()
    assert (tmp_path / "before").read_text() == (tmp_path / "after").read_text()


def test_live_needs_a_terminal_and_no_exact(snakescope, any_python, tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("pass\n")
    base = [snakescope, "run", "--python", any_python.path, "--live"]
    error, hint = assert_error(run_command([*base, str(prog)], env=target_env()))
    assert "needs a terminal" in error and "--live-web" in hint
    error, hint = assert_error(run_command([*base, "--exact", str(prog)], env=target_env()))
    assert "--live" in error and "--exact" in error and hint
