"""50 worker threads: one busy, 49 idle, each with a known `threading` name.

    busy        runs `spin` (pure Python, holds the GIL) for the duration
    sleeper-N   17 threads in `sleeper`: one long time.sleep (daemon threads)
    sock-N      16 threads in `sock_waiter`: blocked in recv() on a socketpair
    event-N     16 threads in `event_waiter`: blocked in threading.Event().wait()

Order of events (so that the idle threads never run while `busy` runs):
 1. start the 49 idle threads; each signals readiness just before blocking;
 2. wait for all 49 signals, then sleep 50 ms so each reaches its blocking call;
 3. start `busy`; if INFO_PATH is given, write it (see below);
 4. join `busy` (the main thread is blocked in join, i.e. idle, meanwhile);
 5. release the sock and event threads (send a byte / set the event), join
    them, and exit; the sleepers are daemon threads and are simply abandoned.

INFO_PATH, when given, is written atomically (write + rename) at step 3 as JSON:
    {"pid": PID, "threads": {"<native tid>": "<threading name>", ...}}
covering the main thread and all 50 workers. Tests that attach with --pid wait
for it: from then until the duration ends, only `busy` runs Python code.

Usage: many_threads.py [SECONDS [INFO_PATH]]   (default 2.0 s). Prints nothing.
"""

import json
import os
import socket
import sys
import threading
import time

N_SLEEPERS = 17
N_SOCKETS = 16
N_EVENTS = 16


def spin(deadline):
    n = 0
    while time.perf_counter() < deadline:
        for _ in range(1_000):
            n += 1
    return n


def sleeper(ready):
    ready.release()
    time.sleep(3600)


def sock_waiter(ready, sock):
    ready.release()
    sock.recv(1)
    sock.close()


def event_waiter(ready, event):
    ready.release()
    event.wait()


def write_info(path, threads):
    info = {
        "pid": os.getpid(),
        "threads": {str(t.native_id): t.name for t in threads},
    }
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(info, f)
    os.replace(tmp, path)


def main(seconds, info_path):
    ready = threading.Semaphore(0)
    idle = []
    releases = []
    for i in range(N_SLEEPERS):
        idle.append(threading.Thread(target=sleeper, args=(ready,), name=f"sleeper-{i}", daemon=True))
    for i in range(N_SOCKETS):
        mine, theirs = socket.socketpair()
        idle.append(threading.Thread(target=sock_waiter, args=(ready, mine), name=f"sock-{i}"))
        releases.append(lambda s=theirs: (s.send(b"x"), s.close()))
    for i in range(N_EVENTS):
        event = threading.Event()
        idle.append(threading.Thread(target=event_waiter, args=(ready, event), name=f"event-{i}"))
        releases.append(event.set)
    for t in idle:
        t.start()
    for _ in idle:
        ready.acquire()
    time.sleep(0.05)

    busy = threading.Thread(target=spin, args=(time.perf_counter() + seconds,), name="busy")
    busy.start()
    if info_path:
        write_info(info_path, [threading.main_thread(), busy, *idle])
    busy.join()

    for release in releases:
        release()
    for t in idle:
        if not t.daemon:
            t.join()


if __name__ == "__main__":
    main(
        float(sys.argv[1]) if len(sys.argv) > 1 else 2.0,
        sys.argv[2] if len(sys.argv) > 2 else None,
    )
