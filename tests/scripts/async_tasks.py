"""Three asyncio tasks with known CPU work and known awaits.

Each round, `alpha`, `beta` and `gamma` burn 1, 2 and 3 units of their
thread's CPU time (one unit: UNIT_MS milliseconds, measured with
`time.thread_time`, so a busy machine does not change the split), then
await a sleep on the line marked `# await-NAME`; `gamma` awaits a helper
coroutine that sleeps. Running-time shares are 1/6, 2/6 and 3/6.
With a third argument, waits that many seconds first, printing `ready`
once its tasks are started and suspended (for `dump --async`). With a
fourth, that many more tasks (`idler`) wait on an event the whole time.
Usage: async_tasks.py [ROUNDS] [UNIT_MS] [HOLD_S] [IDLE_TASKS]
"""

import asyncio
import sys
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
UNIT_MS = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
HOLD_S = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
IDLE_TASKS = int(sys.argv[4]) if len(sys.argv) > 4 else 0
PAUSE_S = 0.004


def spin(units):
    end = time.thread_time() + units * UNIT_MS / 1000.0
    while time.thread_time() < end:
        pass


async def nap():
    await asyncio.sleep(PAUSE_S + HOLD_S)


async def alpha():
    for _ in range(ROUNDS):
        spin(1)
        await asyncio.sleep(PAUSE_S + HOLD_S)  # await-alpha


async def beta():
    for _ in range(ROUNDS):
        spin(2)
        await asyncio.sleep(PAUSE_S + HOLD_S)  # await-beta


async def gamma():
    for _ in range(ROUNDS):
        spin(3)
        await nap()  # await-gamma


async def idler(done):
    await done.wait()


async def main():
    done = asyncio.Event()
    idlers = [asyncio.ensure_future(idler(done)) for _ in range(IDLE_TASKS)]
    tasks = [
        asyncio.ensure_future(alpha()),
        asyncio.ensure_future(beta()),
        asyncio.ensure_future(gamma()),
    ]
    for task, name in zip(tasks, ("alpha", "beta", "gamma")):
        task.set_name(name)
    if HOLD_S:
        await asyncio.sleep(0.2)
        print("ready", flush=True)
    await asyncio.gather(*tasks)  # await-main
    done.set()  # the idlers end as asyncio.run closes
    return idlers  # held until here: the loop holds its tasks weakly


if __name__ == "__main__":
    asyncio.run(main())
    print("async_tasks done")
