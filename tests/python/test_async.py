"""`record --async`: stacks and a task table that follow asyncio's tasks.

tests/scripts/async_tasks.py runs three tasks, `alpha`, `beta` and
`gamma`, that burn 1, 2 and 3 units of thread CPU time per round and then
await a sleep on a line marked `# await-NAME`. So, by construction:

- the CPU samples under each task's root frame (`<task alpha: alpha()>`)
  are 1/6, 2/6 and 3/6 of the samples under any task root, and they are
  the task table's running counts;
- a task suspended on a future is suspended at its marked `await` line.

`snakescope run` follows the tasks by default and gives the same results
(not with `--no-async`). `dump --async` of the same program, held in its sleeps, shows the four
tasks (the main one and the three) each at its own `await` line; of
tests/scripts/async_threads.py, the tasks of the main thread, of another
thread's event loop and of a thread that has ended (on 3.14+, three lists).

Tolerances are binomial: 4 standard deviations of a share estimated from
the number of samples (instants) counted, so a correct profile fails about
once in 15,000 runs and a split off by a few points does not pass.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from support import Capture, Interpreter, assert_error, record, require_interpreter, run, script, target_env
from support.interpreters import OLDER, ROOTED, SUPPORTED

TASKS = {"alpha": 1, "beta": 2, "gamma": 3}
SCRIPT = script("async_tasks.py")
THREADS_SCRIPT = script("async_threads.py")
# Rounds and unit: 40 rounds of 6 units of 8 ms, about 2 s of CPU a run.
ROUNDS, UNIT_MS = "40", "8"
RATE = "2000"
# The asyncio versions: the registries of 3.8-3.11 and 3.12-3.13, the task
# lists of 3.14+ (headed in the thread states), and the layouts of 3.8-3.10
# (frame objects) and 3.11+ (frames in the coroutine).
ASYNC_IDS = {"pyenv-3.8", "pyenv-3.10", "pyenv-3.11", "pyenv-3.12", "pyenv-3.13", "trixie-3.13", "sid-3.14", "sid-3.15"}
ASYNC_MATRIX = tuple(i for i in SUPPORTED + OLDER + ROOTED if i.id in ASYNC_IDS)
# Thousands of tasks: the sets of 3.8-3.11 and 3.12-3.13, and 3.14's lists.
MANY_IDS = {"pyenv-3.8", "pyenv-3.12", "sid-3.14"}


@pytest.fixture(params=ASYNC_MATRIX, ids=[i.id for i in ASYNC_MATRIX])
def python(request: pytest.FixtureRequest) -> Interpreter:
    return require_interpreter(request.param)


def await_lines(path: str = SCRIPT, names: tuple[str, ...] = (*TASKS, "main")) -> dict[str, int]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {name: next(i + 1 for i, line in enumerate(lines) if f"# await-{name}" in line) for name in names}


def tolerance(share: float, n: int) -> float:
    return 4 * math.sqrt(share * (1 - share) / n)


def check_shares(counts: dict[str, int], what: str) -> None:
    total = sum(counts.values())
    assert total > 0, f"no {what}"
    whole = sum(TASKS.values())
    for name, units in TASKS.items():
        expected = units / whole
        got = counts.get(name, 0) / total
        tol = tolerance(expected, total)
        assert abs(got - expected) <= tol, (
            f"{what}: {name} has {got:.3f} of {total}, expected {expected:.3f} ± {tol:.3f}: {counts}"
        )


def root_counts(capture: Capture) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in capture.stacks:
        root = s.frames[0]["function"] if s.frames else ""
        for name in TASKS:
            if root == f"<task {name}: {name}()>":
                counts[name] = counts.get(name, 0) + s.count
    return counts


def test_tasks_share_their_running_time_and_wait_at_their_awaits(
    snakescope: str, python: Interpreter, tmp_path: Path
) -> None:
    result, capture = record(
        snakescope,
        [python.path, SCRIPT, ROUNDS, UNIT_MS],
        tmp_path / "async.json",
        options=["--async", "-r", RATE, "-q"],
    )
    assert "async_tasks done" in result.stdout
    check_tasks(capture)


@pytest.mark.parametrize("python", [i for i in ASYNC_MATRIX if i.id in MANY_IDS], ids=lambda i: i.id,
                         indirect=True)
def test_thousands_of_waiting_tasks_keep_the_split(snakescope: str, python: Interpreter, tmp_path: Path) -> None:
    """With 3,000 more tasks waiting, reading every task at every tick no
    longer fits a tick: the tasks are then read every few ticks and the
    ticks between use the last reading (asyncio.rs, SCAN_SHARE). The split,
    the table and the awaits hold all the same."""
    result, capture = record(
        snakescope,
        [python.path, SCRIPT, ROUNDS, UNIT_MS, "0", "3000"],
        tmp_path / "many.json",
        options=["--async", "-r", RATE, "-q"],
    )
    assert "async_tasks done" in result.stdout
    table = capture.data["tasks"]["tasks"]
    check_tasks(capture, stride=math.ceil(len(table) / 64))
    assert sum(t["coroutine"].endswith("idler") for t in table) > 2000, len(table)


def test_run_follows_tasks_by_default(snakescope: str, python: Interpreter, tmp_path: Path) -> None:
    """`run` (the in-process agent) follows tasks unless told `--no-async`."""
    import snakescope as package

    env = target_env({"SNAKESCOPE_PACKAGE": os.path.dirname(os.path.abspath(package.__file__))})
    out = tmp_path / "run.json"
    result = run(
        [
            snakescope,
            "run",
            "--python",
            python.path,
            "-q",
            "-r",
            RATE,
            "--memory",
            "off",
            "-o",
            str(out),
            SCRIPT,
            ROUNDS,
            UNIT_MS,
        ],
        env=env,
    )
    assert result.returncode == 0, result.describe()
    assert "async_tasks done" in result.stdout
    check_tasks(Capture.load(out))
    plain = tmp_path / "plain.json"
    result = run(
        [
            snakescope,
            "run",
            "--python",
            python.path,
            "-q",
            "--no-async",
            "--memory",
            "off",
            "-o",
            str(plain),
            SCRIPT,
            "2",
            "1",
        ],
        env=env,
    )
    assert result.returncode == 0, result.describe()
    capture = Capture.load(plain)
    assert "tasks" not in capture.data and not root_counts(capture), capture.summary()


def check_tasks(capture: Capture, stride: int = 1) -> None:
    """The capture's task roots, task table and awaits against the script's
    construction. `stride`: each suspended task's frame is read every that
    many ticks and counts that many (asyncio.rs, MAX_WAITING)."""
    # The flame graph's roots: CPU samples under each task's root frame.
    check_shares(root_counts(capture), "CPU samples under the task roots")
    # Under a root is the task's own coroutine, then what it called.
    for s in capture.stacks:
        if s.frames and s.frames[0]["file"] == "<asyncio>" and len(s.frames) > 1:
            name = s.frames[0]["function"].split(":")[0][len("<task ") :]
            if name in TASKS:
                assert s.frames[1]["function"] == name, capture.summary()
    table = {t["name"]: t for t in capture.data["tasks"]["tasks"]}
    assert set(TASKS) <= set(table), table.keys()
    # The table's running counts are those samples.
    assert {n: table[n]["running"] for n in TASKS} == root_counts(capture), table
    lines = await_lines()
    frames = capture.frames
    for name in (*TASKS, "main"):
        task = table[name] if name in table else next(t for t in table.values() if t["coroutine"] == "main")
        assert task["coroutine"].endswith(name), task
        on_future = [a for a in task["awaits"] if a["awaiting"]]
        waited = sum(a["count"] for a in on_future)
        at_line = sum(
            a["count"]
            for a in on_future
            if frames[a["frames"][-1]]["line"] == lines[name] and frames[a["frames"][-1]]["function"] == name
        )
        assert waited > 0, task
        # A frame read while its task resumes can show the next line: at
        # most a few of thousands of reads (two, of the few dozen when
        # each read counts `stride`).
        assert waited - at_line <= 0.01 * waited + 2 * (stride - 1), (name, lines[name], task["awaits"])
    # The main task waits on gather(): always, and never runs after the start.
    main = next(t for t in table.values() if t["coroutine"] == "main")
    assert main["waiting"] > 0.9 * capture.data["tasks"]["ticks"], main


def test_dump_async_shows_each_task_at_its_await(snakescope: str, python: Interpreter, spawn) -> None:
    # Two rounds of 1 ms units, each sleep held 30 s: the tasks sit in their sleeps.
    target = spawn([python.path, SCRIPT, "2", "1", "30"])
    target.wait_for_line("ready")
    result = run([snakescope, "dump", "--async", "--pid", str(target.pid)])
    assert result.returncode == 0, result.describe()
    assert target.alive(), "dump stopped or killed the target"
    text = result.stdout.split("\nasyncio tasks (")[-1]
    assert text.startswith("4)"), result.stdout
    lines = await_lines()
    for name in TASKS:
        want = f"{name} {name}() at {SCRIPT}:{lines[name]} awaiting _asyncio.Future"
        assert want in text, f"{want!r} not in:\n{text}"
    main = f"main() at {SCRIPT}:{lines['main']} awaiting _GatheringFuture"
    assert main in text, text


def test_dump_async_finds_the_tasks_of_every_thread(snakescope: str, python: Interpreter, spawn) -> None:
    target = spawn([python.path, THREADS_SCRIPT, "30"])
    target.wait_for_line("ready")
    result = run([snakescope, "dump", "--async", "--pid", str(target.pid)])
    assert result.returncode == 0, result.describe()
    text = result.stdout.split("\nasyncio tasks (")[-1]
    assert text.startswith("3)"), result.stdout
    for name, line in await_lines(THREADS_SCRIPT, ("main", "threaded", "left")).items():
        want = f"{name} {name}() at {THREADS_SCRIPT}:{line} awaiting _asyncio.Future"
        assert want in text, f"{want!r} not in:\n{text}"


def test_dump_async_refuses_json(snakescope: str) -> None:
    # Refused before any process is looked at.
    result = run([snakescope, "dump", "--async", "--json", "--pid", "1"])
    assert_error(result)
    assert "--json" in result.stderr
