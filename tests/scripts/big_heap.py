"""A heap with one big container: N distinct ints above the cached small
ones, alive at exit in one list (the exit census samples its items), and a
small list of floats (read one by one). Prints N."""
import os

N = int(os.environ.get("BIG_HEAP_N", "2000000"))
BASE = 1_000_000  # above every interpreter's cached small ints
data = list(range(BASE, BASE + N))
small = [float(i) + 0.5 for i in range(1000)]
print(N)
