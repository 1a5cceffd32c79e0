"""CPU work inside a generator, then inside a coroutine, about half the time each.

First half: `consume` iterates over the generator `produce`, which does a chunk
of CPU work before each `yield`; while that work runs the stack is
    <module>, main, consume, produce.
Second half: asyncio.run() drives the coroutine `crunch`, which does a chunk of
CPU work between `await asyncio.sleep(0)`; while that work runs the innermost
frame is `crunch`, below asyncio's event loop frames, below `main`, `<module>`.

Usage: gen_async.py [SECONDS]   (default 2.0). Prints nothing.
"""

import asyncio
import sys
import time

CHUNK = 20_000  # about 1 ms of work per yield / per await


def produce(deadline):
    while time.perf_counter() < deadline:
        total = 0
        for i in range(CHUNK):
            total += i
        yield total


def consume(seconds):
    acc = 0
    for value in produce(time.perf_counter() + seconds):
        acc ^= value
    return acc


async def crunch(deadline):
    acc = 0
    while time.perf_counter() < deadline:
        total = 0
        for i in range(CHUNK):
            total += i
        acc ^= total
        await asyncio.sleep(0)
    return acc


def main(seconds):
    consume(seconds / 2)
    asyncio.run(crunch(time.perf_counter() + seconds / 2))


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
