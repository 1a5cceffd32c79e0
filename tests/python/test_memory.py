"""Memory tracking under `snakescope run` against ground truth: programs
that allocate known amounts on known lines (tests/scripts/mem_known.py), a
known peak, one deliberate leak, freed memory, threads, a fork, and the
heap census's checkpoint diff.

Exact mode (`--memory exact`) must match sizes exactly up to what Python
itself adds (object headers, list storage: 2 % covers them, they are
computed below from sys.getsizeof). Sampled mode gives unbiased estimates:
its tolerance is 4 standard deviations of the estimator for the sizes
involved (see `_sampled_tolerance`)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support import RECORD_TIMEOUT, REPO, require_interpreter, script, target_env, validate_capture
from support.interpreters import OLDER, SUPPORTED

MB = 1024 * 1024


def _run(snakescope, tmp_path: Path, target: str, *args: str, env: dict | None = None, python=sys.executable):
    out = tmp_path / "mem.json"
    proc = subprocess.run([snakescope, "run", "--python", python, "-q", "-o", str(out), *args, target],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path,
                          env=target_env({"PYTHONPATH": str(REPO / "python"), **(env or {})}))
    assert proc.returncode == 0, proc.stderr
    cap = json.loads(out.read_text())
    validate_capture(cap)
    return proc, cap


def _by_line(cap: dict, key: str = "allocated_bytes", source: str | None = None) -> dict[tuple[str, int], int]:
    """Bytes per (file name, line), inclusive: every line on a site's stack counts it once."""
    out: dict[tuple[str, int], int] = {}
    for site in cap["memory"]["sites"]:
        if source and site["source"] != source:
            continue
        seen = set()
        for i in site["frames"]:
            f = cap["frames"][i]
            k = (os.path.basename(f["file"]), f["line"])
            if k not in seen:
                seen.add(k)
                out[k] = out.get(k, 0) + site[key]
    return out


def _line_of(path: str, marker: str) -> int:
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if marker in line:
            return n
    raise AssertionError(f"{marker!r} not in {path}")


def _sizes(stdout: str) -> tuple[int, int, int, int]:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("sizes "))
    return tuple(int(v) for v in line.split()[1:])


def _numpy_present(python: str = sys.executable) -> bool:
    return subprocess.run([python, "-c", "import numpy"], capture_output=True,
                          env=target_env()).returncode == 0


# The ground-truth tests run on every interpreter of `run`'s matrix (the
# `python` fixture): the hooks are the same, the interpreter's allocation
# paths are not.

def test_exact_mode_known_lines(snakescope, python, tmp_path):
    target = script("mem_known.py")
    proc, cap = _run(snakescope, tmp_path, target, "--memory", "exact", env={"MEM_BIG_MB": "64"},
                     python=python.path)
    ba4000, b10000, list5000, list2000 = _sizes(proc.stdout)
    lines = _by_line(cap)
    name = "mem_known.py"
    big = 64 * MB

    def near(line_marker, expected, rel):
        got = lines.get((name, _line_of(target, line_marker)), 0)
        assert abs(got - expected) <= rel * expected, (line_marker, got, expected)

    near("return bytearray(BIG)", big, 0.01)
    if _numpy_present(python.path):
        near("return np.ones(BIG // 8)", big, 0.01)
        native = _by_line(cap, source="native")
        assert native.get((name, _line_of(target, "return np.ones(BIG // 8)")), 0) >= big  # a native allocation
    # Lines whose allocations are exactly the objects they create: 2 % (the
    # sizes are sys.getsizeof's, which is what the allocator was asked for).
    near("a[i] = bytearray(4000)", 5000 * ba4000, 0.02)
    near("b[i] = bytes(10000)", 2000 * b10000, 0.02)
    # Four threads, each 20 x 1 MiB (plus bytearray headers): the line sums them.
    near("chunks = [bytearray(MB)", 4 * 20 * MB, 0.01)
    # The leak: 64 MiB still alive at the end, on its line; everything the
    # program itself allocated elsewhere was freed (allowing Python's
    # interned constants: under 1 MiB).
    end = _by_line(cap, "end_bytes")
    leak_line = (name, _line_of(target, "LEAK.append"))
    assert abs(end[leak_line] - 64 * MB) <= 0.01 * 64 * MB
    for marker in ("return bytearray(BIG)", "a[i] = bytearray(4000)", "b[i] = bytes(10000)", "chunks = [bytearray(MB)"):
        k = (name, _line_of(target, marker))
        assert end.get(k, 0) < MB, (marker, end.get(k))
        assert _by_line(cap, "freed_bytes")[k] >= 0.98 * lines[k]  # freed shows as freed
    # The peak: at most one 64 MiB block was alive at a time before the leak,
    # then the leak; the import of numpy and interpreter data add a few MiB.
    peak = cap["memory"]["peak_bytes"]
    assert 64 * MB <= peak <= 64 * MB * 1.02 + 8 * MB, peak / MB


def test_exact_mode_millions_of_live_blocks_all_freed(snakescope, tmp_path):
    """9 million objects alive at once, then freed: every free is seen.
    Frees are matched to tracked blocks through a filter of 32 Ki counters;
    9 M live blocks put ~275 in each, past a one-byte counter (a wrapped
    counter that reads 0 hides its blocks' frees: they would stay "live",
    reported as leaked). Ground truth: the line allocates 9 M ints and
    frees them all before the program ends."""
    n = 9_000_000
    program = tmp_path / "many.py"
    program.write_text(textwrap.dedent(f"""\
        import sys
        big = [i for i in range(10**7, 10**7 + {n})]  # ints: one block each
        print("size", sys.getsizeof(big[0]))
        del big
        print("done")
    """))
    proc, cap = _run(snakescope, tmp_path, str(program), "--memory", "exact")
    size = int(proc.stdout.split()[1])
    line = ("many.py", 2)
    allocated = _by_line(cap)[line]
    # The ints, plus the list's storage as it grows (each resize a new block).
    assert allocated >= n * size, allocated
    assert _by_line(cap, "freed_bytes")[line] == allocated
    assert _by_line(cap, "end_bytes").get(line, 0) == 0


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_numpy_array_on_its_line(snakescope, tmp_path, mode):
    """A native allocation (numpy's data buffer, through malloc) is
    attributed to the Python line that made the array. The .venv has numpy
    (the Makefile installs it for the tests)."""
    assert _numpy_present(), f"numpy is not installed in {sys.executable} (`make develop` installs it)"
    target = script("mem_known.py")
    _, cap = _run(snakescope, tmp_path, target, "--memory", mode, env={"MEM_BIG_MB": "512"})
    key = ("mem_known.py", _line_of(target, "return np.ones(BIG // 8)"))
    big = 512 * MB
    assert abs(_by_line(cap).get(key, 0) - big) <= 0.01 * big
    assert _by_line(cap, source="native").get(key, 0) >= 0.99 * big, "not seen as a native allocation"


def _sampled_tolerance(total_bytes: float, block: float, interval: float) -> float:
    """4 standard deviations of the sampled estimate of `total_bytes` made of
    blocks of `block` bytes: each block is kept with p = 1 - exp(-block/R)
    and weighted 1/p, so the variance is n * block^2 * (1 - p) / p."""
    p = -math.expm1(-block / interval)
    n = total_bytes / block
    return 4 * math.sqrt(n * block * block * (1 - p) / p)


def test_sampled_mode_estimates_are_unbiased(snakescope, python, tmp_path):
    target = script("mem_known.py")
    proc, cap = _run(snakescope, tmp_path, target, env={"MEM_BIG_MB": "512"}, python=python.path)
    assert cap["memory"]["mode"] == "sampled"
    interval = cap["memory"]["sample_interval_bytes"]
    ba4000, b10000, _, _ = _sizes(proc.stdout)
    lines = _by_line(cap)
    name = "mem_known.py"
    big = 512 * MB
    # Blocks far above the interval are always sampled, at their size: 1 %.
    got = lines[(name, _line_of(target, "return bytearray(BIG)"))]
    assert abs(got - big) <= 0.01 * big
    if _numpy_present(python.path):
        got = lines[(name, _line_of(target, "return np.ones(BIG // 8)"))]
        assert abs(got - big) <= 0.01 * big
    for marker, n, size in (("a[i] = bytearray(4000)", 5000, ba4000), ("b[i] = bytes(10000)", 2000, b10000)):
        expected = n * size
        got = lines[(name, _line_of(target, marker))]
        tol = _sampled_tolerance(expected, size, interval)
        assert abs(got - expected) <= tol, (marker, got, expected, tol)


def _small_blocks_check(proc, cap, target: str, expect_hooks: str) -> None:
    """tests/scripts/mem_small.py's known fates, in a sampled capture."""
    words = next(ln for ln in proc.stdout.splitlines() if ln.startswith("size ")).split()
    size, hooks = int(words[1]), words[3]
    assert hooks == expect_hooks
    n = 400_000
    name = "mem_small.py"
    allocated, freed, end = _by_line(cap), _by_line(cap, "freed_bytes"), _by_line(cap, "end_bytes")
    kept = (name, _line_of(target, "out[i] = bytes(100)"))
    gone = (name, _line_of(target, "keep.append(bytes(100))"))
    interval = cap["memory"]["sample_interval_bytes"]
    tol = _sampled_tolerance(n * size, size, interval)
    # The kept blocks: estimated within 4 sd, and every sampled one alive.
    assert abs(allocated[kept] - n * size) <= tol, (allocated[kept], n * size, tol)
    assert end[kept] == allocated[kept] and freed.get(kept, 0) == 0
    # The freed ones (plus the list's storage as it grows): every sampled
    # block's free seen — one missed would leave its weight alive.
    assert allocated[gone] >= n * size - tol
    assert freed[gone] == allocated[gone] and end.get(gone, 0) == 0


def test_sampled_small_blocks_frees_seen(snakescope, python, tmp_path):
    """Sampling over pymalloc hooks allocations only: a sampled small block
    is made outside pymalloc's pools, and its free is found in the raw
    domain. Ground truth: one line's 400,000 small blocks are all freed,
    another's all kept — the estimates must show exactly that (freed equal
    to allocated, alive at the end zero; and the reverse), on every
    interpreter. A free-threaded build (mimalloc) keeps the full hooks."""
    target = script("mem_small.py")
    proc, cap = _run(snakescope, tmp_path, target, python=python.path)
    assert cap["memory"]["mode"] == "sampled"
    _small_blocks_check(proc, cap, target, "full" if python.free_threaded else "sampled")


@pytest.mark.parametrize("allocator", ["malloc", "debug", "pymalloc_debug"])
def test_sampled_with_another_allocator(snakescope, tmp_path, allocator):
    """Under PYTHONMALLOC=malloc (frees go straight to free()) or the debug
    allocators (headers around each block), the check at installation finds
    that a block's free does not come back through the raw domain as it was
    handed out, and the full hooks are used: every free is still seen."""
    target = script("mem_small.py")
    proc, cap = _run(snakescope, tmp_path, target, env={"PYTHONMALLOC": allocator})
    _small_blocks_check(proc, cap, target, "full")


@pytest.mark.parametrize("args", [["--memory", "exact"], ["--memory-interval", "4096"]])
def test_exact_mode_and_small_intervals_use_the_full_hooks(snakescope, tmp_path, args):
    """Exact mode sees every free: the full hooks, whatever the allocator.
    So do intervals under 64 KiB, where the sampled hooks' larger blocks
    (513 bytes per live sampled small block) would add over 1 % to the
    program's memory."""
    target = script("mem_small.py")
    proc, cap = _run(snakescope, tmp_path, target, *args, env={"MEM_SMALL_N": "1000"})
    assert proc.stdout.split()[3] == "full"


def test_memory_reports_and_flamegraph(snakescope, tmp_path):
    target = script("mem_known.py")
    _, cap = _run(snakescope, tmp_path, target, env={"MEM_BIG_MB": "64"})
    capture = tmp_path / "mem.json"
    text = subprocess.run([snakescope, "report", str(capture), "--format", "text"],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert "Top allocation sites" in out and "Alive at the peak" in out and "Memory per line" in out
    leaked = out.split("Leaked (alive at the end, allocated by the program)")[1].split("\n\n")[0]
    # (the view's note on the sites it hid, if any, is not a row)
    rows = [r for r in leaked.splitlines() if r.strip() and not r.strip().startswith("(not shown:")]
    # What leaky() keeps is in the module global LEAK: held, not leaked.
    assert not any("leaky (mem_known.py:" in r for r in rows), leaked
    held = out.split("Held by module globals")[1].split("\n\n")[0]
    assert "__main__.LEAK" in held, held
    svg = tmp_path / "peak.svg"
    r = subprocess.run([snakescope, "report", str(capture), "--memory", "peak", "-o", str(svg)],
                       capture_output=True, text=True, timeout=RECORD_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert "leaky" in svg.read_text()
    chart = tmp_path / "timeline.svg"
    r = subprocess.run([snakescope, "report", str(capture), "--format", "timeline", "-o", str(chart)],
                       capture_output=True, text=True, timeout=RECORD_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert chart.read_text().startswith("<svg") and "polyline" in chart.read_text()


@pytest.mark.parametrize("view", [["--memory", "peak", "-o", "out.svg"], ["--format", "timeline", "-o", "out.svg"]])
def test_memory_views_of_a_capture_without_memory(snakescope, tmp_path, view):
    # A chart of nothing would read as "no memory used": one error line, a
    # hint, a non-zero exit, and no file.
    _run(snakescope, tmp_path, script("mem_known.py"), "--memory", "off", env={"MEM_BIG_MB": "1"})
    r = subprocess.run([snakescope, "report", "mem.json", *view], capture_output=True, text=True,
                       timeout=RECORD_TIMEOUT, cwd=tmp_path)
    assert r.returncode != 0
    assert r.stderr.splitlines()[0] == "error: `mem.json` has no memory data", r.stderr
    assert "hint:" in r.stderr and "Traceback" not in r.stderr and "panicked" not in r.stderr
    assert not (tmp_path / "out.svg").exists()


def test_labels_and_checkpoint_census(snakescope, python, tmp_path):
    program = tmp_path / "census.py"
    program.write_text(textwrap.dedent("""\
        import snakescope

        class Node:
            __slots__ = ("value",)
            def __init__(self, value):
                self.value = value

        def build(n):
            return [Node(i) for i in range(n)]

        with snakescope.label("build"):
            snakescope.checkpoint()
            nodes = build(1234)
            blobs = [bytearray(100) for _ in range(300)]
            h = snakescope.heap()
        print(sorted((name, count) for name, (count, size) in h.by_type().items()))
        # Ground truth for the ints: the node values this interpreter had to
        # create (not the ones it keeps preallocated: int("7") is int("7")).
        print(sum(1 for n in nodes if int(str(n.value)) is not n.value))
    """))
    proc, cap = _run(snakescope, tmp_path, str(program), "--memory", "exact", python=python.path)
    # Exactly the objects created after the checkpoint, by type and count:
    # the nodes, the blobs, their two lists, and the nodes' values that are
    # not the interpreter's preallocated small ints (0..256; ..1024 since
    # 3.15) — nothing of snakescope's own (its checkpoint, the census's frames).
    census, new_ints = proc.stdout.splitlines()
    assert int(new_ints) in (1234 - 257, 1234 - 1025)
    assert eval(census) == sorted([
        ("__main__.Node", 1234), ("bytearray", 300), ("list", 2), ("int", int(new_ints))])
    # The census's and the checkpoint's own allocations (the checkpoint is
    # kept to the end: it would show as a leak) are not the program's.
    own = [[cap["frames"][i]["function"] for i in s["frames"]] for s in cap["memory"]["sites"]
           if any(cap["frames"][i]["file"].endswith("_memory.py")
                  and cap["frames"][i]["function"] in ("checkpoint", "heap") for i in s["frames"])]
    assert own == []
    labels = cap["memory"]["labels"]
    assert [label["name"] for label in labels] == ["build"] and labels[0]["end_s"] >= labels[0]["start_s"]
    assert cap["memory"]["census"] and cap["memory"]["census"][0]["when"] == "exit"


def test_memory_survives_fork(snakescope, tmp_path):
    program = tmp_path / "forks.py"
    program.write_text(textwrap.dedent("""\
        import os
        keep = bytearray(8 * 1024 * 1024)
        pid = os.fork()
        if pid == 0:
            junk = [bytearray(1024) for _ in range(10000)]
            print("child ok", len(junk), flush=True)
            os._exit(5)
        _, status = os.waitpid(pid, 0)
        print("parent saw", os.waitstatus_to_exitcode(status), flush=True)
    """))
    proc, cap = _run(snakescope, tmp_path, str(program))
    assert sorted(proc.stdout.splitlines()) == ["child ok 10000", "parent saw 5"]
    assert _by_line(cap)[("forks.py", 2)] >= 8 * 1024 * 1024


PEAK_CENSUS = textwrap.dedent("""\
    import time
    class Node:
        __slots__ = ("value", "next")
        def __init__(self, value, nxt):
            self.value = value
            self.next = nxt
    N = 300_000
    head = None
    for i in range(N):
        head = Node(i, head)
    time.sleep(0.5)  # the peak stands: a plateau (seen after 100 ms)
    head = None
    print("done")
""")


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_census_taken_at_the_peak(snakescope, tmp_path, mode):
    """The census is also taken automatically near the peak: 300,000 Node
    objects are alive there (about 14 MiB of them, above the 16 MiB heap the
    automatic census waits for together with their ints) and none at exit.
    The census counts objects through the garbage collector, so the count is
    exact whatever the memory mode; the CPU profile has no sample of it."""
    (tmp_path / "peak.py").write_text(PEAK_CENSUS)
    proc, cap = _run(snakescope, tmp_path, str(tmp_path / "peak.py"), "--memory", mode)
    assert proc.stdout == "done\n"
    census = {c["when"]: c for c in cap["memory"]["census"]}
    assert set(census) == {"peak", "exit"}, list(census)
    nodes = {c: {r["type_name"]: r["count"] for r in census[c]["types"]}.get("__main__.Node", 0)
             for c in census}
    assert nodes == {"peak": 300_000, "exit": 0}, nodes
    # Taken on the plateau: within 2 % of the peak, or of two sample weights
    # when sampling (the rule in memory/mod.rs, PeakWatch).
    peak, peak_bytes = census["peak"], cap["memory"]["peak_bytes"]
    interval = cap["memory"].get("sample_interval_bytes") or 0
    assert peak["heap_bytes"] >= peak_bytes - max(0.02 * peak_bytes, 2 * interval), \
        (peak["heap_bytes"], peak_bytes, interval)
    assert peak["t"] < census["exit"]["t"]
    frames = cap["frames"]
    assert not any(frames[i]["file"].endswith("_memory.py") for s in cap["stacks"] for i in s["frames"]), \
        "the census was sampled as the program's time"


def test_exit_census_names_any_type(snakescope, tmp_path):
    """The census is written as JSON by hand (no json import at exit): a
    type whose module name holds a quote, a backslash, a control character
    and non-ASCII letters still comes out under its own name, with its
    count (20,000 instances alive at exit, by construction)."""
    program = tmp_path / "names.py"
    program.write_text(textwrap.dedent("""\
        class Odd:
            pass
        Odd.__module__ = 'q"b\\\\s\\x01é'
        KEEP = [Odd() for _ in range(20000)]
    """))
    _, cap = _run(snakescope, tmp_path, str(program))
    exit_census = next(c for c in cap["memory"]["census"] if c["when"] == "exit")
    counts = {r["type_name"]: r["count"] for r in exit_census["types"]}
    assert counts.get('q"b\\s\x01é.Odd') == 20000, sorted(counts)[:20]


def test_exact_after_sampling_with_tracemalloc_on_top(tmp_path):
    """In one process: sampled tracking (the sampled hooks go in), then
    tracemalloc starts (its hooks wrap ours), then exact tracking is asked
    for. Replacing tracemalloc's hooks would break it, and the sampled ones
    do not see every free: exact mode is refused with a clear error, the
    sampler does not stay running, and once tracemalloc stops (restoring
    our hooks) exact mode starts, with the full hooks."""
    program = tmp_path / "switch.py"
    program.write_text(textwrap.dedent("""\
        import tracemalloc
        import snakescope
        from snakescope import _native
        with snakescope.Profiler(memory=True):
            kept = [bytes(100) for _ in range(1000)]
        print("first", _native.memory_hooks())
        tracemalloc.start()
        try:
            with snakescope.Profiler(memory="exact"):
                pass
            print("exact ran")
        except RuntimeError as e:
            print("refused", "exact mode cannot start" in str(e))
        tracemalloc.stop()
        with snakescope.Profiler(memory="exact") as p:
            kept = [bytes(100) for _ in range(1000)]
        print("then", _native.memory_hooks(), p.capture().to_dict()["memory"]["mode"])
    """))
    proc = subprocess.run([sys.executable, str(program)], capture_output=True, text=True,
                          timeout=RECORD_TIMEOUT, env=target_env({"PYTHONPATH": str(REPO / "python")}))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["first sampled", "refused True", "then full exact"]


def test_exit_after_a_plateau_at_the_peak(snakescope, python, tmp_path):
    """A program whose peak (~60 MB of small objects) stands while the
    interpreter exits — here an atexit function sleeps 0.5 s — must end as
    it would without snakescope. On 3.8, asking for the census near the peak
    once the exit had begun set a SystemError on the main thread, which broke
    the exit census or crashed the process (seen 1 run in 3 on
    tests/scripts/mem_small.py); no census is asked for after the program's
    main code returns."""
    program = tmp_path / "plateau.py"
    program.write_text(textwrap.dedent("""\
        import atexit, time
        KEEP = [bytes(100) for _ in range(400_000)]
        atexit.register(time.sleep, 0.5)
        print("done")
    """))
    proc, cap = _run(snakescope, tmp_path, str(program), python=python.path)
    assert proc.stdout == "done\n"
    assert "Error" not in proc.stderr, proc.stderr
    assert [c["when"] for c in cap["memory"]["census"]] == ["exit"]


# A CPU-bound program that never releases the GIL: 1.5 M strs alive for
# 0.6 s of pure-Python work, then freed, then 0.4 s more of it.
CPU_BOUND_PEAK = textwrap.dedent("""\
    import time

    def spin(seconds):
        x, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < seconds:  # (does not release the GIL)
            for i in range(100_000):
                x += i
        return x

    def build():
        data = [str(i) * 3 for i in range(1_500_000)]
        spin(0.6)
        return len(data)

    n = build()
    spin(0.4)
    print(n)
""")
# 3.9-3.12 run a census queued by another thread at the main thread's next
# GIL handover only (the census kicker makes one); 3.13 is the control.
KICKED = [i for i in SUPPORTED + OLDER if i.id in {"pyenv-3.9", "pyenv-3.11", "pyenv-3.12", "pyenv-3.13"}]


@pytest.mark.parametrize("python", KICKED, ids=[i.id for i in KICKED])
def test_census_near_the_peak_of_a_cpu_bound_program(snakescope, python, tmp_path):
    """The census near the peak is taken while the peak's objects are alive,
    though the main thread never releases the GIL: the census shows the
    1,500,000 strs of `build` (str the most numerous type; the native census
    may estimate untracked objects, hence >= 1.4 M), taken before the exit
    census, which sees none of them (the list is freed when `build` returns)."""
    python = require_interpreter(python)
    (tmp_path / "cpu_peak.py").write_text(CPU_BOUND_PEAK)
    proc, cap = _run(snakescope, tmp_path, str(tmp_path / "cpu_peak.py"), python=python.path)
    assert proc.stdout == "1500000\n"
    census = {c["when"]: c for c in cap["memory"]["census"]}
    assert set(census) == {"peak", "exit"}, [(c["when"], c["t"]) for c in cap["memory"]["census"]]
    strs = {w: {r["type_name"]: r["count"] for r in c["types"]}.get("str", 0) for w, c in census.items()}
    top = max(census["peak"]["types"], key=lambda r: r["count"])
    assert top["type_name"] == "str" and strs["peak"] >= 1_400_000, (top, census["peak"]["t"])
    assert strs["exit"] < 100_000, strs
    assert census["peak"]["t"] < census["exit"]["t"]
