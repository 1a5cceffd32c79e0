"""Line time ground truth: in `split`, the first call line does 7 units of
work per repetition and the second 3, so they take 70 % and 30 % of the
time spent on the two lines (time in callees counts for the calling line).

It prints, after its done line, what the test needs to judge a wall-clock
line timer on a busy machine: split()'s wall and CPU time and how many times
the scheduler preempted the thread during it (each preemption's wait is
charged to whichever line was running)."""
import json
import resource
import time

REPS = 150


def busy(units):
    x = 0
    for _ in range(units * 20000):
        x += 1
    return x


@profile  # noqa: F821
def split():
    for _ in range(REPS):
        busy(7)  # 70 %
        busy(3)  # 30 %


before = (time.perf_counter(), time.thread_time(), resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw)
split()
after = (time.perf_counter(), time.thread_time(), resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw)
print("lines_split done")
print(json.dumps({"wall": after[0] - before[0], "cpu": after[1] - before[1],
                  "preempted": after[2] - before[2]}))
