"""Small blocks (pymalloc's, under 512 bytes) with known fates, for sampled
memory: every block made on the `# freed:` line is freed before the end,
every block made on the `# kept:` line is alive at the end. Prints the
block's size and which allocator hooks tracked it."""
import os
import sys

N = int(os.environ.get("MEM_SMALL_N", "400000"))
SIZE = sys.getsizeof(bytes(100))


def freed():
    keep = []
    for i in range(N):
        keep.append(bytes(100))  # freed: N blocks of SIZE, plus the list's storage
    return len(keep)


def kept():
    out = [None] * N
    for i in range(N):
        out[i] = bytes(100)  # kept: N blocks of SIZE
    return out


freed()
KEPT = kept()
from snakescope import _native  # noqa: E402  (already imported by the agent)

print("size", SIZE, "hooks", _native.memory_hooks())
