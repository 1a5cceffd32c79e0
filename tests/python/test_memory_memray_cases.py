"""memray's allocation-tracking, high-watermark and leak cases
(tests/integration/test_tracking.py and test_main.py there), as our own
tests against `run --memory exact`: every allocation is seen, so the
figures are exact by construction.

The programs call the C library's allocators and the interpreter's RAW
domain through ctypes (`ctypes.CDLL("libc.so.6").malloc`,
`ctypes.pythonapi.PyMem_RawMalloc`). The allocator calls are the only
native allocations on their lines, so a line's native site holds exactly
what the program asked for. The RAW domain's sites are `python` ones,
which also hold the line's own Python objects (ctypes' argument and result
objects): two lines of the same shape that differ only in the size asked
for differ by exactly that size."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support import RECORD_TIMEOUT, REPO, target_env, validate_capture

PAGE = 4096
MB = 1024 * 1024

PRELUDE = """\
import ctypes
libc = ctypes.CDLL("libc.so.6")
vp, size_t = ctypes.c_void_p, ctypes.c_size_t
def fn(lib, name, restype, *args):
    f = getattr(lib, name)
    f.restype, f.argtypes = restype, list(args)
    return f
malloc = fn(libc, "malloc", vp, size_t)
calloc = fn(libc, "calloc", vp, size_t, size_t)
realloc = fn(libc, "realloc", vp, vp, size_t)
valloc = fn(libc, "valloc", vp, size_t)
pvalloc = fn(libc, "pvalloc", vp, size_t)
memalign = fn(libc, "memalign", vp, size_t, size_t)
aligned_alloc = fn(libc, "aligned_alloc", vp, size_t, size_t)
posix_memalign = fn(libc, "posix_memalign", ctypes.c_int, ctypes.POINTER(vp), size_t, size_t)
free = fn(libc, "free", None, vp)
mmap = fn(libc, "mmap", vp, vp, size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
munmap = fn(libc, "munmap", ctypes.c_int, vp, size_t)
api = ctypes.pythonapi
raw_malloc = fn(api, "PyMem_RawMalloc", vp, size_t)
raw_calloc = fn(api, "PyMem_RawCalloc", vp, size_t, size_t)
raw_realloc = fn(api, "PyMem_RawRealloc", vp, vp, size_t)
raw_free = fn(api, "PyMem_RawFree", None, vp)
PROT_RW, ANON_PRIVATE, PAGE = 3, 0x22, 4096
out = vp()
# Every function called once first: ctypes' first call of each makes its
# own objects (argument converters), which the measured lines must not hold.
for f, args in ((malloc, (1,)), (calloc, (1, 1)), (valloc, (1,)), (pvalloc, (1,)), (memalign, (16, 1)),
                (aligned_alloc, (16, 16)), (raw_malloc, (1,)), (raw_calloc, (1, 1))):
    free(f(*args)) if f not in (raw_malloc, raw_calloc) else raw_free(f(*args))
free(realloc(None, 1)); raw_free(raw_realloc(None, 1)); posix_memalign(ctypes.byref(out), 16, 1); free(out.value)
munmap(mmap(None, PAGE, PROT_RW, ANON_PRIVATE, -1, 0), PAGE)
"""


def _run_exact(snakescope: str, python: str, tmp_path: Path, body: str,
               mode: str = "exact") -> tuple[dict, Path, subprocess.CompletedProcess]:
    program = tmp_path / "cases.py"
    program.write_text(PRELUDE + textwrap.dedent(body))
    out = tmp_path / "cap.json"
    proc = subprocess.run([snakescope, "run", "--python", python, "-q", "--memory", mode, "-o", str(out),
                           str(program)], capture_output=True, text=True, timeout=RECORD_TIMEOUT, cwd=tmp_path,
                          env=target_env({"PYTHONPATH": str(REPO / "python")}))
    assert proc.returncode == 0, proc.stderr[-3000:]
    cap = json.loads(out.read_text())
    validate_capture(cap)
    return cap, program, proc


def _line(program: Path, marker: str) -> int:
    lines = [n for n, text in enumerate(program.read_text().splitlines(), 1) if text.endswith(f"# @{marker}")]
    assert len(lines) == 1, marker
    return lines[0]


def _site(cap: dict, program: Path, marker: str, source: str) -> dict:
    """The totals of the sites of `source` whose innermost frame is the marked line."""
    line = _line(program, marker)
    total = {"allocations": 0, "allocated_bytes": 0, "frees": 0, "freed_bytes": 0, "peak_bytes": 0,
             "end_bytes": 0}
    for site in cap["memory"]["sites"]:
        if site["source"] != source or not site["frames"]:
            continue
        f = cap["frames"][site["frames"][0]]
        if Path(f["file"]).name == program.name and f["line"] == line:
            for k in total:
                total[k] += site[k]
    return total


ALLOCATORS = """\
a = malloc(1000003)  # @malloc
free(a)
a = calloc(1000, 1009)  # @calloc
free(a)
a = realloc(None, 1000033)  # @realloc_new
a = realloc(a, 2000029)  # @realloc_grow
free(a)
a = valloc(1000037)  # @valloc
free(a)
a = pvalloc(1000039)  # @pvalloc
free(a)
a = memalign(64, 1000081)  # @memalign
free(a)
a = aligned_alloc(64, 1000064)  # @aligned_alloc
free(a)
posix_memalign(ctypes.byref(out), 64, 1000099)  # @posix_memalign
free(out.value)
a = mmap(None, 37 * PAGE, PROT_RW, ANON_PRIVATE, -1, 0)  # @mmap
munmap(a, 37 * PAGE)
print("done")
"""

# marker → bytes asked for (pvalloc rounds up to whole pages: that is its allocation)
EXPECTED = {
    "malloc": 1000003, "calloc": 1000 * 1009, "realloc_new": 1000033, "realloc_grow": 2000029,
    "valloc": 1000037, "pvalloc": -(-1000039 // PAGE) * PAGE, "memalign": 1000081,
    "aligned_alloc": 1000064, "posix_memalign": 1000099, "mmap": 37 * PAGE,
}


def test_every_glibc_allocator_is_tracked(snakescope, python, tmp_path):
    """Each entry point: one allocation of exactly the size asked for, on
    its line, freed (realloc's growth frees the first block: its own line
    shows it freed too)."""
    cap, program, _ = _run_exact(snakescope, python.path, tmp_path, ALLOCATORS)
    wrong = {}
    for marker, size in EXPECTED.items():
        got = _site(cap, program, marker, "native")
        want = {"allocations": 1, "allocated_bytes": size, "frees": 1, "freed_bytes": size, "end_bytes": 0}
        if {k: got[k] for k in want} != want:
            wrong[marker] = (got, want)
    assert not wrong, wrong


RAW = """\
a = raw_malloc(3 * 8000003)  # @raw_malloc_3
b = raw_malloc(8000003)  # @raw_malloc_1
c = raw_calloc(2 * 8000, 1013)  # @raw_calloc_2
d = raw_calloc(8000, 1013)  # @raw_calloc_1
e = raw_realloc(None, 2 * 8000121)  # @raw_realloc_2
f = raw_realloc(None, 8000121)  # @raw_realloc_1
for p in (a, b, c, d, e, f):
    raw_free(p)
big = bytearray(24 * 1024 * 1024)  # @bytearray
del big
print("done")
"""


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_raw_domain_is_tracked_once(snakescope, python, tmp_path, mode):
    """PyMem_RawMalloc/Calloc/Realloc are recorded: each pair of lines
    differs by exactly the size asked for (exact mode), and each block is
    there at its size. A bytearray's storage, which pymalloc passes on to
    the raw domain, is counted once — at its request, not again in the raw
    domain. In sampled mode, blocks far above the interval (8 MB and more,
    15 intervals: kept with p = 1 - exp(-15)) are recorded at their size,
    s / p; a line's small Python objects add R + s/2 when one of them (s
    bytes, under 8 KiB) is sampled, with p about s / R."""
    cap, program, _ = _run_exact(snakescope, python.path, tmp_path, RAW, mode)
    for name, one in (("raw_malloc", 8000003), ("raw_calloc", 8000 * 1013), ("raw_realloc", 8000121)):
        hi = _site(cap, program, f"{name}_{3 if name == 'raw_malloc' else 2}", "python")
        lo = _site(cap, program, f"{name}_1", "python")
        times = 3 if name == "raw_malloc" else 2
        if mode == "exact":
            assert hi["allocated_bytes"] - lo["allocated_bytes"] == (times - 1) * one, (name, hi, lo)
            assert hi["allocations"] == lo["allocations"], (name, hi, lo)
            assert lo["allocated_bytes"] >= one and lo["freed_bytes"] >= one, (name, lo)
        else:
            interval = cap["memory"]["sample_interval_bytes"]
            for got, size in ((hi, times * one), (lo, one)):
                assert size <= got["allocated_bytes"] <= size * (1 + 1e-6) + interval + 4096, (name, got, size)
    big = 24 * MB
    got = _site(cap, program, "bytearray", "python")["allocated_bytes"]
    assert big <= got <= big + 4096, got  # the block once, plus the object's header


LEAK = """\
leaked = malloc(1024)  # @leak
kept = malloc(4096)  # @freed
free(kept)
print("done")
"""


def test_a_kib_leak_is_reported_at_its_line(snakescope, python, tmp_path):
    """1 KiB malloc'd and never freed: alive at the end on its line, exactly;
    the text report either lists the line among the leaks or says how many
    smaller sites it hid — never drops it silently."""
    cap, program, _ = _run_exact(snakescope, python.path, tmp_path, LEAK)
    leak = _site(cap, program, "leak", "native")
    assert (leak["allocations"], leak["allocated_bytes"], leak["frees"], leak["end_bytes"]) == (1, 1024, 0, 1024)
    assert _site(cap, program, "freed", "native")["end_bytes"] == 0
    report = subprocess.run([snakescope, "report", str(tmp_path / "cap.json")], capture_output=True, text=True,
                            timeout=RECORD_TIMEOUT)
    assert report.returncode == 0, report.stderr
    section = report.stdout.split("Leaked (alive at the end, allocated by the program)")[1].split("\n\n")[0]
    assert f"cases.py:{_line(program, 'leak')})" in section or "(not shown:" in section, section


PEAK = """\
x = bytearray(48 * 1024 * 1024)  # @first_peak
del x
a = {alloc}(16 * 1024 * 1024)  # @sixteen
b = {alloc}(32 * 1024 * 1024 + 65536)  # @thirty_two
{free}(a)
{free}(b)
print("done")
"""

# (what allocates, what frees it, the source of its site)
PEAK_KINDS = {
    "python": ("bytearray", "del", "python"),
    "native": ("malloc", "free", "native"),
}


@pytest.mark.parametrize("kind", list(PEAK_KINDS))
def test_alive_at_the_peak_per_site_is_exact(snakescope, python, tmp_path, kind):
    """The second peak passes the first by 64 KiB (0.1 %): the 16 and 32 MiB
    blocks alive then are what each of their lines held at the peak, the
    48 MiB bytearray freed before it holds nothing of it, and the sites'
    shares add up to the peak exactly. (Copying the holders every 1 % of
    growth read 0 for both lines.)"""
    alloc, free, source = PEAK_KINDS[kind]
    cap, program, _ = _run_exact(snakescope, python.path, tmp_path, PEAK.format(alloc=alloc, free=free))
    for marker, size in (("sixteen", 16 * MB), ("thirty_two", 32 * MB + 65536)):
        site = _site(cap, program, marker, source)
        # Exactly what the line allocated and still held: a bytearray's
        # object header with its storage, a malloc'd block alone.
        assert site["peak_bytes"] == site["allocated_bytes"], (marker, site)
        assert size <= site["peak_bytes"] <= size + (4096 if kind == "python" else 0), (marker, site)
    assert _site(cap, program, "first_peak", "python")["peak_bytes"] < MB
    memory = cap["memory"]
    assert sum(s["peak_bytes"] for s in memory["sites"]) == memory["peak_bytes"]


MUNMAP = """\
m = mmap(None, 10 * PAGE, PROT_RW, ANON_PRIVATE, -1, 0)  # @mapped
munmap(m + 3 * PAGE, 3 * PAGE)
kept = mmap(None, 10 * PAGE, PROT_RW, ANON_PRIVATE, -1, 0)  # @kept
munmap(kept + 3 * PAGE, 3 * PAGE)
peak = mmap(None, 64 * 1024 * 1024, PROT_RW, ANON_PRIVATE, -1, 0)  # @peak
munmap(peak, 64 * 1024 * 1024)
munmap(m, 3 * PAGE)
munmap(m + 6 * PAGE, 4 * PAGE)
print("done")
"""


def test_partial_munmap_is_page_exact(snakescope, python, tmp_path):
    """10 pages mapped, 3 unmapped in the middle: 7 alive (at the peak made
    next); then the rest unmapped in two calls: none, and the mapping counts
    as freed once. A second mapping treated the same is left at 7 pages."""
    cap, program, _ = _run_exact(snakescope, python.path, tmp_path, MUNMAP)
    mapped = _site(cap, program, "mapped", "native")
    assert mapped == {"allocations": 1, "allocated_bytes": 10 * PAGE, "frees": 1, "freed_bytes": 10 * PAGE,
                      "peak_bytes": 7 * PAGE, "end_bytes": 0}, mapped
    kept = _site(cap, program, "kept", "native")
    assert kept == {"allocations": 1, "allocated_bytes": 10 * PAGE, "frees": 0, "freed_bytes": 3 * PAGE,
                    "peak_bytes": 7 * PAGE, "end_bytes": 7 * PAGE}, kept
    assert _site(cap, program, "peak", "native")["peak_bytes"] == 64 * MB


NEXT_C = """\
#define _GNU_SOURCE
#include <dlfcn.h>
void *next_malloc(void) { return dlsym(RTLD_NEXT, "malloc"); }
"""

NEXT_PY = """\
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.next_malloc.restype = ctypes.c_void_p
libc = ctypes.CDLL("libc.so.6")
libc.dlsym.restype, libc.dlsym.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]
print("RTLD_NEXT finds the C library's malloc:", lib.next_malloc() == libc.dlsym(libc._handle, b"malloc"))
"""


def test_dlsym_rtld_next_answers_as_without_snakescope(snakescope, tmp_path):
    """`dlsym` is hooked (allocators looked up by name are handed out as the
    hooks), but `dlsym(RTLD_NEXT, ...)` searches after the *caller's* object:
    a library's lookup through its own GOT must find what it finds without
    snakescope (the C library's malloc, not a hook). A library built here
    makes the call."""
    lib = tmp_path / "libnext.so"
    (tmp_path / "next.c").write_text(NEXT_C)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(tmp_path / "next.c")], check=True,
                   timeout=RECORD_TIMEOUT)
    program = tmp_path / "next.py"
    program.write_text(NEXT_PY)
    plain = subprocess.run([sys.executable, str(program), str(lib)], capture_output=True, text=True,
                           timeout=RECORD_TIMEOUT, env=target_env())
    assert plain.stdout == "RTLD_NEXT finds the C library's malloc: True\n", plain.stderr
    got = subprocess.run([snakescope, "run", "--python", sys.executable, "-q", "-o", str(tmp_path / "c.json"),
                          str(program), str(lib)], capture_output=True, text=True, timeout=RECORD_TIMEOUT,
                         env=target_env({"PYTHONPATH": str(REPO / "python")}))
    assert (got.returncode, got.stdout) == (0, plain.stdout), got.stderr
