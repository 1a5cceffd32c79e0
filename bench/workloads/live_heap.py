"""A heap of HEAP_N live objects at exit: HEAP_N distinct ints (above the
cached small ones) in one list. Writes the program's own time (building the
list) to the file HEAP_OWN_TIME names, if set."""
import os
import time

N = int(os.environ.get("HEAP_N", "1000000"))
t0 = time.perf_counter()
data = list(range(1_000_000, 1_000_000 + N))
own = time.perf_counter() - t0
if os.environ.get("HEAP_OWN_TIME"):
    with open(os.environ["HEAP_OWN_TIME"], "w") as f:
        f.write(f"{own}\n")
