"""Memory tracking under programs that are hard on it: asyncio with
thousands of tasks and an executor thread, deep generator chains,
generators closed from finalisers, threads ending while they allocate,
`gc.collect()` inside `__del__`. Ground truth: each program's own stdout and
exit status without snakescope; with it (sampled and exact) they must be
the same, and the capture must hold the program's allocations.

The asyncio program is issue 20's: on 3.12 (before 3.12.5) the census at
exit asked the `_asyncio` module for its referents, which hands out the
dead future iterators on its free list (CPython gh-122695); dropping them
freed them again and the interpreter's last collection crashed (exit 139)
or looped forever."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from support import RECORD_TIMEOUT, REPO, target_env, validate_capture

ASYNCIO_ISSUE_20 = """\
import asyncio
async def job(i):
    await asyncio.sleep(0)
    s = sum(range(2000))
    await asyncio.sleep(0.001)
    return s + i
async def main():
    loop = asyncio.get_running_loop()
    r = await asyncio.gather(*(job(i) for i in range(2000)))
    e = await loop.run_in_executor(None, lambda: sum(range(10**6)))
    return sum(r), e
print(asyncio.run(main()))
"""

# More tasks, awaits two deep, generators on executor threads, an async
# generator, and the heap census asked for from the program itself.
ASYNCIO_MORE = """\
import asyncio
import snakescope
async def inner(i):
    await asyncio.sleep(0)
    return [i] * 10
async def job(i):
    await asyncio.sleep(0)
    x = await inner(i)
    await asyncio.sleep(0.001)
    return len(x) + i
def gen(n):
    for i in range(n):
        yield [i] * 5
async def agen(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield bytearray(100)
async def main():
    loop = asyncio.get_running_loop()
    r = await asyncio.gather(*(job(i) for i in range(10000)))
    snakescope.checkpoint()
    e = await asyncio.gather(*(loop.run_in_executor(None, lambda k=k: sum(len(x) for x in gen(500 + k)))
                               for k in range(20)))
    a = [len(b) async for b in agen(300)]
    print(snakescope.heap().count >= 0)
    return sum(r), sum(e), sum(a)
print(asyncio.run(main()))
"""

GENERATORS = """\
import gc
def chain(n):
    if n == 0:
        for i in range(300):
            yield bytearray(64 * (i % 7 + 1))
    else:
        yield from chain(n - 1)
print(sum(len(x) for rep in range(3) for x in chain(300)))
def closing(n):
    x = [bytearray(50) for _ in range(n)]
    try:
        yield x
        yield from closing(n - 1) if n else ()
    finally:
        y = bytearray(4096)  # allocates while its frame is torn down
class Holder:
    def __init__(self, gen):
        self.gen, self.me = gen, self  # a cycle: freed by the collector
    def __del__(self):
        self.gen.close()
for i in range(2000):
    g = closing(10); next(g); next(g)
    Holder(g)
    if i % 500 == 0:
        gc.collect()
gc.collect()
print("generators done")
"""

THREADS = """\
import gc, threading
class F:
    def __del__(self):
        gc.collect()  # a collection inside a finaliser
        self.junk = [bytearray(1000) for _ in range(20)]
def work(k):
    out = []
    for i in range(1000):
        out.append(bytearray(100 + k))
        if i % 100 == 0:
            f = F(); f.cycle = f; del f
    return len(out)  # the thread ends with its allocations just freed
for _ in range(5):
    ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in ts: t.start()
    for t in ts: t.join()
print("threads done")
"""

PROGRAMS = {"asyncio_issue_20": ASYNCIO_ISSUE_20, "asyncio_more": ASYNCIO_MORE,
            "generators": GENERATORS, "threads": THREADS}


def _plain(python: str, program: Path) -> subprocess.CompletedProcess:
    return subprocess.run([python, str(program)], capture_output=True, text=True, timeout=RECORD_TIMEOUT,
                          cwd=program.parent, env=target_env({"PYTHONPATH": str(REPO / "python")}))


@pytest.mark.parametrize("mode", ["sampled", "exact"])
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_hostile_program_runs_as_without_snakescope(snakescope, python, tmp_path, name, mode):
    program = tmp_path / f"{name}.py"
    program.write_text(textwrap.dedent(PROGRAMS[name]))
    plain = _plain(python.path, program)
    assert plain.returncode == 0, plain.stderr
    out = tmp_path / "cap.json"
    try:
        got = subprocess.run([snakescope, "run", "--python", python.path, "-q", "--memory", mode, "-o", str(out),
                              str(program)], capture_output=True, text=True, timeout=RECORD_TIMEOUT,
                             cwd=tmp_path, env=target_env({"PYTHONPATH": str(REPO / "python")}))
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name} ({mode}) did not finish in {RECORD_TIMEOUT} s under snakescope")
    assert (got.returncode, got.stdout) == (0, plain.stdout), got.stderr[-2000:]
    cap = json.loads(out.read_text())
    validate_capture(cap)
    memory = cap["memory"]
    assert memory["mode"] == mode and memory["peak_bytes"] > 0
    # The program's own allocations are there, on its lines.
    files = {Path(cap["frames"][i]["file"]).name for site in memory["sites"] for i in site["frames"]}
    assert program.name in files, sorted(files)[:20]
