"""Two code objects with the same file, first line and name — what cProfile
merges into one row — with known calls: `work` compiled twice from the same
source (3 and 5 calls), and two `timeit.Timer`s whose `inner` functions
share `<timeit-src>`'s line (the first calls `sorted` 300 times, the second
700). A thread sleeps 0.3 s beside them, so pstats' total (every thread's
time) passes the wall time."""
import threading
import time
import timeit

SRC = "def work(n):\n    return sum(range(n))\n"
first, second = {}, {}
exec(compile(SRC, "generated.py", "exec"), first)
exec(compile(SRC, "generated.py", "exec"), second)

sleeper = threading.Thread(target=time.sleep, args=(0.3,))
sleeper.start()
for _ in range(3):
    first["work"](10)
for _ in range(5):
    second["work"](10)
timeit.Timer("sorted(x)", setup="x = [3, 1, 2]").timeit(300)
timeit.Timer("sorted(x)", setup="x = [3, 1, 2]").timeit(700)
sleeper.join()
