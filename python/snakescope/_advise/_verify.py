"""``advise --verify``: each mechanical finding's rewrite applied to a copy of
the program (``_rewrite.py``), the original and the copy run with the same
arguments, interleaved (ABBA, so a change of the machine's load falls on
both), their output and exit status compared, and the measured ratio of
their wall times (and peak RSS) reported with its spread. The original file
is never written; the copy lives in a temporary directory, with the
original's directory on its PYTHONPATH so its imports resolve as before.
"""

import difflib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from . import _rewrite


def verify_all(found, program, repeat, patch_path):
    if not program or program[0] != "script":
        raise SystemExit("snakescope advise: --verify runs a script (`advise --verify app.py ARGS`)")
    path, args = program[1], program[2:]
    with open(path, encoding="utf-8") as f:
        source = f.read()
    patches = []
    work = tempfile.mkdtemp(prefix="snakescope-verify-")
    try:
        for finding in found:
            if finding.rewrite is None or os.path.abspath(finding.hot.file) != os.path.abspath(path):
                continue
            finding.verified = _verify_one(finding, source, path, args, repeat, work)
            if finding.verified["patch"] and finding.verified["status"] in ("faster", "smaller"):
                patches.append(finding.verified["patch"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if patch_path:
        with open(patch_path, "w", encoding="utf-8") as f:
            f.write("".join(patches))


def _verify_one(finding, source, path, args, repeat, work):
    try:
        new = _rewrite.apply(source, finding.rewrite)
    except Exception as exc:  # libcst could not parse or transform: said, not raised
        new, why = None, f"the rewrite failed: {exc}"
    else:
        why = "the code is not in the shape the rewrite handles"
    if new is None:
        return _result("not applied", why)
    patch = "".join(difflib.unified_diff(
        source.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"a/{path}", tofile=f"b/{path}"))
    copy = os.path.join(work, os.path.basename(path))
    with open(copy, "w", encoding="utf-8") as f:
        f.write(new)
    runs = _interleaved(path, copy, args, repeat)
    first = runs["a"][0]
    for run in runs["a"] + runs["b"]:
        if (run["out"], run["code"]) != (first["out"], first["code"]):
            side = "rewritten" if run in runs["b"] else "original"
            return _result("rejected", f"the {side} program's output or exit status differed "
                           "from the original's: the rewrite changes what it does", patch=patch)
    return _measured(finding, runs, repeat, patch)


def _interleaved(original, copy, args, repeat):
    env = dict(os.environ)
    here = os.path.dirname(os.path.abspath(original))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    runs = {"a": [], "b": []}
    for i in range(repeat):
        order = ("a", "b") if i % 2 == 0 else ("b", "a")
        for side in order:
            script = original if side == "a" else copy
            runs[side].append(_run([sys.executable, script, *args], env))
    return runs


def _run(command, env):
    """One run: wall time, output, exit status and peak RSS (os.wait4's, of
    this child alone). Output goes to files, so the child is reaped by wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = 0  # reaped here: Popen must not wait for it again
        out.seek(0)
        err.seek(0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return {"wall": wall, "out": (out.read(), err.read()), "code": code,
                "rss": usage.ru_maxrss}


def _measured(finding, runs, repeat, patch):
    ratios = sorted(a["wall"] / b["wall"] for a, b in zip(runs["a"], runs["b"]))
    ratio = statistics.median(ratios)
    rss = [(a["rss"], b["rss"]) for a, b in zip(runs["a"], runs["b"]) if a["rss"] and b["rss"]]
    rss_ratio = statistics.median(a / b for a, b in rss) if rss else None
    spread = f"{ratio:.2f}x (paired runs {ratios[0]:.2f}-{ratios[-1]:.2f}x, {repeat} each)"
    if finding.resource == "memory" and rss_ratio and rss_ratio > 1.05:
        status, detail = "smaller", (f"same output; peak RSS {rss_ratio:.2f}x smaller "
                                     f"(medians), time {spread}")
    elif ratios[0] > 1.0:
        status, detail = "faster", f"same output; {spread} faster (every paired run faster)"
    else:
        status, detail = "no gain", (f"same output; no measured gain: {spread} "
                                     "(not every paired run was faster)")
    return _result(status, detail, ratio, ratios[0], ratios[-1], repeat, rss_ratio, patch)


def _result(status, detail, ratio=None, low=None, high=None, repeat=0, rss=None, patch=""):
    def rnd(x):
        return None if x is None else round(x, 3)

    return {"status": status, "detail": detail, "ratio": rnd(ratio), "ratio_low": rnd(low),
            "ratio_high": rnd(high), "repetitions": repeat, "rss_ratio": rnd(rss), "patch": patch}
