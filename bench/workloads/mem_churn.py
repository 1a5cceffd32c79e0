"""Allocation churn: many short-lived small objects, buffers of assorted
sizes, and a cache that only grows (for bench/memory.py).

Each round builds a list of small dicts (with strings, tuples, floats),
indexes it into a dict of lists, drops both; makes bytearrays and bytes of
assorted sizes, from 16 bytes to 2 MiB (the larger ones above glibc's
128 KiB mmap threshold), and drops them; and keeps a few hundred bytes of
each round in a cache that grows to ~6 MB by the end. Deterministic (no
randomness, no hashing of str in the check value); prints a check value. An
optional first argument sets the number of rounds (default: ~2 s unprofiled
on CPython 3.11).
"""
import sys

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 550
RECORDS = 1500
SIZES = [16, 48, 100, 256, 1000, 4096, 20_000, 65_536, 200_000, 1 << 20, 2 << 20]


def make_records(base, n):
    """A list of n small dicts: the typical short-lived Python objects."""
    return [{"id": base + i,
             "name": f"item{(base + i) % 997}",
             "score": (base + i) * 0.5,
             "tags": ("a", str(i % 7), (i, i + 1))}
            for i in range(n)]


def index_records(records):
    """Group the ids by name: a dict of lists, built and then dropped."""
    by_name = {}
    for r in records:
        by_name.setdefault(r["name"], []).append(r["id"])
    return by_name


def make_buffers(seed):
    """Buffers of assorted sizes; every other one copied to bytes."""
    out = []
    for k, size in enumerate(SIZES):
        if (seed + k) % 3 == 2 and size > 100_000:
            continue  # not every round makes every large buffer
        b = bytearray(size)
        b[0] = (seed * 31 + k) & 0xFF
        b[-1] = (seed + k * 7) & 0xFF
        out.append(bytes(b) if k % 2 else b)
    return out


def main(rounds):
    cache = {}
    check = 0
    for r in range(rounds):
        records = make_records(r * RECORDS, RECORDS)
        index = index_records(records)
        check += len(index) + sum(len(ids) for ids in index.values())
        buffers = make_buffers(r)
        check += sum(b[0] + b[-1] + len(b) for b in buffers)
        # the cache grows by about 12 KB a round and is never trimmed
        cache[r] = (records[r % RECORDS], bytes(buffers[r % 5][:8]) * 1500,
                    [float(x) for x in range(40)])
        del records, index, buffers
    check += sum(len(v[1]) + v[0]["id"] for v in cache.values())
    return check, len(cache)


if __name__ == "__main__":
    check, n = main(ROUNDS)
    print(f"mem_churn rounds={ROUNDS} cache={n} check={check}")
