"""asyncio tasks kept in three places, each suspended at a known `await`.

- `main`: the main thread's task;
- `threaded`: the task of an event loop another thread runs;
- `left`: a task of a thread that has ended, its loop closed while the task
  was pending (kept alive here). 3.14+ moves such a task from its thread's
  list to the interpreter's.

Each awaits a future on the line marked `# await-NAME`. Prints `ready` once
all three are suspended, then holds HOLD_S seconds (for `dump --async`).
Usage: async_threads.py [HOLD_S]
"""

import asyncio
import sys
import threading

HOLD_S = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
kept = []


async def left():
    await asyncio.get_running_loop().create_future()  # await-left


def thread_that_ends():
    loop = asyncio.new_event_loop()
    task = loop.create_task(left())
    task.set_name("left")
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    task._log_destroy_pending = False  # it stays pending: no warning at exit
    kept.append(task)


async def threaded(started):
    asyncio.current_task().set_name("threaded")
    started.set()
    await asyncio.sleep(HOLD_S)  # await-threaded


async def main():
    asyncio.current_task().set_name("main")
    ended = threading.Thread(target=thread_that_ends)
    ended.start()
    ended.join()
    started = threading.Event()
    threading.Thread(target=asyncio.run, args=(threaded(started),), daemon=True).start()
    started.wait()
    await asyncio.sleep(0.2)
    print("ready", flush=True)
    await asyncio.sleep(HOLD_S)  # await-main


if __name__ == "__main__":
    asyncio.run(main())
