"""A program for `run --live-web`: keeps one CPU busy while it holds a
growing list of 1 MB bytearrays (one more every 0.1 s, on the marked
line), until the file argv[1] exists. Prints "done"."""
import os
import sys
import time

stop = sys.argv[1]
held = []
while not os.path.exists(stop):
    t = time.perf_counter()
    held.append(bytearray(1_000_000))  # grows
    while time.perf_counter() - t < 0.1:
        sum(i * i for i in range(1000))
print("done")
