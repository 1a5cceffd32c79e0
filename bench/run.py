#!/usr/bin/env python3
"""Benchmark harness: overhead of snakescope vs py-spy vs austin.

Stdlib only (Python 3.11+). See bench/README.md for what is measured and how
to read the output. Usage:

    python3 bench/run.py [--reps N] [--quick] [--workloads a,b] [--out FILE]
                         [--snakescope PATH] [--python PATH] [--timeout S] [--seed N]

For every repetition and workload, the workload is run once unprofiled
once under every profiler configuration, in a shuffled order, each profiled
run next to its own unprofiled (baseline) run, the two in random order; the
ratio profiled_wall / baseline_wall of each pair is computed; the tables report the
median and interquartile range of those ratios.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORKLOAD_DIR = BENCH_DIR / "workloads"
VENV_BIN = REPO / ".venv" / "bin"

ALL_WORKLOADS = ["julia", "nbody_like", "numpy_work"]
FULL_RATES = [100, 1000, 10000]
QUICK_RATES = [1000]
FULL_PROBE_RATES = [100_000, 200_000, 500_000]
QUICK_PROBE_RATES = [100_000]
PROBE_WORKLOAD = "julia"
PROFILERS = ["snakescope", "py-spy", "austin"]

# Environment for every run (baseline and profiled alike): keep BLAS
# single-threaded so numpy_work is one busy thread like the other workloads
# (and does not fight the profiler for the CPUs), and don't write .pyc files
# next to the workloads.
RUN_ENV_OVERRIDES = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Running one command


@dataclass
class RunResult:
    wall: float
    rc: int | None  # exit code (negative = killed by signal); None if timed out
    timed_out: bool
    peak_rss_kb: int | None  # VmHWM of the direct child, polled
    stdout_text: str = ""
    stderr_text: str = ""
    orphaned: bool = False  # the command exited but left processes behind (e.g. its target)

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.rc == 0 and not self.orphaned

    def failure(self) -> str:
        if self.timed_out:
            return "timeout"
        if self.rc == 0 and self.orphaned:
            return "exited before its target (wall time invalid)"
        return f"rc={self.rc}" + (f": {error_line(self.stderr_text)}" if self.stderr_text.strip() else "")


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ERRORISH = re.compile(r"error|not |fail|cannot|can't|denied|permission|unsupported", re.I)


def error_line(text: str) -> str:
    """The most informative line of a tool's stderr (ANSI colours stripped)."""
    lines = [ln.strip() for ln in _ANSI.sub("", text).splitlines() if ln.strip()]
    if not lines:
        return ""
    pick = next((ln for ln in lines if _ERRORISH.search(ln)), lines[-1])
    return pick[:120]


def _read_vmhwm_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def run_cmd(cmd: list[str], *, env: dict, cwd: Path, timeout: float,
            capture_stdout: bool = False, poll_interval: float = 0.02) -> RunResult:
    """Run cmd, time it with perf_counter, reap it with os.wait4.

    The command runs in its own session/process group so a timeout (or the
    cleanup after any run) kills the profiler *and* the target it launched.
    Peak RSS is the direct child's VmHWM from /proc, polled every
    poll_interval seconds: wait4's ru_maxrss cannot be used for the profiler
    alone because on Linux it is max(child, the child's waited-for
    descendants), i.e. it would include the profiled target.
    """
    with tempfile.TemporaryFile(dir=cwd) as err_f, tempfile.TemporaryFile(dir=cwd) as out_f:
        stdout = out_f if capture_stdout else subprocess.DEVNULL
        timed_out = threading.Event()
        done = threading.Event()
        hwm = [None]

        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err_f,
                                env=env, cwd=cwd, start_new_session=True)
        pid = proc.pid

        def on_timeout():
            timed_out.set()
            _killpg(pid)

        def poll_rss():
            while not done.wait(poll_interval):
                v = _read_vmhwm_kb(pid)
                if v is not None:
                    hwm[0] = v if hwm[0] is None else max(hwm[0], v)

        timer = threading.Timer(timeout, on_timeout)
        timer.daemon = True
        poller = threading.Thread(target=poll_rss, daemon=True)
        timer.start()
        poller.start()
        try:
            _, status, _ru = os.wait4(pid, 0)
            wall = time.perf_counter() - t0
        except BaseException:
            _killpg(pid)
            try:
                os.wait4(pid, 0)
            except ChildProcessError:
                pass
            proc.returncode = -9
            raise
        finally:
            done.set()
            timer.cancel()
            poller.join()
        # Anything left in the process group (e.g. the target of a profiler that
        # exited early) makes the wall time meaningless; a zombie waiting for
        # init to reap it is given a moment to disappear.
        orphaned = False
        if _group_alive(pid):
            time.sleep(0.1)
            orphaned = _group_alive(pid)
        _killpg(pid)
        rc = os.waitstatus_to_exitcode(status)
        proc.returncode = rc  # already reaped: keep Popen from waiting again

        err_f.seek(0)
        err_text = err_f.read().decode("utf-8", "replace")
        out_text = ""
        if capture_stdout:
            out_f.seek(0)
            out_text = out_f.read().decode("utf-8", "replace")
    return RunResult(wall=wall, rc=None if timed_out.is_set() else rc,
                     timed_out=timed_out.is_set(), peak_rss_kb=hwm[0],
                     stdout_text=out_text, stderr_text=err_text, orphaned=orphaned)


# --------------------------------------------------------------------------
# Tools


@dataclass
class Tool:
    name: str
    path: str | None
    version: str | None
    status: str  # "ok", "not installed", "not built", "not runnable: ..."

    @property
    def usable(self) -> bool:
        return self.status == "ok"


def _first_line(s: str) -> str:
    return next((ln.strip() for ln in s.splitlines() if ln.strip()), "")


def probe_version(path: str, args: list[str]) -> tuple[str | None, str | None]:
    """Return (version, error)."""
    try:
        cp = subprocess.run([path, *args], capture_output=True, text=True, timeout=20,
                            stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    text = (cp.stdout + "\n" + cp.stderr).strip()
    if cp.returncode != 0:
        return None, _first_line(cp.stderr) or f"exit status {cp.returncode}"
    return _first_line(text) or "unknown version", None


def find_peer(name: str) -> Tool:
    path = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    if not path:
        return Tool(name, None, None, "not installed")
    version, err = probe_version(path, ["--version"])
    if err:
        return Tool(name, path, None, f"not runnable: {err[:100]}")
    return Tool(name, path, _ANSI.sub("", version), "ok")


def find_snakescope(explicit: str | None) -> Tool:
    candidates = []
    if explicit:
        candidates.append(explicit)
    else:
        if os.environ.get("SNAKESCOPE_BIN"):
            candidates.append(os.environ["SNAKESCOPE_BIN"])
        candidates.append(str(REPO / "target" / "release" / "snakescope"))
        w = shutil.which("snakescope")
        if w:
            candidates.append(w)
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            version, err = probe_version(c, ["--version"])
            if err:
                # --version may not exist yet; the binary is still usable.
                version = "unknown version"
            return Tool("snakescope", c, version, "ok")
    return Tool("snakescope", None, None, "not built")


# --------------------------------------------------------------------------
# Configurations


@dataclass(frozen=True)
class Config:
    profiler: str  # "baseline" or one of PROFILERS
    rate: int = 0
    probe: bool = False

    @property
    def label(self) -> str:
        return "baseline" if self.profiler == "baseline" else f"{self.profiler} @ {self.rate} Hz"


def build_command(cfg: Config, tools: dict[str, Tool], python: str, script: Path,
                  tmp: Path) -> tuple[list[str], Path | None, bool]:
    """Return (argv, output file or None, capture_stdout)."""
    target = [python, str(script)]
    if cfg.profiler == "baseline":
        return target, None, False
    exe = tools[cfg.profiler].path
    if cfg.profiler == "snakescope":
        out = tmp / "capture.json"
        return [exe, "record", "--rate", str(cfg.rate), "-o", str(out), "--quiet", "--", *target], out, False
    if cfg.profiler == "py-spy":
        out = tmp / "pyspy.svg"
        # default (blocking) mode; py-spy prints its summary ("Samples: N") on stdout
        return [exe, "record", "--rate", str(cfg.rate), "-o", str(out), "--", *target], out, True
    if cfg.profiler == "austin":
        out = tmp / "out.austin"
        interval_us = max(1, round(1_000_000 / cfg.rate))
        # -t 1000: wait up to 1 s (default 100 ms) for the target's runtime to
        # appear; with the default, ~5% of runs on a loaded machine fail with
        # "not a Python process" (exit 32). It only bounds a start-up wait.
        return [exe, "-t", "5000", "-i", str(interval_us), "-o", str(out), *target], out, False
    raise ValueError(cfg.profiler)


@dataclass
class Sample:
    ratio: float | None = None
    wall: float | None = None
    eff_rate: float | None = None
    eff_approx: bool = False
    rss_kb: int | None = None
    lost_frac: float | None = None
    torn: int | None = None
    failure: str | None = None


def effective_rate(cfg: Config, out: Path | None, res: RunResult) -> dict:
    """Effective sampling rate and extras from the profiler's output."""
    info: dict = {}
    try:
        if cfg.profiler == "snakescope" and out is not None:
            with open(out) as f:
                meta = json.load(f)["meta"]
            ticks, lost, dur = meta["ticks"], meta.get("lost_ticks", 0), meta["duration_s"]
            if dur > 0:
                info["eff_rate"] = (ticks - lost) / dur
            info["lost_frac"] = lost / ticks if ticks else None
            info["torn"] = meta.get("torn_stacks")
        elif cfg.profiler == "py-spy":
            m = re.search(r"Samples:\s*(\d+)", res.stdout_text)
            if m and res.wall > 0:
                # approximate: py-spy does not report its sampling duration
                info["eff_rate"] = int(m.group(1)) / res.wall
                info["eff_approx"] = True
        elif cfg.profiler == "austin" and out is not None:
            n = 0
            dur_us = None
            with open(out, "rb") as f:
                for line in f:
                    if line.startswith(b"#"):
                        m = re.match(rb"#\s*duration:\s*(\d+)", line)
                        if m:
                            dur_us = int(m.group(1))
                    elif line.strip():
                        n += 1  # one line per (thread) sample in austin's text format
            if dur_us:
                info["eff_rate"] = n / (dur_us / 1e6)
    except (OSError, ValueError, KeyError, TypeError) as e:
        info["parse_error"] = f"{type(e).__name__}: {e}"
    return info


# --------------------------------------------------------------------------
# Statistics and formatting


def timed(command: list[str]) -> float:
    """Wall seconds of `command` (output discarded); exits when it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench: `{' '.join(command)}` exited with {done.returncode}")
    return wall


def quartiles(xs: list[float]) -> tuple[float, float, float] | None:
    if not xs:
        return None
    xs = sorted(xs)
    med = statistics.median(xs)
    if len(xs) < 2:
        return xs[0], med, xs[0]
    q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, med, q3


def fmt_ratio(xs: list[float]) -> tuple[str, str]:
    q = quartiles(xs)
    if q is None:
        return "–", "–"
    q1, med, q3 = q
    return f"{med:.3f}×", f"{q1:.3f}–{q3:.3f}"


def fmt_rate(xs: list[float], requested: int, approx: bool) -> str:
    if not xs:
        return "–"
    med = statistics.median(xs)
    pre = "≈" if approx else ""
    return f"{pre}{med:,.0f} ({med / requested * 100:.0f}%)"


def fmt_mib(kbs: list[int]) -> str:
    if not kbs:
        return "–"
    return f"{statistics.median(kbs) / 1024:.1f}"


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


# --------------------------------------------------------------------------
# Machine info


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def python_info(python: str) -> tuple[str | None, str | None, str | None]:
    """(version, realpath of executable, numpy version or None)."""
    code = ("import sys, platform, os\n"
            "try:\n import numpy; nv = numpy.__version__\n"
            "except Exception: nv = ''\n"
            "print(platform.python_version()); print(os.path.realpath(sys.executable)); print(nv)")
    try:
        cp = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None, None, None
    if cp.returncode != 0:
        return None, None, None
    lines = cp.stdout.splitlines() + ["", "", ""]
    return lines[0] or None, lines[1] or None, lines[2] or None


# --------------------------------------------------------------------------
# Main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="snakescope overhead benchmark (vs py-spy, austin)")
    ap.add_argument("--reps", type=int, default=None,
                    help="repetitions (default 5; 2 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke mode: 2 reps, only 1000 Hz, max-rate probe at 100 kHz only")
    ap.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                    help=f"comma separated subset of {','.join(ALL_WORKLOADS)}")
    ap.add_argument("--out", default=str(BENCH_DIR / "RESULTS.md"), help="Markdown output file")
    ap.add_argument("--snakescope", default=None,
                    help="snakescope binary (default: $SNAKESCOPE_BIN, target/release/snakescope, PATH)")
    ap.add_argument("--python", default=None,
                    help="interpreter running the workloads (default: the repo's .venv/bin/python "
                         "if present, else the interpreter running this script)")
    ap.add_argument("--timeout", type=float, default=300.0, help="per-run timeout in seconds")
    ap.add_argument("--seed", type=int, default=None, help="seed for the shuffled order")
    a = ap.parse_args(argv)
    if a.reps is None:
        a.reps = 2 if a.quick else 5
    if a.reps < 1:
        ap.error("--reps must be >= 1")
    a.workloads = [w.strip() for w in a.workloads.split(",") if w.strip()]
    bad = [w for w in a.workloads if w not in ALL_WORKLOADS]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {ALL_WORKLOADS}")
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    return a


def _sigterm(signum, frame):
    raise KeyboardInterrupt  # same clean-up path as Ctrl-C


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    cmdline = shlex.join(sys.orig_argv)  # exactly as invoked (interpreter included)
    started = _dt.datetime.now().astimezone()
    load_start = os.getloadavg()

    python = args.python
    if python is None:
        venv_py = VENV_BIN / "python"
        python = str(venv_py) if venv_py.exists() else sys.executable
    py_version, py_real, numpy_version = python_info(python)
    if py_version is None:
        log(f"error: cannot run the target interpreter {python!r}")
        return 2

    tools = {"snakescope": find_snakescope(args.snakescope),
             "py-spy": find_peer("py-spy"),
             "austin": find_peer("austin")}
    for t in tools.values():
        log(f"{t.name}: {t.status}" + (f" ({t.path}, {t.version})" if t.path else ""))

    rates = QUICK_RATES if args.quick else FULL_RATES
    probe_rates = QUICK_PROBE_RATES if args.quick else FULL_PROBE_RATES

    workloads: list[str] = []
    skipped: dict[str, str] = {}
    for w in args.workloads:
        if w == "numpy_work" and not numpy_version:
            skipped[w] = f"numpy is not importable by {python}"
            continue
        workloads.append(w)

    configs: dict[str, list[Config]] = {}
    for w in workloads:
        cs = [Config(p, r) for p in PROFILERS for r in rates]
        if w == PROBE_WORKLOAD:
            cs += [Config("snakescope", r, probe=True) for r in probe_rates]
        configs[w] = cs

    env = dict(os.environ)
    env.update(RUN_ENV_OVERRIDES)
    rng = random.Random(args.seed)
    samples: dict[tuple[str, Config], list[Sample]] = {}
    baselines: dict[str, list[RunResult]] = {w: [] for w in workloads}

    interrupted = False
    tmp_root = Path(tempfile.mkdtemp(prefix="snakescope-bench-"))
    try:
        # warm-up (page cache, .pyc of numpy etc.): one unmeasured baseline run each
        for w in workloads:
            r = run_cmd([python, str(WORKLOAD_DIR / f"{w}.py")], env=env, cwd=tmp_root,
                        timeout=args.timeout)
            log(f"warm-up {w}: {r.wall:.2f}s" + ("" if r.ok else f" FAILED {r.failure()}"))

        for rep in range(args.reps):
            for w in workloads:
                script = WORKLOAD_DIR / f"{w}.py"
                order = list(configs[w])
                rng.shuffle(order)
                for cfg in order:
                    s = Sample()
                    samples.setdefault((w, cfg), []).append(s)
                    if not tools[cfg.profiler].usable:
                        s.failure = tools[cfg.profiler].status
                        continue
                    run_dir = Path(tempfile.mkdtemp(dir=tmp_root))
                    try:
                        cmd, out, cap = build_command(cfg, tools, python, script, run_dir)
                        # Each profiled run is paired with its own unprofiled run,
                        # adjacent and in random order: this machine's speed drifts
                        # by +-15 % over tens of seconds, so a baseline taken a
                        # minute earlier would measure the drift, not the profiler.
                        def run_base():
                            return run_cmd([python, str(script)], env=env, cwd=tmp_root,
                                           timeout=args.timeout)
                        def run_prof():
                            return run_cmd(cmd, env=env, cwd=run_dir, timeout=args.timeout,
                                           capture_stdout=cap)
                        if rng.random() < 0.5:
                            base = run_base()
                            res = run_prof()
                        else:
                            res = run_prof()
                            base = run_base()
                        baselines[w].append(base)
                        s.wall, s.rss_kb = res.wall, res.peak_rss_kb
                        if not res.ok:
                            s.failure = res.failure()
                        else:
                            if base.ok:
                                s.ratio = res.wall / base.wall
                            info = effective_rate(cfg, out, res)
                            s.eff_rate = info.get("eff_rate")
                            s.eff_approx = info.get("eff_approx", False)
                            s.lost_frac = info.get("lost_frac")
                            s.torn = info.get("torn")
                            if "parse_error" in info:
                                s.failure = f"output unreadable ({info['parse_error'][:80]})"
                    finally:
                        shutil.rmtree(run_dir, ignore_errors=True)
                    ratio = f"{s.ratio:.3f}x" if s.ratio else "  –   "
                    log(f"[rep {rep + 1}/{args.reps}] {w:<11} {cfg.label:<19} {s.wall:7.2f}s  {ratio}"
                        + (f"  eff {s.eff_rate:,.0f} Hz" if s.eff_rate else "")
                        + (f"  FAILED {s.failure}" if s.failure else ""))
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: writing partial results")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    finished = _dt.datetime.now().astimezone()
    report = render(args, interrupted, cmdline, started, finished, load_start, python, py_version, py_real,
                    numpy_version, tools, workloads, skipped, configs, samples, baselines, rates,
                    probe_rates)
    print(report)
    log(put_section(Path(args.out), "record", report))
    return 130 if interrupted else 0


def _notes(ss: list[Sample]) -> str:
    notes = []
    fails: dict[str, int] = {}
    for s in ss:
        if s.failure:
            fails[s.failure] = fails.get(s.failure, 0) + 1
    for f, n in fails.items():
        notes.append(f"{n}× {f}")
    lost = [s.lost_frac for s in ss if s.lost_frac is not None]
    if lost:
        notes.append(f"lost ticks {statistics.median(lost) * 100:.2f}%")
    torn = [s.torn for s in ss if s.torn is not None]
    if torn:
        notes.append(f"torn stacks {statistics.median(torn):.0f}")
    return "; ".join(notes)


RESULTS_TITLE = """# snakescope benchmark results

Each section is the latest run of one harness (for agent.py and memory.py:
one selection of groups), with the command that made it; a rerun replaces
its own section (and the reading of it written below the tables) and leaves
the others. `make bench` runs all three harnesses.
"""


def put_section(path: Path, key: str, report: str) -> str:
    """Puts `report` into the Markdown file `path` as section `key`: in place
    of that key's previous section, else at the end (creating the file with
    its title). Returns a line saying which."""
    begin, end = f"<!-- bench: {key} -->", f"<!-- /bench: {key} -->"
    text = path.read_text(encoding="utf-8") if path.exists() else RESULTS_TITLE
    block = f"{begin}\n\n{report.strip()}\n\n{end}"
    i = text.find(begin)
    j = text.find(end, i) if i >= 0 else -1
    if i >= 0 and j >= 0:
        text = text[:i] + block + text[j + len(end):]
        done = "replaced"
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
        done = "appended"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return f"{done} section `{key}` of {path}"


def render(args, interrupted, cmdline, started, finished, load_start, python, py_version, py_real, numpy_version,
           tools, workloads, skipped, configs, samples, baselines, rates, probe_rates) -> str:
    L: list[str] = []
    L.append("## `snakescope record` (sampling from outside) vs py-spy and austin")
    L.append("")
    L.append(f"- Date: {started:%Y-%m-%d %H:%M %Z} (took {(finished - started).total_seconds() / 60:.1f} min)")
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    la_end = os.getloadavg()
    L.append(f"- Machine: {cpu_model()}, nproc {nproc}, {mem_total()} RAM, "
             f"{platform.system()} {platform.release()}; load average "
             f"{load_start[0]:.2f} at start, {la_end[0]:.2f} at end")
    L.append(f"- Python (target): {py_version} — `{python}`"
             + (f" → `{py_real}`" if py_real and py_real != python else ""))
    L.append(f"- numpy: {numpy_version or 'not importable'}")
    for name in PROFILERS:
        t = tools[name]
        if t.usable:
            L.append(f"- {name}: {t.version} — `{t.path}`")
        else:
            L.append(f"- {name}: **{t.status}**" + (f" — `{t.path}`" if t.path else ""))
    L.append(f"- Command: `{cmdline}`" + ("  **(interrupted: partial results)**" if interrupted else ""))
    L.append(f"- Repetitions: {args.reps}; shuffle seed {args.seed}; per-run timeout {args.timeout:g} s"
             + ("; **--quick**" if args.quick else ""))
    L.append("- Environment of every run: "
             + ", ".join(f"{k}={v}" for k, v in RUN_ENV_OVERRIDES.items()))
    for w, why in skipped.items():
        L.append(f"- Skipped workload `{w}`: {why}")
    L.append("")
    L.append("### How to read")
    L.append("")
    L.append("Each repetition runs every workload once under each profiler configuration, in a "
             "shuffled order, each profiled run next to its own unprofiled run (the two in random "
             "order). *Overhead* is the median, over repetitions, of `profiled wall / wall of its "
             "paired baseline` (1.000× = no "
             "overhead); *IQR* is the 25th–75th percentile of those ratios. Wall time is "
             "`time.perf_counter()` around the whole command, so it includes the profiler's start-up "
             "and the writing of its output file. The machine is shared and noisy: differences "
             "smaller than the IQRs are not meaningful. *Eff. rate* is the achieved sampling rate "
             "(and % of requested): for snakescope `(meta.ticks - meta.lost_ticks) / meta.duration_s` "
             "from the capture; for austin the number of samples in its output divided by its "
             "reported duration; for py-spy (≈) its reported sample count divided by the profiled "
             "wall time. *Peak RSS* is the profiler process's own peak resident set (VmHWM, polled "
             "every 20 ms, so growth in the last few ms of a run can be missed), excluding the target. "
             "py-spy runs in its default mode, which pauses the target for every sample.")
    L.append("")

    def cell(w: str, cfg: Config) -> str:
        t = tools[cfg.profiler]
        if not t.usable:
            return t.status.split(":")[0]
        ss = samples.get((w, cfg), [])
        ratios = [s.ratio for s in ss if s.ratio is not None]
        if not ratios:
            return "failed" if ss else "–"
        med, iqr = fmt_ratio(ratios)
        return f"{med} [{iqr}]"

    L.append("### Overhead summary (median ratio [IQR])")
    L.append("")
    rows = []
    for w in workloads:
        for r in rates:
            rows.append([w, f"{r:,}"] + [cell(w, Config(p, r)) for p in PROFILERS])
    L.append(md_table(["workload", "rate (Hz)", *PROFILERS], rows) if rows else "_no workloads ran_")
    L.append("")

    L.append("### Details")
    L.append("")
    rows = []
    for w in workloads:
        bw = [b.wall for b in baselines[w] if b.ok]
        brss = [b.peak_rss_kb for b in baselines[w] if b.ok and b.peak_rss_kb]
        rows.append([w, "baseline (unprofiled)", "–",
                     f"{statistics.median(bw):.2f}" if bw else "failed", "–", "–",
                     f"{len(bw)}/{len(baselines[w])}", "–",
                     f"target alone: {fmt_mib(brss)} MiB" if brss else "–"])
        for cfg in configs[w]:
            if cfg.probe:
                continue
            rows.append(detail_row(w, cfg, tools, samples))
    L.append(md_table(["workload", "profiler", "rate (Hz)", "wall (median s)", "overhead",
                       "IQR", "runs ok", "eff. rate Hz (% req.)", "peak RSS MiB / notes"], rows)
             if rows else "_no workloads ran_")
    L.append("")

    L.append(f"### snakescope max-rate probe (`{PROBE_WORKLOAD}`)")
    L.append("")
    if PROBE_WORKLOAD not in workloads:
        L.append(f"_not run: workload `{PROBE_WORKLOAD}` not selected_")
    else:
        rows = [detail_row(PROBE_WORKLOAD, c, tools, samples) for c in configs[PROBE_WORKLOAD]
                if c.probe]
        L.append(md_table(["workload", "profiler", "rate (Hz)", "wall (median s)", "overhead",
                           "IQR", "runs ok", "eff. rate Hz (% req.)", "peak RSS MiB / notes"], rows))
    L.append("")
    return "\n".join(L)


def detail_row(w: str, cfg: Config, tools: dict[str, Tool], samples) -> list[str]:
    t = tools[cfg.profiler]
    if not t.usable:
        return [w, cfg.profiler, f"{cfg.rate:,}", "–", t.status, "–", "–", "–", "–"]
    ss = samples.get((w, cfg), [])
    ratios = [s.ratio for s in ss if s.ratio is not None]
    walls = [s.wall for s in ss if s.wall is not None and not s.failure]
    effs = [s.eff_rate for s in ss if s.eff_rate is not None]
    approx = any(s.eff_approx for s in ss)
    rss = [s.rss_kb for s in ss if s.rss_kb and not s.failure]
    med, iqr = fmt_ratio(ratios)
    notes = _notes(ss)
    mib = fmt_mib(rss)
    return [w, cfg.profiler, f"{cfg.rate:,}",
            f"{statistics.median(walls):.2f}" if walls else "–",
            med, iqr, f"{len(ratios)}/{len(ss)}", fmt_rate(effs, cfg.rate, approx),
            mib + (f"; {notes}" if notes else "")]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
