"""`snakescope record`: what it measures, against ground truth known by construction.

Each test runs once per interpreter of the version matrix (the `python`
fixture below: the host's interpreters and those of the root filesystems that
scripts/pyroots.sh builds, support.interpreters.MATRIX). The
expected shares, stacks, thread sets and line numbers come from the target
scripts in tests/scripts/ (see their docstrings); shares are judged with the
statistical tolerance documented in support/loadgen.py, on a quiet machine and with
every core saturated (the `saturated` fixture).
"""

from __future__ import annotations

import glob
import json
import os
import signal
import time
from pathlib import Path

import pytest

from support import (
    MATRIX,
    MIN_SAMPLES,
    Capture,
    accepted_names,
    assert_clean_stderr,
    assert_error,
    assert_lines_inside_functions,
    assert_shapes,
    assert_share,
    attach,
    check_speedscope,
    check_svg,
    expected_share,
    marker_lines,
    module_constant,
    parse_collapsed,
    read_info,
    record,
    require_interpreter,
    run,
    script,
    wait_until_main_blocks,
)


@pytest.fixture(params=MATRIX, ids=[i.id for i in MATRIX])
def python(request):
    """Each interpreter of the version matrix in turn; skipped with a reason when absent."""
    return require_interpreter(request.param)


# Long enough for >= MIN_SAMPLES samples at the default 1000 Hz with room to
# spare (about 2000 expected), short enough to keep the suite quick. The share
# targets run for this much of their own CPU time (longer under load).
SECONDS = 2.0
# How long attach-mode recordings sample. The targets themselves run far
# longer (TARGET_SECONDS) and are killed afterwards, so a slow attach can never
# let a target's start-up or shutdown into the recording.
ATTACH_SECONDS = 1.5
TARGET_SECONDS = 120


def _split_share(cap: Capture, truth: dict, what: str) -> None:
    heavy = cap.count(lambda s: s.has("heavy"))
    either = cap.count(lambda s: s.has("heavy") or s.has("light"))
    expected = expected_share(truth["cpu_share"], 0.7, what)
    assert_share(heavy, either, expected,
                 f"{what} (the target measured CPU {truth['cpu_share']:.4f}, "
                 f"wall {truth['wall_share']:.4f})")


def test_split_70_30(python, snakescope, tmp_path):
    target = script("split_70_30.py")
    truth_path = tmp_path / "truth.json"
    command = [python.path, target, f"{SECONDS:g}", str(truth_path)]
    _, cap = record(snakescope, command, tmp_path / "split.json")

    meta = cap.meta
    assert meta["mode"] == "record"
    assert meta["command"] == command
    assert meta["python_version"] == python.version
    assert meta["requested_rate_hz"] == 1000.0
    assert meta["include_idle"] is False and meta["gil_only"] is False
    assert meta["exit_code"] == 0
    assert meta["ticks"] > 0

    # One thread, the main thread, whose tid is the process id.
    sampled = cap.samples_by_tid()
    assert list(sampled) == [meta["pid"]], f"threads with samples: {sampled}\n{cap.summary()}"

    # By construction heavy and light never share a stack, and each runs as
    # <module> -> main -> heavy|light [-> work].
    def shape_ok(s):
        fn = s.functions
        return (fn[:2] == ["<module>", "main"] and fn[2:3] in (["heavy"], ["light"])
                and fn[3:] in ([], ["work"])
                and all(f["file"] == target and f["qualname"] == f["function"]
                        for f in s.frames))
    assert_shapes([s for s in cap.stacks if s.has("heavy") or s.has("light")], shape_ok,
                  "stacks through heavy or light")
    assert_lines_inside_functions(cap, target)

    _split_share(cap, json.loads(truth_path.read_text()), "share of heavy among heavy+light")


def test_split_70_30_under_load(python, snakescope, saturated, tmp_path):
    # Every core busy: the target waits for a CPU most of the time, stopped
    # wherever it was preempted. The shares are CPU time all the same.
    truth_path = tmp_path / "truth.json"
    _, cap = record(snakescope, [python.path, script("split_70_30.py"), f"{SECONDS:g}",
                                 str(truth_path)], tmp_path / "split.json")
    _split_share(cap, json.loads(truth_path.read_text()),
                 f"share of heavy among heavy+light, {saturated} processes spinning")


def test_line_shares(python, snakescope, tmp_path):
    _check_line_shares(python, snakescope, tmp_path, "")


def test_line_shares_under_load(python, snakescope, saturated, tmp_path):
    _check_line_shares(python, snakescope, tmp_path, f", {saturated} processes spinning")


def _check_line_shares(python, snakescope, tmp_path, load: str) -> None:
    target = script("line_shares.py")
    truth_path = tmp_path / "truth.json"
    _, cap = record(snakescope, [python.path, target, f"{SECONDS:g}", str(truth_path)],
                    tmp_path / "lines.json")
    truth = json.loads(truth_path.read_text())["cpu_shares"]

    markers = marker_lines(target, r"#\s*share:\s*(\d+)")
    assert sorted(markers) == sorted(truth) and sum(map(int, markers)) == 100

    in_lines = [s for s in cap.stacks
                if s.leaf and s.leaf["function"] == "lines" and s.leaf["file"] == target]
    by_line: dict[int, int] = {}
    for s in in_lines:
        by_line[s.leaf["line"]] = by_line.get(s.leaf["line"], 0) + s.count
    n = sum(by_line.values())
    marked = sum(by_line.get(line, 0) for line in markers.values())
    # By construction all but ~0.1% of `lines`' time is on the four marked
    # lines (the rest: the clock reads between them, `return`, entry). A
    # profiler off by a line puts its samples on those unmarked lines.
    assert marked >= 0.9 * n, f"only {marked} of {n} samples in `lines` on marked lines: {by_line}"
    assert marked >= MIN_SAMPLES, f"{marked} samples on the marked lines\n{cap.summary()}"
    for share, line in markers.items():
        expected = expected_share(truth[share], int(share) / 100, f"line {line}")
        assert_share(by_line.get(line, 0), marked, expected,
                     f"share of line {line} (# share: {share}) among the marked lines of "
                     f"`lines`{load}")


def test_deep_recursion(python, snakescope, tmp_path):
    target = script("deep_recursion.py")
    depth = module_constant(target, "DEPTH")
    marks = marker_lines(target, r"#\s*marker:\s*([\w-]+)")
    _, cap = record(snakescope, [python.path, target, f"{SECONDS:g}"], tmp_path / "deep.json")

    with_leaf = [s for s in cap.stacks if s.has("leaf")]
    # A structural test: no share is computed, so any number of samples in
    # `leaf` will do (it spins there for all but the first few ms).
    assert with_leaf, f"no sample in leaf\n{cap.summary()}"
    # Every stack through `leaf` is, root first: <module>, DEPTH x recurse, leaf.
    # (Truncating deep stacks, or losing their root, shows up here.)
    for s in with_leaf:
        fn = s.functions
        assert fn[0] == "<module>", f"root is {fn[0]!r}, not <module> ({len(fn)} frames)"
        assert fn[-1] == "leaf", f"leaf frame is {fn[-1]!r}"
        recursion = fn[1:-1]
        assert recursion == ["recurse"] * depth, (
            f"expected {depth} recurse frames between <module> and leaf, got "
            f"{len(recursion)} frames: {sorted(set(recursion))}"
        )
        lines = [f["line"] for f in s.frames[1:-1]]
        assert lines == [marks["recursive-call"]] * (depth - 1) + [marks["leaf-call"]], \
            "recurse frames are not at the recursive call / leaf call lines, in order"
    assert_lines_inside_functions(cap, target)


def _many_threads_info(spawn, python, tmp_path, seconds):
    info = tmp_path / "threads.json"
    target = spawn([python.path, script("many_threads.py"), f"{seconds:g}", str(info)])
    target.wait_for_file(info)
    wait_until_main_blocks(target.pid)
    names = read_info(info)
    assert len(names) == 51 and target.pid in names
    return target, names


def test_many_threads_default_only_busy(python, snakescope, spawn, tmp_path):
    # Attach once the 49 idle threads are blocked and `busy` spins: from then
    # on, by construction, only `busy` runs (main is blocked in join).
    target, names = _many_threads_info(spawn, python, tmp_path, TARGET_SECONDS)
    _, cap = attach(snakescope, target.pid, tmp_path / "busy.json", seconds=ATTACH_SECONDS)
    assert target.alive(), "the target died while being recorded"
    assert cap.meta["pid"] == target.pid and cap.meta["include_idle"] is False

    by_name = {names[tid]: n for tid, n in cap.samples_by_tid().items() if tid in names}
    others = {tid: n for tid, n in cap.samples_by_tid().items() if names.get(tid) != "busy"}
    assert not others, (
        f"threads other than `busy` have samples without --idle: "
        f"{ {names.get(t, t): n for t, n in others.items()} }\n{cap.summary()}"
    )
    n = cap.total
    assert n > 0, f"{by_name}\n{cap.summary()}"
    in_spin = cap.count(lambda s: s.has("spin"))
    assert in_spin >= 0.97 * n, f"only {in_spin}/{n} samples in spin\n{cap.summary()}"


def test_many_threads_idle(python, snakescope, tmp_path):
    info = tmp_path / "threads.json"
    target = script("many_threads.py")
    _, cap = record(snakescope, [python.path, target, f"{SECONDS:g}", str(info)],
                    tmp_path / "idle.json", options=["--idle"])
    names = read_info(info)
    assert cap.meta["include_idle"] is True

    sampled = cap.samples_by_tid()
    assert len(sampled) >= 51, f"only {len(sampled)} threads sampled with --idle"
    missing = {names[t] for t in names if t not in sampled}
    assert not missing, f"threads never sampled with --idle: {sorted(missing)}"
    assert any(s.idle for s in cap.stacks), "no idle stack recorded with --idle"

    # Every thread carries its threading name (read from threading._active).
    for t in cap.threads:
        if t["tid"] in names:
            assert t["name"] in accepted_names(python, names[t["tid"]]), \
                f"thread {t['tid']} ({names[t['tid']]}) reported as {t['name']!r}"

    # The 49 workers are blocked for all but their few-millisecond start and
    # end, and busy spins for all of it (by construction: far beyond 90%).
    threads = {t["tid"]: t for t in cap.threads}
    for tid, name in names.items():
        t = threads[tid]
        if name == "busy":
            assert t["idle_samples"] <= 0.1 * t["samples"], f"busy thread counted idle: {t}"
        elif name != "MainThread":
            assert t["idle_samples"] >= 0.9 * t["samples"], f"{name} not counted idle: {t}"


def test_gil_only(python, snakescope, spawn, tmp_path):
    if python.free_threaded:
        pytest.skip(f"{python.id} has no GIL (test_gil_refused_without_a_gil)")
    info = tmp_path / "threads.json"
    target = spawn([python.path, script("gil.py"), f"{TARGET_SECONDS}", str(info)])
    target.wait_for_file(info)
    wait_until_main_blocks(target.pid)
    names = read_info(info)
    tid_of = {name: tid for tid, name in names.items()}
    _, cap = attach(snakescope, target.pid, tmp_path / "gil.json",
                    seconds=ATTACH_SECONDS, options=["--gil"])
    assert cap.meta["gil_only"] is True

    assert all(s.gil for s in cap.stacks), "a stack without the GIL in a --gil capture"
    sampled = cap.samples_by_tid()
    # Only gil-a and gil-b ever hold the GIL in the recorded window.
    assert set(sampled) <= {tid_of["gil-a"], tid_of["gil-b"]}, (
        f"samples from threads not holding the GIL: "
        f"{ {names.get(t, t): n for t, n in sampled.items()} }"
    )
    for s in cap.stacks:
        want = "spin_a" if s.tid == tid_of["gil-a"] else "spin_b"
        assert s.has(want), f"thread {names[s.tid]} sampled outside {want}: {s.functions}"

    a = cap.count(lambda s: s.has("spin_a"))
    ab = cap.count(lambda s: s.has("spin_a") or s.has("spin_b"))
    assert a > 0 and ab - a > 0, f"spin_a: {a}, spin_b: {ab - a}"
    # Symmetric threads under the GIL's fixed switch interval: 1/2 each.
    assert_share(a, ab, 0.5, "share of GIL samples in spin_a")


FREE_THREADED = [i for i in MATRIX if i.free_threaded]


@pytest.mark.parametrize("python", FREE_THREADED, ids=[i.id for i in FREE_THREADED],
                         indirect=True)
def test_gil_refused_without_a_gil(python, snakescope, spawn, tmp_path):
    # Launched: one error line naming the build, and the program still runs to its end.
    result = run([snakescope, "record", "--gil", "-o", str(tmp_path / "x.json"), "--",
                  python.path, script("exit3.py")])
    # (The program's own "to stderr" follows snakescope's two lines.)
    line, _ = assert_error(result, strict=False)
    assert "free-threaded" in line and "--gil" in line, line
    assert result.stderr.splitlines()[1].startswith("hint: "), result.describe()
    assert result.stdout == "to stdout\n", "the program did not run to its end"
    assert not (tmp_path / "x.json").exists()
    # Attached: the same line, and the target is left alone.
    target = spawn([python.path, script("idle_forever.py")])
    target.wait_for_line("ready")
    line, _ = assert_error(run([snakescope, "record", "--gil", "--pid", str(target.pid),
                                "--duration", "1", "-o", str(tmp_path / "y.json")]))
    assert "free-threaded" in line, line
    assert target.alive()


@pytest.mark.parametrize("python", FREE_THREADED, ids=[i.id for i in FREE_THREADED],
                         indirect=True)
def test_free_threaded_capture_says_so(python, snakescope, tmp_path):
    result, cap = record(snakescope, [python.path, script("split_70_30.py"), "0.5"],
                         tmp_path / "ft.json")
    assert cap.meta.get("free_threaded") is True, cap.meta
    assert not any(s.gil for s in cap.stacks), "a stack holds the GIL of a free-threaded build"
    assert "GIL: n/a" in result.stderr, result.describe()


def test_generators_and_coroutines(python, snakescope, tmp_path):
    target = script("gen_async.py")
    _, cap = record(snakescope, [python.path, target, f"{SECONDS:g}"], tmp_path / "gen.json")
    n = cap.total
    assert n > 0, cap.summary()

    produce = [s for s in cap.stacks if s.has("produce")]
    crunch = [s for s in cap.stacks if s.has("crunch")]
    # Each runs for half the time by construction; a tenth is a presence test
    # that cannot fail by chance, yet fails if the frames are not found.
    assert sum(s.count for s in produce) >= 0.1 * n, f"produce missing\n{cap.summary()}"
    assert sum(s.count for s in crunch) >= 0.1 * n, f"crunch missing\n{cap.summary()}"

    # A running generator's caller is the loop that consumes it.
    assert_shapes(produce, lambda s: s.functions == ["<module>", "main", "consume", "produce"],
                  "stacks through produce")

    # A coroutine runs below asyncio.run()'s event loop; crunch is the leaf,
    # or is inside `await asyncio.sleep(0)`.
    def crunch_ok(s):
        fn = s.functions
        i = fn.index("crunch")
        return fn[:2] == ["<module>", "main"] and "run" in fn[2:i] \
            and set(fn[i + 1:]) <= {"sleep", "__sleep0"}
    assert_shapes(crunch, crunch_ok, "stacks through crunch")
    assert_lines_inside_functions(cap, target)


def test_non_ascii_names(python, snakescope, tmp_path):
    target = script("ünïcode_名前.py")
    func = "計算_функция"
    out = tmp_path / "ünï.json"
    _, cap = record(snakescope, [python.path, target, "1.5"], out)
    frames = [f for f in cap.frames if f["function"] == func]
    assert frames, f"no frame named {func!r}: {sorted({f['function'] for f in cap.frames})}"
    for f in frames:
        assert f["file"] == target, f"file {f['file']!r} != {target!r}"
        assert f["qualname"] == func
    # The raw bytes are UTF-8 (JSON escapes \\uXXXX would be fine too).
    raw = out.read_bytes().decode("utf-8")
    assert func in raw or json.dumps(func) in raw
    assert cap.count(lambda s: s.has(func)) > 0, cap.summary()


def test_exit_status_and_output_passthrough(python, snakescope, tmp_path):
    out = tmp_path / "exit3.json"
    result, cap = record(snakescope, [python.path, script("exit3.py")], out, expect_status=3)
    assert result.stdout == "to stdout\n", "stdout is not exactly the target's"
    assert "to stderr" in result.stderr
    assert cap.meta["exit_code"] == 3


def test_quiet_prints_only_the_targets_output(python, snakescope, tmp_path):
    out = tmp_path / "exit3.json"
    result, cap = record(snakescope, [python.path, script("exit3.py")], out,
                         options=["--quiet"], expect_status=3)
    assert result.stdout == "to stdout\n"
    assert result.stderr == "to stderr\n", "--quiet still printed something"
    assert cap.meta["exit_code"] == 3


def test_summary_goes_to_stderr(python, snakescope, tmp_path):
    result, _ = record(snakescope, [python.path, script("split_70_30.py"), "0.5"],
                       tmp_path / "s.json")
    assert result.stdout == "", "snakescope wrote to stdout"
    assert result.stderr.strip(), "no summary on stderr"


def test_high_rate(python, snakescope, tmp_path):
    # No pass/fail on the achieved rate (that is timing); the split must hold.
    truth_path = tmp_path / "truth.json"
    _, cap = record(snakescope, [python.path, script("split_70_30.py"), "1", str(truth_path)],
                    tmp_path / "fast.json", options=["--rate", "10000"])
    assert cap.meta["requested_rate_hz"] == 10000.0
    assert cap.meta["ticks"] > 0
    _split_share(cap, json.loads(truth_path.read_text()),
                 "share of heavy among heavy+light at 10 kHz")


def test_attach_with_duration(python, snakescope, spawn, tmp_path):
    target = spawn([python.path, script("idle_forever.py")])
    target.wait_for_line("ready")
    _, cap = attach(snakescope, target.pid, tmp_path / "pid.json", seconds=1.0)
    assert target.alive(), "recording with --pid stopped or killed the target"
    assert cap.meta["pid"] == target.pid
    assert cap.meta["exit_code"] is None
    assert cap.samples_by_tid().keys() == {target.pid}
    n = cap.total
    # By construction the only thread is always in target_loop (a leaf).
    in_loop = cap.count(lambda s: s.leaf is not None and s.leaf["function"] == "target_loop")
    assert n > 0 and in_loop == n, cap.summary()


def _shell_status(returncode: int) -> int:
    """Exit status as a shell shows it: death by signal N reads 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def test_ctrl_c(python, snakescope, spawn, tmp_path):
    target = script("idle_forever.py")

    # What plain python does when Ctrl-C hits its process group.
    plain = spawn([python.path, target])
    plain.wait_for_line("ready")
    time.sleep(0.5)  # (the same situation as below: Ctrl-C inside target_loop)
    plain.signal_group(signal.SIGINT)
    plain_result = plain.finish()
    assert "KeyboardInterrupt" in plain_result.stderr

    out = tmp_path / "ctrl-c.json"
    prof = spawn([snakescope, "record", "-o", str(out), "--", python.path, target])
    prof.wait_for_line("ready")
    time.sleep(0.5)  # let target_loop be sampled before the Ctrl-C
    prof.signal_group(signal.SIGINT)
    result = prof.finish()
    assert _shell_status(result.returncode) == _shell_status(plain_result.returncode), (
        f"status {result.returncode}, plain python's is {plain_result.returncode}"
        f"{result.describe()}"
    )
    assert "panicked" not in result.stderr and "error:" not in result.stderr, result.describe()
    assert "KeyboardInterrupt" in result.stderr, "the target's traceback did not pass through"
    assert out.is_file(), f"no capture written after Ctrl-C{result.describe()}"
    cap = Capture.load(out)
    assert cap.meta["exit_code"] == plain_result.returncode
    assert cap.count(lambda s: s.has("target_loop")) > 0, cap.summary()


# ---- output files (not interpreter specific: one interpreter is enough) ----

FORMATS_BY_NAME = [
    ("out.svg", [], "flamegraph"),
    ("out.speedscope.json", [], "speedscope"),
    ("out.txt", [], "collapsed"),
    ("out.collapsed", [], "collapsed"),
    ("out.folded", [], "collapsed"),
    ("out.json", [], "json"),
    # --format over a name of the same kind (JSON); a name of another kind
    # (override.svg with collapsed text) is refused: test_outputs.py.
    ("override.json", ["--format", "speedscope"], "speedscope"),
    ("override.out", ["--format", "speedscope"], "speedscope"),
]


def check_output(path: Path, kind: str) -> None:
    text = path.read_text(encoding="utf-8")
    if kind == "flamegraph":
        check_svg(text, ["heavy", "light", "work"])
    elif kind == "speedscope":
        check_speedscope(json.loads(text))
    elif kind == "collapsed":
        stacks = parse_collapsed(text)
        assert any("heavy (" in k for k in stacks) and any("light (" in k for k in stacks)
    elif kind == "json":
        cap = Capture(json.loads(text))
        assert cap.count(lambda s: s.has("heavy")) > 0
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("name, options, kind", FORMATS_BY_NAME,
                         ids=[n for n, _, _ in FORMATS_BY_NAME])
def test_output_format(any_python, snakescope, tmp_path, name, options, kind):
    out = tmp_path / name
    result = run([snakescope, "record", "-o", str(out), *options, "--",
                  any_python.path, script("split_70_30.py"), "1"])
    assert result.returncode == 0, result.describe()
    assert_clean_stderr(result)
    assert os.listdir(tmp_path) == [name], f"files written: {os.listdir(tmp_path)}"
    check_output(out, kind)


def test_default_output_name(any_python, snakescope, tmp_path):
    result = run([snakescope, "record", "--", any_python.path, script("split_70_30.py"), "1"],
                 cwd=tmp_path)
    assert result.returncode == 0, result.describe()
    assert_clean_stderr(result)
    written = glob.glob(str(tmp_path / "snakescope-*.svg"))
    assert len(written) == 1, f"files written: {os.listdir(tmp_path)}"
    assert Path(written[0]).name[len("snakescope-"):-len(".svg")].isdigit()
    check_output(Path(written[0]), "flamegraph")
