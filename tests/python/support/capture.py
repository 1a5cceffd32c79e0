"""The capture (docs/capture-format.md): validation, stacks resolved to
frames, recording one, and the hand-written captures the tests use."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import jsonschema

from .paths import REPO
from .processes import RECORD_TIMEOUT, Result, assert_clean_stderr, run

# Stack shapes. Reading a stack while the target changes it can yield a stack
# that never existed. snakescope discards the tears it detects (torn_stacks),
# but a read that races a generator's resume or a call/return can look
# consistent (the same frame address is reused), so assertions about the
# shape of stacks through code that calls, returns, yields or awaits every
# millisecond allow TORN_ALLOWANCE of the samples to be malformed. Found
# rate: about 1 sample in 1000 through `crunch`/`produce` (gen_async.py).
# Where the stack cannot change while sampled (deep_recursion.py spinning in
# leaf) the shape is checked on every sample.
TORN_ALLOWANCE = 0.01


def assert_shapes(stacks: Iterable["Stack"], ok: Callable[["Stack"], bool], what: str) -> None:
    """All but TORN_ALLOWANCE of the samples in `stacks` satisfy `ok`."""
    stacks = list(stacks)
    total = sum(s.count for s in stacks)
    bad = [s for s in stacks if not ok(s)]
    n_bad = sum(s.count for s in bad)
    assert total > 0, f"{what}: no samples"
    shown = "\n".join(f"  {s.count:5d} x {s.functions}" for s in bad[:5])
    assert n_bad <= TORN_ALLOWANCE * total, (
        f"{what}: {n_bad} of {total} samples have an impossible stack:\n{shown}"
    )


# The capture's JSON Schema (docs/capture.schema.json, generated from the Rust
# model by `make schema`) says what each field is; validate_capture adds what a
# schema cannot say (indices in range, distinct stacks, counts that add up), as
# snakescope's own reader refuses them.
CAPTURE_SCHEMA_PATH = REPO / "docs" / "capture.schema.json"
DUMP_SCHEMA_PATH = REPO / "docs" / "dump.schema.json"


@functools.lru_cache(maxsize=None)
def _validator(path: Path) -> jsonschema.protocols.Validator:
    with open(path, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def assert_schema(data: Any, path: Path, what: str) -> None:
    """Asserts `data` is valid against the JSON Schema in `path`, naming where not."""
    error = jsonschema.exceptions.best_match(_validator(path).iter_errors(data))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise AssertionError(f"{what}{where}: {error.message} ({path.name}: {error.json_path})")


def validate_capture(data: Any) -> None:
    """Asserts `data` is a well-formed, self-consistent version-1 capture."""
    assert_schema(data, CAPTURE_SCHEMA_PATH, "capture")
    meta = data["meta"]
    assert meta["lost_ticks"] <= meta["ticks"], f"lost_ticks/ticks: {meta}"
    keys = [(f["function"], f["qualname"], f["file"], f["line"]) for f in data["frames"]]
    assert len(set(keys)) == len(keys), "frames are not distinct"
    tids = [t["tid"] for t in data["threads"]]
    assert len(set(tids)) == len(tids), "a tid has more than one thread entry"

    sums = [[0, 0, 0] for _ in data["threads"]]
    seen = set()
    for i, s in enumerate(data["stacks"]):
        assert 0 <= s["thread"] < len(data["threads"]), f"stacks[{i}].thread out of range"
        assert all(0 <= f < len(data["frames"]) for f in s["frames"]), \
            f"stacks[{i}].frames has an index out of range"
        key = (s["thread"], tuple(s["frames"]), s["idle"], s["gil"])
        assert key not in seen, f"stacks[{i}] repeats an earlier (thread, frames, idle, gil)"
        seen.add(key)
        sums[s["thread"]][0] += s["count"]
        sums[s["thread"]][1] += s["count"] if s["idle"] else 0
        sums[s["thread"]][2] += s["count"] if s["gil"] else 0
        if not meta["include_idle"]:
            assert not s["idle"], f"stacks[{i}] is idle in a capture without --idle"
        if meta["gil_only"]:
            assert s["gil"], f"stacks[{i}] lacks the GIL in a --gil capture"
    for t, (samples, idle, gil) in zip(data["threads"], sums):
        assert t["samples"] == samples, f"thread {t['tid']}: samples {t['samples']} != {samples}"
        assert t["idle_samples"] == idle, f"thread {t['tid']}: idle_samples {t['idle_samples']} != {idle}"
        assert t["gil_samples"] == gil, f"thread {t['tid']}: gil_samples {t['gil_samples']} != {gil}"
        # A thread is sampled at most once per sampling instant.
        assert t["samples"] <= meta["ticks"], f"thread {t['tid']} has more samples than ticks"
    for i, site in enumerate(data.get("memory", {}).get("sites", [])):
        assert all(0 <= f < len(data["frames"]) for f in site["frames"]), \
            f"memory.sites[{i}].frames has an index out of range"


@dataclasses.dataclass(frozen=True)
class Stack:
    thread: dict
    frames: tuple  # frame dicts, root first
    idle: bool
    gil: bool
    count: int

    @property
    def functions(self) -> list[str]:
        return [f["function"] for f in self.frames]

    @property
    def tid(self) -> int:
        return self.thread["tid"]

    @property
    def leaf(self) -> dict | None:
        return self.frames[-1] if self.frames else None

    def has(self, function: str) -> bool:
        return any(f["function"] == function for f in self.frames)


class Capture:
    """A validated capture with its stacks resolved."""

    def __init__(self, data: dict):
        validate_capture(data)
        self.data = data
        self.meta: dict = data["meta"]
        self.threads: list[dict] = data["threads"]
        self.frames: list[dict] = data["frames"]
        self.stacks: list[Stack] = [
            Stack(self.threads[s["thread"]], tuple(self.frames[i] for i in s["frames"]),
                  s["idle"], s["gil"], s["count"])
            for s in data["stacks"]
        ]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Capture":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    @property
    def total(self) -> int:
        return sum(s.count for s in self.stacks)

    def count(self, pred: Callable[[Stack], bool]) -> int:
        return sum(s.count for s in self.stacks if pred(s))

    def samples_by_tid(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for s in self.stacks:
            out[s.tid] = out.get(s.tid, 0) + s.count
        return out

    def summary(self) -> str:
        """A short text for assertion messages: meta and the top stacks."""
        top = sorted(self.stacks, key=lambda s: -s.count)[:8]
        lines = [f"meta: {json.dumps(self.meta)}"]
        for s in top:
            names = ";".join(f["function"] for f in s.frames[-6:])
            lines.append(f"  {s.count:6d} tid={s.tid} idle={s.idle} gil={s.gil} ...{names}")
        return "\n".join(lines)


def record(snakescope: str, command: Sequence[str], out: Path, *, options: Sequence[str] = (),
           expect_status: int = 0, timeout: float = RECORD_TIMEOUT,
           cwd: str | os.PathLike | None = None) -> tuple[Result, Capture]:
    """`snakescope record -o OUT [options] -- command`, OUT a .json capture."""
    assert out.suffix == ".json" and not out.name.endswith(".speedscope.json")
    args = [snakescope, "record", "-o", str(out), *options, "--", *command]
    result = run(args, timeout=timeout, cwd=cwd)
    assert result.returncode == expect_status, \
        f"exit status {result.returncode}, expected {expect_status}{result.describe()}"
    assert_clean_stderr(result)
    assert out.is_file(), f"no capture written to {out}{result.describe()}"
    return result, Capture.load(out)


def attach(snakescope: str, pid: int, out: Path, *, seconds: float,
           options: Sequence[str] = ()) -> tuple[Result, Capture]:
    """`snakescope record --pid PID --duration SECONDS -o OUT [options]`."""
    args = [snakescope, "record", "--pid", str(pid), "--duration", f"{seconds:g}",
            "-o", str(out), *options]
    result = run(args, timeout=seconds + RECORD_TIMEOUT)
    assert result.returncode == 0, f"exit status {result.returncode}{result.describe()}"
    assert_clean_stderr(result)
    assert out.is_file(), f"no capture written to {out}{result.describe()}"
    return result, Capture.load(out)




# A small hand-written capture (docs/capture-format.md), used by the report
# tests (exact expected renderings) and the malformed-capture tests.
SYNTHETIC = {
    "format": "snakescope-capture",
    "version": 1,
    "meta": {
        "tool_version": "0.1.0", "mode": "record", "command": ["python3", "app.py"],
        "pid": 4242, "python_version": "3.11.7", "requested_rate_hz": 1000.0,
        "started_unix_s": 1795000000.25, "duration_s": 0.1, "ticks": 100, "lost_ticks": 0,
        "torn_stacks": 0, "include_idle": True, "gil_only": False, "exit_code": 0,
    },
    "threads": [
        {"tid": 4242, "name": "MainThread", "samples": 85, "idle_samples": 0, "gil_samples": 85},
        {"tid": 4243, "name": None, "samples": 20, "idle_samples": 10, "gil_samples": 5},
    ],
    "frames": [
        {"function": "<module>", "qualname": "<module>", "file": "/src/app.py", "line": 30},
        {"function": "main", "qualname": "main", "file": "/src/app.py", "line": 25},
        {"function": "heavy", "qualname": "heavy", "file": "/src/app.py", "line": 10},
        {"function": "work", "qualname": "Worker.work", "file": "/src/app.py", "line": 5},
        {"function": "light", "qualname": "light", "file": "/src/app.py", "line": 15},
        {"function": "work", "qualname": "Worker.work", "file": "/src/app.py", "line": 6},
        {"function": "poll", "qualname": None, "file": "/src/we;ird.py", "line": 0},
        {"function": "run", "qualname": "Thread.run", "file": "/usr/lib/python3.11/threading.py",
         "line": 0},
    ],
    "stacks": [
        {"thread": 0, "frames": [0, 1, 2, 3], "idle": False, "gil": True, "count": 56},
        {"thread": 0, "frames": [0, 1, 2], "idle": False, "gil": True, "count": 7},
        {"thread": 0, "frames": [0, 1, 4, 5], "idle": False, "gil": True, "count": 22},
        {"thread": 1, "frames": [7, 6], "idle": True, "gil": False, "count": 10},
        {"thread": 1, "frames": [7, 6], "idle": False, "gil": False, "count": 5},
        {"thread": 1, "frames": [7, 6], "idle": False, "gil": True, "count": 5},
    ],
}


def synthetic_exact(file: str = "/src/app.py") -> dict:
    """A hand-written capture of `run --exact` with `@profile` on `main`
    (docs/capture-format.md; the same round figures as the Rust tests'
    fixture, crates/snakescope-formats/src/fixture.rs): main (line 1) calls
    Worker.fib once, which calls itself 20 times, and len 100 times; 122
    calls, 102 primitive, in 1.0 s. main's line 2 ran once in 0.1 s, line 3
    100 times in 0.9 s. No threads, no stacks."""
    def caller(function, calls, primitive, tottime, cumtime):
        return {"function": function, "calls": calls, "primitive_calls": primitive,
                "tottime_s": tottime, "cumtime_s": cumtime}

    def function(frame, calls, primitive, tottime, cumtime, callers):
        return {"frame": frame, "calls": calls, "primitive_calls": primitive,
                "tottime_s": tottime, "cumtime_s": cumtime, "callers": callers}

    return {
        "format": "snakescope-capture",
        "version": 1,
        "meta": {
            "tool_version": "0.1.0", "mode": "exact", "command": ["python3", "app.py"],
            "pid": 4242, "python_version": "3.12.1", "requested_rate_hz": 0.0,
            "started_unix_s": 1795000000.25, "duration_s": 1.0, "ticks": 0, "lost_ticks": 0,
            "torn_stacks": 0, "include_idle": False, "gil_only": False, "exit_code": 0,
        },
        "threads": [],
        "frames": [
            {"function": "main", "qualname": "main", "file": file, "line": 1},
            {"function": "fib", "qualname": "Worker.fib", "file": file, "line": 5},
            {"function": "<built-in method builtins.len>", "qualname": None, "file": "~", "line": 0},
        ],
        "stacks": [],
        "exact": {"version": 1, "functions": [
            function(0, 1, 1, 0.1, 1.0, []),
            function(1, 21, 1, 0.6, 0.6, [caller(0, 1, 1, 0.03, 0.6), caller(1, 20, 0, 0.57, 0.55)]),
            function(2, 100, 100, 0.3, 0.3, [caller(0, 100, 100, 0.3, 0.3)]),
        ]},
        "lines": {"version": 1, "functions": [{
            "frame": 0,
            "lines": [{"line": 2, "hits": 1, "time_s": 0.1}, {"line": 3, "hits": 100, "time_s": 0.9}],
            "source": EXACT_SOURCE,
        }]},
    }


# The source of `main` in synthetic_exact(), from its first line.
EXACT_SOURCE = ["def main():", "    w = Worker(); w.fib(20)", '    for i in range(100): len("x")']


def validate_dump(data: Any) -> list[dict]:
    """Checks `dump --json` output against docs/dump.schema.json."""
    assert_schema(data, DUMP_SCHEMA_PATH, "dump")
    tids = [t["tid"] for t in data]
    assert len(set(tids)) == len(tids), "a thread is listed twice"
    return data
