"""Memory profiling (`snakescope run --memory sampled|exact`) against the
memory profilers people use instead: scalene, memray, memory_profiler's
`mprof run`, as ratios of wall time to the unprofiled program, plus the size
of what each writes (stdlib only; see bench/README.md).

    python3 bench/memory.py [--reps N] [--workloads a,b] [--groups sampled,exact,reference]
                            [--snakescope PATH] [--python PATH] [--out FILE]
                            [--timeout S] [--max-ratio R] [--seed N]

First every configuration runs once on every workload (the check): one that
fails (non-zero exit, no output file, a snakescope capture without the
memory it was asked for) is reported "n/a" with the reason and not run
again; one slower than --max-ratio times the unprofiled run is reported from
that single run and not repeated. Then each repetition runs, for every
selected workload, the unprofiled program and every remaining configuration,
all in one shuffled order; each profiled run is divided by the unprofiled run
of the same repetition and workload; the report gives the median and
interquartile range of those ratios, and the size of each tool's output file,
also per second of unprofiled run time. The Markdown report is printed and,
with --out, put into that file in place of the previous run of the same
groups (else appended).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from agent import git_state
from run import RUN_ENV_OVERRIDES, RunResult, cpu_model, error_line, fmt_ratio, log, md_table, put_section, run_cmd

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORKLOAD_DIR = BENCH_DIR / "workloads"

ALL_WORKLOADS = ["julia", "numpy_work", "mem_churn"]
ALL_GROUPS = ["sampled", "exact", "reference"]

# Python distributions whose versions the report records (importlib.metadata
# of the target interpreter), and the modules each tool needs there.
DISTS = ["snakescope", "scalene", "memray", "memory-profiler", "psutil", "numpy"]
TOOL_MODULES = {"snakescope": ["snakescope"], "scalene": ["scalene"], "memray": ["memray"],
                "mprof": ["mprof", "memory_profiler", "psutil"], "tracemalloc": ["tracemalloc"]}

# How a tracemalloc user gets a result out of a whole program: run it under
# `-X tracemalloc=25` and dump a snapshot when it ends (argv: script, output).
TRACEMALLOC_MAIN = ("import runpy, sys, tracemalloc; path, out = sys.argv[1:3]; sys.argv = [path]\n"
                    "try:\n    runpy.run_path(path, run_name='__main__')\n"
                    "finally:\n    tracemalloc.take_snapshot().dump(out)")


# --------------------------------------------------------------------------
# Configurations


@dataclass(frozen=True)
class Config:
    groups: tuple[str, ...]  # a configuration shared by two groups runs once
    label: str
    tool: str  # key of TOOL_MODULES
    build: Callable  # (ctx, workload, run_dir) -> (argv, output file)
    memory_mode: str | None = None  # snakescope: the capture's memory.mode it must hold ("off": none)
    measures: str = ""


@dataclass
class Ctx:
    python: str
    snakescope: str

    def script(self, w: str) -> str:
        return str(WORKLOAD_DIR / f"{w}.py")


def _ss(ctx: Ctx, *args: str) -> list[str]:
    return [ctx.snakescope, "run", "--python", ctx.python, "-q", *args]


def _memray(ctx: Ctx, *args: str) -> list[str]:
    return [ctx.python, "-m", "memray", "run", *args]


CONFIGS = [
    Config(("sampled",), "snakescope run (default: CPU 1 kHz + memory sampled every 512 KiB)",
           "snakescope",
           lambda c, w, d: (_ss(c, "-o", f"{d}/s.json", c.script(w)), f"{d}/s.json"),
           memory_mode="sampled",
           measures="CPU stacks at 1 kHz; PyMem and native (malloc, mmap) allocations sampled "
                    "every 512 KiB on average, with stacks, peak, leaks, timeline"),
    Config(("sampled",), "snakescope run --memory off (CPU only, for reference)", "snakescope",
           lambda c, w, d: (_ss(c, "--memory", "off", "-o", f"{d}/s.json", c.script(w)),
                            f"{d}/s.json"),
           memory_mode="off", measures="CPU stacks at 1 kHz"),
    Config(("sampled",), "scalene run --memory (CPU 10 ms + memory)", "scalene",
           lambda c, w, d: ([c.python, "-m", "scalene", "run", "--memory", "-o", f"{d}/sc.json",
                             c.script(w)], f"{d}/sc.json"),
           measures="CPU (Python/native/system) every 10 ms of CPU time; allocations sampled "
                    "every ~1 MiB (its default window) through an LD_PRELOADed allocator, per line"),
    Config(("sampled", "exact"), "memray run (its default)", "memray",
           lambda c, w, d: (_memray(c, "-o", f"{d}/m.bin", c.script(w)), f"{d}/m.bin"),
           measures="every malloc/calloc/realloc/free/mmap/munmap, Python stacks; pymalloc's small "
                    "objects are not seen one by one (only the arenas it gets from mmap); every "
                    "event written to the file as it runs, lz4-compressed at exit"),
    Config(("exact",), "snakescope run --memory exact", "snakescope",
           lambda c, w, d: (_ss(c, "--memory", "exact", "-o", f"{d}/s.json", c.script(w)),
                            f"{d}/s.json"),
           memory_mode="exact",
           measures="CPU stacks at 1 kHz; every PyMem (pymalloc included) and native allocation, "
                    "with stacks"),
    Config(("exact",), "memray run --native", "memray",
           lambda c, w, d: (_memray(c, "--native", "-o", f"{d}/m.bin", c.script(w)), f"{d}/m.bin"),
           measures="memray's default plus the native (C) stack of every allocation"),
    Config(("exact",), "memray run --trace-python-allocators", "memray",
           lambda c, w, d: (_memray(c, "--trace-python-allocators", "-o", f"{d}/m.bin",
                                    c.script(w)), f"{d}/m.bin"),
           measures="memray's default plus every pymalloc allocation: the coverage of snakescope's "
                    "exact mode"),
    Config(("exact",), "tracemalloc, 25 frames (the standard library)", "tracemalloc",
           lambda c, w, d: ([c.python, "-X", "tracemalloc=25", "-c", TRACEMALLOC_MAIN, c.script(w),
                             f"{d}/t.snap"], f"{d}/t.snap"),
           measures="every allocation of the three PyMem domains (not extensions' own malloc), "
                    "with up to 25 frames; a snapshot dumped at exit (CODE runs the program with "
                    "runpy, then `tracemalloc.take_snapshot().dump(TMP/t.snap)`)"),
    Config(("reference",), "mprof run (memory_profiler)", "mprof",
           lambda c, w, d: ([c.python, "-m", "mprof", "run", "-E", "-o", f"{d}/m.dat", c.script(w)],
                            f"{d}/m.dat"),
           measures="the process's RSS every 0.1 s (psutil, from a second process that launched "
                    "the program through `python -m memory_profiler --timestamp`), no stacks"),
]


def command_text(cfg: Config) -> str:
    """The command of a configuration, with placeholders, for the report."""
    argv, _ = cfg.build(Ctx("PY", "snakescope"), "W", "TMP")
    argv = ["CODE" if a == TRACEMALLOC_MAIN else a for a in argv]
    return shlex.join(argv).replace(f"{WORKLOAD_DIR}/W.py", "W.py")


def group_text(cfg: Config) -> str:
    return ", ".join(cfg.groups)


# --------------------------------------------------------------------------
# Tools


def target_info(python: str) -> tuple[str | None, dict[str, str | None], set[str]]:
    """(python version, {dist: version or None}, importable modules) of the target."""
    mods = sorted({m for ms in TOOL_MODULES.values() for m in ms} | {"numpy"})
    code = ("import importlib.metadata as m, importlib.util as u, platform\n"
            "print(platform.python_version())\n"
            f"for d in {DISTS!r}:\n"
            "    try: print(d, m.version(d))\n"
            "    except m.PackageNotFoundError: print(d, '-')\n"
            f"for mod in {mods!r}:\n"
            "    print('module', mod, u.find_spec(mod) is not None)\n"
            "try: print('native', u.find_spec('snakescope._native').origin)\n"
            "except Exception: pass\n")
    try:
        cp = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None, {}, set()
    if cp.returncode != 0:
        return None, {}, set()
    lines = cp.stdout.splitlines()
    versions: dict[str, str | None] = {}
    modules: set[str] = set()
    for ln in lines[1:]:
        parts = ln.split()
        if parts[0] == "module":
            if parts[2] == "True":
                modules.add(parts[1])
        elif parts[0] == "native":
            versions["snakescope._native"] = ln.split(" ", 1)[1]
        else:
            versions[parts[0]] = None if parts[1] == "-" else parts[1]
    return lines[0], versions, modules


def file_digest(path: str | None) -> str | None:
    """Short sha256 and mtime of a file (the snakescope native module, which
    `make develop` rebuilds in place), to tell whether it changed during the run."""
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            h = hashlib.file_digest(f, "sha256").hexdigest()[:12]
        mtime = _dt.datetime.fromtimestamp(os.path.getmtime(path)).astimezone()
    except OSError:
        return None
    return f"sha256 {h}, built {mtime:%Y-%m-%d %H:%M:%S}"


def find_tools(python: str, snakescope: str, modules: set[str]) -> dict[str, str]:
    """{tool: "ok" or why its configurations are not run}."""
    tools = {}
    for name, mods in TOOL_MODULES.items():
        missing = [m for m in mods if m not in modules]
        tools[name] = f"not installed (no module {missing[0]} in {python})" if missing else "ok"
    if tools["snakescope"] == "ok" and not (os.path.isfile(snakescope) and os.access(snakescope, os.X_OK)):
        tools["snakescope"] = f"not installed ({snakescope} missing; `make develop`)"
    return tools


# --------------------------------------------------------------------------
# Running


@dataclass
class Outcome:
    wall: float | None = None
    failure: str | None = None
    size: int | None = None  # bytes of the output file


@dataclass
class Series:
    runs: dict[int, Outcome] = field(default_factory=dict)  # rep -> outcome
    check: Outcome | None = None  # the check run (rep -1)
    na: str | None = None  # failed its check run: not run again
    slow: bool = False  # over --max-ratio in its check run: not repeated


def judge(cfg: Config, res: RunResult, out: str) -> str | None:
    """Why a finished run does not count (None if it does)."""
    if not res.ok:
        return res.failure()
    if not os.path.exists(out) or os.path.getsize(out) == 0:
        return f"no output file {Path(out).name}" + (
            f" ({error_line(res.stderr_text)})" if res.stderr_text.strip() else "")
    if cfg.memory_mode is not None:
        try:
            with open(out, encoding="utf-8") as f:
                mem = json.load(f).get("memory")
        except (OSError, ValueError, AttributeError) as e:
            return f"unreadable capture: {type(e).__name__}"
        mode = mem.get("mode") if isinstance(mem, dict) else None
        if cfg.memory_mode == "off" and mem is not None:
            return "capture has a memory section with --memory off"
        if cfg.memory_mode != "off" and mode != cfg.memory_mode:
            return f"capture's memory.mode is {mode!r}, not {cfg.memory_mode!r}"
    return None


def run_one(cmd: list[str], out: str | None, cfg: Config | None, env: dict, run_dir: Path,
            timeout: float) -> Outcome:
    res = run_cmd(cmd, env=env, cwd=run_dir, timeout=timeout)
    if cfg is None:
        return Outcome(res.wall, None if res.ok else res.failure())
    failure = judge(cfg, res, out)
    size = os.path.getsize(out) if failure is None else None
    return Outcome(res.wall, failure, size)


def _sigterm(signum, frame):
    raise KeyboardInterrupt  # same clean-up path as Ctrl-C


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    ap.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                    help=f"comma separated subset of {','.join(ALL_WORKLOADS)}")
    ap.add_argument("--groups", default=",".join(ALL_GROUPS),
                    help=f"comma separated subset of {','.join(ALL_GROUPS)}")
    ap.add_argument("--snakescope", default=str(REPO / ".venv" / "bin" / "snakescope"),
                    help="the Python package's snakescope command (default .venv/bin/snakescope)")
    ap.add_argument("--python", default=None,
                    help="interpreter for the workloads and the Python profilers (default "
                         ".venv/bin/python if it exists, else this interpreter)")
    ap.add_argument("--out", help="Markdown file the report goes to, in place of the previous run "
                                  "of the same groups (else appended)")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="per-run timeout in seconds (default 900)")
    ap.add_argument("--max-ratio", type=float, default=20.0,
                    help="a configuration slower than this in its check run is reported from "
                         "that run and not repeated (default 20; 0: repeat everything)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the shuffled order")
    args = ap.parse_args(argv)

    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    if bad := [w for w in workloads if w not in ALL_WORKLOADS]:
        ap.error(f"unknown workload(s) {bad}; choose from {ALL_WORKLOADS}")
    if bad := [g for g in groups if g not in ALL_GROUPS]:
        ap.error(f"unknown group(s) {bad}; choose from {ALL_GROUPS}")
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)

    python = args.python or (str(REPO / ".venv" / "bin" / "python")
                             if (REPO / ".venv" / "bin" / "python").exists() else sys.executable)
    py_version, versions, modules = target_info(python)
    if py_version is None:
        log(f"error: cannot run the target interpreter {python!r}")
        return 2
    skipped = {}
    if "numpy_work" in workloads and "numpy" not in modules:
        skipped["numpy_work"] = f"numpy is not importable by {python}"
        workloads.remove("numpy_work")
    ctx = Ctx(python, args.snakescope)
    tools = find_tools(python, args.snakescope, modules)
    for name, t in tools.items():
        log(f"{name}: {t}")
    configs = [c for c in CONFIGS if any(g in groups for g in c.groups)]

    signal.signal(signal.SIGTERM, _sigterm)
    cmdline = shlex.join(sys.orig_argv)
    started = _dt.datetime.now().astimezone()
    load_start = os.getloadavg()
    native = versions.pop("snakescope._native", None)
    native_start = file_digest(native)
    env = {**os.environ, **RUN_ENV_OVERRIDES}
    rng = random.Random(args.seed)
    base: dict[str, Series] = {w: Series() for w in workloads}
    series: dict[tuple[str, Config], Series] = {(w, c): Series() for w in workloads for c in configs}
    interrupted = False
    tmp_root = Path(tempfile.mkdtemp(prefix="snakescope-memory-bench-"))

    def one(w: str, cfg: Config | None) -> Outcome:
        run_dir = Path(tempfile.mkdtemp(dir=tmp_root))
        try:
            if cfg is None:
                return run_one([python, ctx.script(w)], None, None, env, run_dir, args.timeout)
            cmd, out = cfg.build(ctx, w, run_dir)
            return run_one(cmd, out, cfg, env, run_dir, args.timeout)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)

    try:
        # The check, which is also the warm-up (page cache, .pyc of the tools' imports).
        for w in workloads:
            b = one(w, None)
            base[w].check = b
            log(f"check {w:<10} {'unprofiled':<62} {b.wall:7.2f}s"
                + (f"  FAILED {b.failure}" if b.failure else ""))
            for c in configs:
                if tools[c.tool] != "ok":
                    continue
                s = series[(w, c)]
                o = s.check = one(w, c)
                if o.failure:
                    s.na = o.failure
                elif args.max_ratio > 0 and b.failure is None and o.wall / b.wall > args.max_ratio:
                    s.slow = True
                log(f"check {w:<10} {c.label:<62} {o.wall:7.2f}s"
                    + (f"  FAILED {o.failure}" if o.failure else "")
                    + (f"  over --max-ratio ({o.wall / b.wall:.1f}×): not repeated" if s.slow else ""))
        for rep in range(args.reps):
            jobs: list[tuple[str, Config | None]] = [(w, None) for w in workloads]
            jobs += [(w, c) for w in workloads for c in configs
                     if tools[c.tool] == "ok" and series[(w, c)].na is None
                     and not series[(w, c)].slow]
            rng.shuffle(jobs)
            for n, (w, cfg) in enumerate(jobs, 1):
                o = one(w, cfg)
                (base[w] if cfg is None else series[(w, cfg)]).runs[rep] = o
                log(f"[rep {rep + 1}/{args.reps} {n}/{len(jobs)}] {w:<10} "
                    f"{'unprofiled' if cfg is None else cfg.label:<62} {o.wall:7.2f}s"
                    + (f"  FAILED {o.failure}" if o.failure else ""))
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: reporting the runs done so far")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    native_state = (f"`{Path(native).name}` {native_start}" if native_start else "not found")
    native_end = file_digest(native)
    if native_end != native_start:
        native_state += f"; **changed during the run** (at the end: {native_end})"
    report = render(args, cmdline, started, load_start, interrupted, python, py_version, versions,
                    tools, workloads, skipped, groups, configs, base, series, native_state)
    print(report)
    if args.out:
        log(put_section(Path(args.out), "memory: " + ",".join(sorted(groups)), report))
    return 130 if interrupted else 0


# --------------------------------------------------------------------------
# Report


def pairs(s: Series, b: Series) -> list[tuple[Outcome, Outcome]]:
    """(profiled, unprofiled) outcomes of the same repetition, both counted;
    the check run only for a configuration that was not repeated."""
    if s.slow:
        ps = [(s.check, b.check)] if s.check and b.check else []
    else:
        ps = [(o, b.runs[rep]) for rep, o in s.runs.items() if rep in b.runs]
    return [(o, bo) for o, bo in ps if o.failure is None and bo.failure is None]


def failures(s: Series) -> str:
    counts: dict[str, int] = {}
    for o in s.runs.values():
        if o.failure:
            counts[o.failure] = counts.get(o.failure, 0) + 1
    return "; ".join(f"{n}× {f}" for f, n in counts.items())


def fmt_bytes(n: float) -> str:
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n:.0f} B"


def render(args, cmdline, started, load_start, interrupted, python, py_version, versions, tools,
           workloads, skipped, groups, configs, base, series, native_state) -> str:
    finished = _dt.datetime.now().astimezone()
    load_end = os.getloadavg()
    vers = ", ".join(f"{d} {versions.get(d) or 'not installed'}" for d in DISTS)
    L = [f"## Memory ({', '.join(groups)}): `snakescope run --memory` vs scalene, memray, "
         "tracemalloc, memory_profiler (median ratio to unprofiled [IQR])",
         "",
         f"- Command: `{cmdline}`" + ("  **(interrupted: partial results)**" if interrupted else ""),
         f"- Date: {started:%Y-%m-%d %H:%M %Z}, took {(finished - started).total_seconds() / 60:.1f} min; "
         f"{cpu_model()}, {os.cpu_count()} CPUs, load average {load_start[0]:.2f} at start, "
         f"{load_end[0]:.2f} at end; {platform.system()} {platform.release()}",
         f"- Python {py_version} (`{python}`); {vers} (importlib.metadata); snakescope source at "
         f"{git_state()}; native module {native_state}",
         f"- Groups: {', '.join(groups)}; workloads: {', '.join(workloads)}"
         + "".join(f" ({w} skipped: {why})" for w, why in skipped.items())
         + f"; {args.reps} repetition{'s' if args.reps != 1 else ''}, shuffle seed {args.seed}, "
           f"--max-ratio {args.max_ratio:g}; environment of every run: "
         + ", ".join(f"{k}={v}" for k, v in RUN_ENV_OVERRIDES.items()),
         "",
         "Every configuration first ran once on every workload (the check); one that failed is "
         "`n/a` with the reason, one slower than --max-ratio × the unprofiled check run is given "
         "from that single run (marked `1 run`) and was not repeated. Then each repetition ran "
         "every workload unprofiled and under every other configuration, all in one shuffled "
         "order; a ratio is a profiled wall time (`perf_counter` around the whole command: "
         "start-up, the program, writing the output) over the unprofiled run of the same "
         "workload in the same repetition. A run counts if it exits 0 and writes its output "
         "file (a snakescope capture must also hold the memory mode asked for). Each tool runs "
         "with its default options unless the row says otherwise; what each one records is in "
         "the folded table. Differences smaller than the IQRs are noise.",
         ""]

    def cell(w: str, c: Config) -> str:
        t = tools[c.tool]
        if t != "ok":
            return t.split(" (")[0]
        s = series[(w, c)]
        if s.na is not None:
            return f"n/a ({s.na})"
        rs = [o.wall / bo.wall for o, bo in pairs(s, base[w])]
        if not rs:
            fails = [o.failure for o in s.runs.values() if o.failure]
            return f"failed: {max(set(fails), key=fails.count)}" if fails else "–"
        if s.slow:
            return f"{rs[0]:.1f}× (1 run)"
        med, iqr = fmt_ratio(rs)
        return f"{med} [{iqr}]"

    rows = [[group_text(c), c.label] + [cell(w, c) for w in workloads] for c in configs]
    L.append(md_table(["group", "profiler", *workloads], rows))
    L.append("")

    def size_cell(w: str, c: Config) -> str:
        if tools[c.tool] != "ok" or series[(w, c)].na is not None:
            return "–"
        ps = [(o, bo) for o, bo in pairs(series[(w, c)], base[w]) if o.size is not None]
        if not ps:
            return "–"
        size = statistics.median(o.size for o, _ in ps)
        rate = statistics.median(o.size / bo.wall for o, bo in ps)
        return f"{fmt_bytes(size)} ({fmt_bytes(rate)}/s)"

    L.append("Output file size, median, and in parentheses per second of the unprofiled run "
             "(bytes / unprofiled wall time of the same repetition): snakescope's capture is "
             "JSON (`-o X.json`), memray's `.bin` is its default (lz4-compressed at exit), "
             "scalene's is JSON, tracemalloc's a pickled snapshot, mprof's a text file of samples.")
    L.append("")
    rows = [[c.label, f"`{Path(c.build(Ctx('PY', 'snakescope'), 'W', 'TMP')[1]).name}`"]
            + [size_cell(w, c) for w in workloads] for c in configs]
    L.append(md_table(["profiler", "output", *workloads], rows))
    L.append("")

    L.append("<details><summary>Commands, what each records, wall times, failures</summary>")
    L.append("")
    L.append(md_table(["profiler", "command (W = workload, PY = python, TMP = temp dir)", "records"],
                      [[c.label, f"`{command_text(c)}`", c.measures] for c in configs]))
    L.append("")
    rows = []
    for w in workloads:
        b = base[w]
        walls = [o.wall for o in b.runs.values() if o.failure is None]
        rows.append([w, "unprofiled", f"{statistics.median(walls):.2f}" if walls else "–",
                     "–", f"{len(walls)}/{len(b.runs)}", failures(b)])
        for c in configs:
            s = series[(w, c)]
            t = tools[c.tool]
            ps = pairs(s, b) if t == "ok" else []
            walls = [o.wall for o, _ in ps]
            total = 1 if s.slow else len(s.runs)
            note = (t if t != "ok" else f"n/a (check run: {s.na})" if s.na
                    else "1 run (check), over --max-ratio: not repeated" if s.slow
                    else failures(s))
            rows.append([w, c.label, f"{statistics.median(walls):.2f}" if walls else "–",
                         fmt_ratio([o.wall / bo.wall for o, bo in ps])[0],
                         f"{len(ps)}/{total}", note])
    L.append(md_table(["workload", "profiler", "wall s (median)", "ratio", "runs ok", "notes"], rows))
    L.append("")
    L.append("</details>")
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
