"""A program for the live page's object counts (`run --live-web`): holds
exactly 5000 instances of `Blob` (tracked by the collector, so a census
counts them exactly), and 3000 more once the file argv[1] + ".grow"
exists (then it creates argv[1] + ".grown"). It keeps running bytecode
in the main thread (where censuses run) until the file argv[1] exists.
Prints "done"."""
import os
import sys
import time


class Blob:
    def __init__(self, n):
        self.n = n


base = sys.argv[1]
held = [Blob(i) for i in range(5000)]
grown = False
while not os.path.exists(base):
    if not grown and os.path.exists(base + ".grow"):
        held.extend(Blob(i) for i in range(3000))
        grown = True
        open(base + ".grown", "w").close()
    t = time.perf_counter()
    while time.perf_counter() - t < 0.05:
        sum(i * i for i in range(1000))
print("done")
