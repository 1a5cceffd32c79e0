"""Two CPU-bound Python threads contending for the GIL, and one sleeping thread.

    gil-a    runs `spin_a` for the duration
    gil-b    runs `spin_b` for the duration (the same code as spin_a)
    sleeper  runs `sleeper`: one long time.sleep (daemon thread, never wakes)

The main thread starts `sleeper`, then gil-a and gil-b, and joins gil-a and
gil-b. While both spin, exactly one of them holds the GIL at any instant; the
interpreter hands the GIL over every switch interval (5 ms) when the other one
asks for it, so by symmetry each holds it half of the time. Neither the
sleeper nor the main thread (blocked in join) holds it.

INFO_PATH, when given, is written atomically once all three threads have
started, as JSON: {"pid": PID, "threads": {"<native tid>": "<name>", ...}}.

Usage: gil.py [SECONDS [INFO_PATH]]   (default 2.0 s). Prints nothing.
"""

import json
import os
import sys
import threading
import time


def spin_a(deadline):
    n = 0
    while time.perf_counter() < deadline:
        for _ in range(1_000):
            n += 1
    return n


def spin_b(deadline):
    n = 0
    while time.perf_counter() < deadline:
        for _ in range(1_000):
            n += 1
    return n


def sleeper():
    time.sleep(3600)


def main(seconds, info_path):
    quiet = threading.Thread(target=sleeper, name="sleeper", daemon=True)
    quiet.start()
    deadline = time.perf_counter() + seconds
    a = threading.Thread(target=spin_a, args=(deadline,), name="gil-a")
    b = threading.Thread(target=spin_b, args=(deadline,), name="gil-b")
    a.start()
    b.start()
    if info_path:
        threads = [threading.main_thread(), quiet, a, b]
        info = {"pid": os.getpid(), "threads": {str(t.native_id): t.name for t in threads}}
        with open(info_path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(info, f)
        os.replace(info_path + ".tmp", info_path)
    a.join()
    b.join()


if __name__ == "__main__":
    main(
        float(sys.argv[1]) if len(sys.argv) > 1 else 2.0,
        sys.argv[2] if len(sys.argv) > 2 else None,
    )
