"""In-process profiling (`snakescope run`) against the Python profilers people
use instead: pyinstrument and scalene (sampling), cProfile and yappi (every
call), kernprof/line_profiler (lines), as ratios of wall time to the
unprofiled program (stdlib only; see bench/README.md).

    python3 bench/agent.py [--reps N] [--workloads a,b] [--groups sampling,exact,lines]
                           [--snakescope PATH] [--python PATH] [--out FILE]
                           [--timeout S] [--seed N]
    python3 bench/agent.py --write-lines-copies

Each repetition runs, for every selected workload, the unprofiled program
(and, with the `lines` group, its `@profile`-decorated copy in
workloads/lines/) and every configuration of the selected groups, all in one
shuffled order. Each profiled run is divided by the unprofiled run of the
same repetition and workload (of the decorated copy, for configurations that
run it); the report gives the median and interquartile range of those ratios.
A run counts only if it exits 0 and writes its output file; a line-profiling
run only if its output also holds the line profile of the hot function (for
kernprof, as printed by `python -m line_profiler`). A `lines` configuration
whose first run fails is reported "n/a" with the reason and not run again.
The Markdown report is printed and, with --out, put into that file in place of the previous run of the same
groups (else appended).
"""
from __future__ import annotations

import argparse
import datetime as _dt
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

from run import RUN_ENV_OVERRIDES, RunResult, cpu_model, error_line, fmt_ratio, log, md_table, put_section, run_cmd

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORKLOAD_DIR = BENCH_DIR / "workloads"
LINES_DIR = WORKLOAD_DIR / "lines"

ALL_WORKLOADS = ["julia", "nbody_like", "phonebook"]
ALL_GROUPS = ["sampling", "exact", "lines"]

# The hot function of each workload, decorated with @profile in its copy under
# workloads/lines/, and one line of its body that any line profile of it shows.
HOT = {
    "julia": ("calculate_z_serial_purepython", "z = z * z + c"),
    "nbody_like": ("step_pair", "mag = accel(dx, dy, dz, dt)"),
    "phonebook": ("list_unique_names", "if unique == first_name:"),
}

# Python distributions whose versions the report records (importlib.metadata
# of the target interpreter).
DISTS = ["snakescope", "pyinstrument", "scalene", "yappi", "line-profiler"]


# --------------------------------------------------------------------------
# The decorated copies (committed files; --write-lines-copies regenerates them)


def lines_block(w: str) -> str:
    return (f"# Line-profiling copy of ../{w}.py for bench/agent.py: the same program\n"
            "# except for this block and `@profile` on the hot function. kernprof -l and\n"
            "# `snakescope run` put `profile` in builtins; plain python gets the no-op.\n"
            "try:\n"
            "    profile\n"
            "except NameError:\n"
            "    def profile(f):\n"
            "        return f\n"
            "\n"
            "\n")


def decorated_source(w: str) -> str:
    """workloads/w.py with the fallback block after `import sys` and `@profile`
    on the hot function."""
    src = (WORKLOAD_DIR / f"{w}.py").read_text(encoding="utf-8")
    anchor = "import sys\n\n"
    i = src.index(anchor) + len(anchor)
    src = src[:i] + lines_block(w) + src[i:]
    d = f"\ndef {HOT[w][0]}("
    if src.count(d) != 1:
        raise SystemExit(f"error: workloads/{w}.py must define {HOT[w][0]} exactly once")
    return src.replace(d, f"\n@profile{d}")


# --------------------------------------------------------------------------
# Configurations


@dataclass(frozen=True)
class Config:
    group: str
    label: str
    tool: str  # key of the availability check (TOOLS)
    build: Callable  # (ctx, workload, run_dir) -> (argv, output file)
    decorated: bool = False  # runs workloads/lines/w.py (its baseline is that file unprofiled)
    view: Callable | None = None  # (ctx, output file) -> argv printing the line profile
    line_check: bool = False  # output must contain the hot function's line profile


@dataclass
class Ctx:
    python: str
    snakescope: str

    def script(self, w: str, decorated: bool) -> str:
        return str((LINES_DIR if decorated else WORKLOAD_DIR) / f"{w}.py")


def hot_func(w: str) -> str:
    return HOT[w][0] if w in HOT else "FUNC"


def _ss(ctx: Ctx, *args: str) -> list[str]:
    return [ctx.snakescope, "run", "--python", ctx.python, *args]


CONFIGS = [
    # Sampling: each tool's default rate, plus scalene at snakescope's 1 kHz.
    Config("sampling", "snakescope run (1 kHz)", "snakescope",
           lambda c, w, d: (_ss(c, "-q", "-o", f"{d}/s.json", c.script(w, False)), f"{d}/s.json")),
    Config("sampling", "pyinstrument (1 ms)", "pyinstrument",
           lambda c, w, d: ([c.python, "-m", "pyinstrument", "-r", "json", "-o", f"{d}/p.json",
                             c.script(w, False)], f"{d}/p.json")),
    Config("sampling", "scalene --cpu-only (10 ms)", "scalene",
           lambda c, w, d: ([c.python, "-m", "scalene", "run", "--cpu-only", "-o", f"{d}/sc.json",
                             c.script(w, False)], f"{d}/sc.json")),
    Config("sampling", "scalene --cpu-only (1 ms)", "scalene",
           lambda c, w, d: ([c.python, "-m", "scalene", "run", "--cpu-only",
                             "--cpu-sampling-rate", "0.001", "-o", f"{d}/sc.json",
                             c.script(w, False)], f"{d}/sc.json")),
    # Exact: every call.
    Config("exact", "snakescope run --exact", "snakescope",
           lambda c, w, d: (_ss(c, "--exact", "-q", "-o", f"{d}/s.pstats", c.script(w, False)),
                            f"{d}/s.pstats")),
    Config("exact", "cProfile", "cProfile",
           lambda c, w, d: ([c.python, "-m", "cProfile", "-o", f"{d}/c.pstats", c.script(w, False)],
                            f"{d}/c.pstats")),
    Config("exact", "yappi (cpu clock, its default)", "yappi",
           lambda c, w, d: ([c.python, "-m", "yappi", "-o", f"{d}/y.pstats", c.script(w, False)],
                            f"{d}/y.pstats")),
    Config("exact", "yappi -c wall", "yappi",
           lambda c, w, d: ([c.python, "-m", "yappi", "-c", "wall", "-o", f"{d}/y.pstats",
                             c.script(w, False)], f"{d}/y.pstats")),
    # Lines: one decorated hot function.
    Config("lines", "kernprof -l (@profile)", "kernprof",
           lambda c, w, d: ([c.python, "-m", "kernprof", "-l", "-q", "-o", f"{d}/k.lprof",
                             c.script(w, True)], f"{d}/k.lprof"),
           decorated=True, line_check=True,
           view=lambda c, out: [c.python, "-m", "line_profiler", out]),
    Config("lines", "snakescope run (@profile)", "snakescope",
           lambda c, w, d: (_ss(c, "-q", "-o", f"{d}/s.json", c.script(w, True)), f"{d}/s.json"),
           decorated=True, line_check=True),
    Config("lines", "snakescope run --lines MODULE:FUNC (undecorated)", "snakescope",
           lambda c, w, d: (_ss(c, "-q", "-o", f"{d}/s.json", "--lines", f"{w}:{hot_func(w)}",
                                c.script(w, False)), f"{d}/s.json"),
           line_check=True),
]


def command_text(cfg: Config) -> str:
    """The command of a configuration, with placeholders, for the report."""
    ctx = Ctx("PY", "snakescope")
    argv, _ = cfg.build(ctx, "W", "TMP")
    text = shlex.join(argv).replace(f"{WORKLOAD_DIR}/lines/W.py", "lines/W.py").replace(f"{WORKLOAD_DIR}/W.py", "W.py")
    return text


# --------------------------------------------------------------------------
# Tools


@dataclass
class Tool:
    status: str = "ok"  # "ok", or why the tool's configurations are not run

    @property
    def usable(self) -> bool:
        return self.status == "ok"


def target_info(python: str) -> tuple[str | None, dict[str, str | None], set[str]]:
    """(python version, {dist: version or None}, importable modules) of the target."""
    code = ("import importlib.metadata as m, importlib.util as u, platform\n"
            f"print(platform.python_version())\n"
            f"for d in {DISTS!r}:\n"
            "    try: print(d, m.version(d))\n"
            "    except m.PackageNotFoundError: print(d, '-')\n"
            "for mod in ['snakescope', 'pyinstrument', 'scalene', 'yappi', 'kernprof', 'line_profiler']:\n"
            "    print('module', mod, u.find_spec(mod) is not None)\n")
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
        else:
            versions[parts[0]] = None if parts[1] == "-" else parts[1]
    return lines[0], versions, modules


def find_tools(python: str, snakescope: str, modules: set[str]) -> dict[str, Tool]:
    tools = {"cProfile": Tool()}
    need = {"pyinstrument": ["pyinstrument"], "scalene": ["scalene"], "yappi": ["yappi"],
            "kernprof": ["kernprof", "line_profiler"]}
    for name, mods in need.items():
        missing = [m for m in mods if m not in modules]
        tools[name] = Tool(f"not installed (no module {missing[0]} in {python})" if missing else "ok")
    if not (os.path.isfile(snakescope) and os.access(snakescope, os.X_OK)):
        tools["snakescope"] = Tool(f"not installed ({snakescope} missing; `make develop`)")
    elif "snakescope" not in modules:
        tools["snakescope"] = Tool(f"not installed (no snakescope package in {python}; `make develop`)")
    else:
        tools["snakescope"] = Tool()
    return tools


def native_state(python: str) -> str:
    """Path, size and mtime of the snakescope extension the target imports: a
    rebuild during the run (`make develop` elsewhere) shows as a change."""
    code = ("import importlib.util as u, os, time\n"
            "s = u.find_spec('snakescope._native')\n"
            "st = os.stat(s.origin)\n"
            "print(f'{s.origin}, {st.st_size} bytes, built '"
            " f'{time.strftime(\"%H:%M:%S\", time.localtime(st.st_mtime))}')")
    try:
        cp = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return cp.stdout.strip() if cp.returncode == 0 else "not importable"


def build_state(python: str) -> tuple[str, str]:
    return git_state(), native_state(python)


def git_state() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=20).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "crates",
                                "python"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if not head:
        return "unknown"
    return head + (" with uncommitted changes under crates/ or python/" if dirty else "")


# --------------------------------------------------------------------------
# Running


@dataclass
class Outcome:
    wall: float | None = None
    failure: str | None = None


@dataclass
class Series:
    runs: dict[int, Outcome] = field(default_factory=dict)  # rep -> outcome
    na: str | None = None  # lines configuration that failed its first run


def read_texts(run_dir: Path, limit: int = 50 << 20) -> str:
    parts = []
    for p in sorted(run_dir.iterdir()):
        try:
            if p.is_file() and p.stat().st_size <= limit:
                parts.append(p.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            pass
    return "\n".join(parts)


def judge(cfg: Config, ctx: Ctx, w: str, res: RunResult, out: str, run_dir: Path, env: dict,
          timeout: float) -> str | None:
    """Why a finished run does not count (None if it does)."""
    if not res.ok:
        return res.failure()
    if not os.path.exists(out) or os.path.getsize(out) == 0:
        return f"no output file {Path(out).name}" + (
            f" ({error_line(res.stderr_text)})" if res.stderr_text.strip() else "")
    if cfg.line_check:
        func, line = HOT[w]
        text = res.stderr_text + "\n" + read_texts(run_dir)
        if cfg.view is not None:
            try:
                cp = subprocess.run(cfg.view(ctx, out), capture_output=True, text=True, env=env,
                                    timeout=timeout, stdin=subprocess.DEVNULL, cwd=run_dir)
                text += "\n" + cp.stdout + "\n" + cp.stderr
            except (OSError, subprocess.TimeoutExpired) as e:
                return f"cannot view the line profile: {e}"
        if line not in text:
            return f"no line profile of {func} in its output"
    return None


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
    ap.add_argument("--timeout", type=float, default=600.0, help="per-run timeout in seconds")
    ap.add_argument("--seed", type=int, default=None, help="seed of the shuffled order")
    ap.add_argument("--write-lines-copies", action="store_true",
                    help="regenerate workloads/lines/*.py from workloads/*.py and exit")
    args = ap.parse_args(argv)

    if args.write_lines_copies:
        LINES_DIR.mkdir(exist_ok=True)
        for w in ALL_WORKLOADS:
            (LINES_DIR / f"{w}.py").write_text(decorated_source(w), encoding="utf-8")
            log(f"wrote {LINES_DIR / (w + '.py')}")
        return 0

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
    if "lines" in groups:
        for w in workloads:
            p = LINES_DIR / f"{w}.py"
            if not p.exists() or p.read_text(encoding="utf-8") != decorated_source(w):
                log(f"error: {p} is missing or differs from workloads/{w}.py plus @profile; "
                    "run `bench/agent.py --write-lines-copies` and commit the result")
                return 2

    python = args.python or (str(REPO / ".venv" / "bin" / "python")
                             if (REPO / ".venv" / "bin" / "python").exists() else sys.executable)
    py_version, versions, modules = target_info(python)
    if py_version is None:
        log(f"error: cannot run the target interpreter {python!r}")
        return 2
    ctx = Ctx(python, args.snakescope)
    tools = find_tools(python, args.snakescope, modules)
    for name, t in tools.items():
        log(f"{name}: {t.status}")
    configs = [c for c in CONFIGS if c.group in groups]
    variants = [False] + ([True] if any(c.decorated for c in configs) else [])

    signal.signal(signal.SIGTERM, _sigterm)
    cmdline = shlex.join(sys.orig_argv)
    started = _dt.datetime.now().astimezone()
    load_start = os.getloadavg()
    build_start = build_state(python)
    env = {**os.environ, **RUN_ENV_OVERRIDES}
    rng = random.Random(args.seed)
    base: dict[tuple[str, bool], Series] = {(w, v): Series() for w in workloads for v in variants}
    series: dict[tuple[str, Config], Series] = {(w, c): Series() for w in workloads for c in configs}
    interrupted = False
    tmp_root = Path(tempfile.mkdtemp(prefix="snakescope-agent-bench-"))
    try:
        for w in workloads:  # warm-up: page cache, .pyc of the profilers' imports
            r = run_cmd([python, ctx.script(w, False)], env=env, cwd=tmp_root, timeout=args.timeout)
            log(f"warm-up {w}: {r.wall:.2f}s" + ("" if r.ok else f" FAILED {r.failure()}"))
        for rep in range(args.reps):
            jobs: list[tuple[str, Config | bool]] = [(w, v) for w in workloads for v in variants]
            jobs += [(w, c) for w in workloads for c in configs
                     if tools[c.tool].usable and series[(w, c)].na is None]
            rng.shuffle(jobs)
            for n, (w, job) in enumerate(jobs, 1):
                run_dir = Path(tempfile.mkdtemp(dir=tmp_root))
                try:
                    if isinstance(job, bool):
                        label = "unprofiled" + (" (decorated copy)" if job else "")
                        res = run_cmd([python, ctx.script(w, job)], env=env, cwd=run_dir,
                                      timeout=args.timeout)
                        o = Outcome(res.wall, None if res.ok else res.failure())
                        base[(w, job)].runs[rep] = o
                    else:
                        label = job.label
                        cmd, out = job.build(ctx, w, run_dir)
                        res = run_cmd(cmd, env=env, cwd=run_dir, timeout=args.timeout)
                        o = Outcome(res.wall, judge(job, ctx, w, res, out, run_dir, env, args.timeout))
                        s = series[(w, job)]
                        if o.failure and job.group == "lines" and not s.runs:
                            s.na = o.failure
                        s.runs[rep] = o
                finally:
                    shutil.rmtree(run_dir, ignore_errors=True)
                log(f"[rep {rep + 1}/{args.reps} {n}/{len(jobs)}] {w:<10} {label:<50} {o.wall:7.2f}s"
                    + (f"  FAILED {o.failure}" if o.failure else ""))
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: reporting the runs done so far")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    report = render(args, cmdline, started, load_start, build_start, interrupted, python, py_version, versions,
                    tools, workloads, groups, configs, variants, base, series)
    print(report)
    if args.out:
        log(put_section(Path(args.out), "agent: " + ",".join(sorted(groups)), report))
    return 130 if interrupted else 0


# --------------------------------------------------------------------------
# Report


def ratios_of(s: Series, b: Series) -> list[float]:
    out = []
    for rep, o in s.runs.items():
        bo = b.runs.get(rep)
        if o.failure is None and bo is not None and bo.failure is None:
            out.append(o.wall / bo.wall)
    return out


def failures(s: Series) -> str:
    counts: dict[str, int] = {}
    for o in s.runs.values():
        if o.failure:
            counts[o.failure] = counts.get(o.failure, 0) + 1
    return "; ".join(f"{n}× {f}" for f, n in counts.items())


def render(args, cmdline, started, load_start, build_start, interrupted, python, py_version, versions, tools,
           workloads, groups, configs, variants, base, series) -> str:
    finished = _dt.datetime.now().astimezone()
    load_end = os.getloadavg()
    build_end = build_state(python)
    (git0, ext0), (git1, ext1) = build_start, build_end
    build = "snakescope: extension " + (
        ext0 if ext0 == ext1 else f"**rebuilt during the run**: {ext0} at the start, {ext1} at the end")
    build += "; source at " + (git0 if git0 == git1 else f"{git0} at the start, {git1} at the end")
    vers = ", ".join(f"{d} {versions.get(d) or 'not installed'}" for d in DISTS)
    L = [f"## `snakescope run` ({', '.join(groups)}) vs pyinstrument, scalene, cProfile, yappi, kernprof "
         f"(median ratio to unprofiled [IQR])",
         "",
         f"- Command: `{cmdline}`" + ("  **(interrupted: partial results)**" if interrupted else ""),
         f"- Date: {started:%Y-%m-%d %H:%M %Z}, took {(finished - started).total_seconds() / 60:.1f} min; "
         f"{cpu_model()}, {os.cpu_count()} CPUs, load average {load_start[0]:.2f} at start, "
         f"{load_end[0]:.2f} at end; {platform.system()} {platform.release()}",
         f"- Python {py_version} (`{python}`); {vers} (importlib.metadata)",
         f"- {build}",
         f"- Groups: {', '.join(groups)}; workloads: {', '.join(workloads)}; "
         f"{args.reps} repetition{'s' if args.reps != 1 else ''}, "
         f"shuffle seed {args.seed}; environment of every run: "
         + ", ".join(f"{k}={v}" for k, v in RUN_ENV_OVERRIDES.items()),
         "",
         "Each repetition runs every workload unprofiled"
         + (" (and its `@profile` copy, `lines/W.py`, unprofiled)" if True in variants else "")
         + " and under every configuration, all in one shuffled order; a ratio is a profiled "
           "wall time (`perf_counter` around the whole command: start-up, the program, writing the "
           "output) over the unprofiled run of the same workload file in the same repetition. "
           "A run counts if it exits 0 and writes its output file; a line-profiling run also needs "
           "the hot function's line profile in its output."
         + (" Sampling tools run at their default interval (snakescope and pyinstrument 1 ms, "
            "scalene 10 ms of CPU time), plus scalene at 1 ms." if "sampling" in groups else "")
         + (" yappi's default clock is the thread's CPU time (a system call per event); "
            "`-c wall` is also shown." if "exact" in groups else "")
         + (" snakescope with `@profile` or `--lines` also samples at 1 kHz; `--lines` names the "
            "function as `SCRIPT_STEM:FUNC`." if "lines" in groups else "")
         + " Differences smaller than the IQRs are noise.",
         ""]

    def cell(w: str, c: Config) -> str:
        t = tools[c.tool]
        if not t.usable:
            return t.status.split(" (")[0]
        s = series[(w, c)]
        if s.na is not None:
            return f"n/a (failed: {s.na})"
        rs = ratios_of(s, base[(w, c.decorated)])
        if not rs:
            fails = [o.failure for o in s.runs.values() if o.failure]
            return f"failed: {max(set(fails), key=fails.count)}" if fails else "–"
        med, iqr = fmt_ratio(rs)
        return f"{med} [{iqr}]"

    rows = [[c.group, c.label] + [cell(w, c) for w in workloads] for c in configs]
    L.append(md_table(["group", "profiler", *workloads], rows))
    L.append("")

    rows = []
    for w in workloads:
        for v in variants:
            b = base[(w, v)]
            walls = [o.wall for o in b.runs.values() if o.failure is None]
            rows.append([w, "unprofiled" + (" (`lines/` copy)" if v else ""),
                         f"`{'PY lines/W.py' if v else 'PY W.py'}`",
                         f"{statistics.median(walls):.2f}" if walls else "–", "–",
                         f"{len(walls)}/{len(b.runs)}", failures(b)])
        for c in configs:
            s = series[(w, c)]
            t = tools[c.tool]
            walls = [o.wall for o in s.runs.values() if o.failure is None]
            rs = ratios_of(s, base[(w, c.decorated)]) if t.usable else []
            note = (t.status if not t.usable else f"n/a (failed: {s.na})" if s.na else failures(s))
            rows.append([w, c.label, f"`{command_text(c)}`",
                         f"{statistics.median(walls):.2f}" if walls else "–",
                         fmt_ratio(rs)[0], f"{len(rs)}/{len(s.runs)}", note])
    L.append("<details><summary>Commands, wall times, failures</summary>")
    L.append("")
    L.append(md_table(["workload", "profiler", "command (W = workload, PY = python, TMP = temp dir)",
                       "wall s (median)", "ratio", "runs ok", "notes"], rows))
    L.append("")
    L.append("</details>")
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
