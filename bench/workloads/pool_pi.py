"""Monte Carlo pi with a multiprocessing Pool(4) (after High Performance
Python, 2nd ed., chapter 9's pi estimation): the parent splits the samples
into tasks, the workers count the points inside the quarter circle, the
parent waits on the results. Deterministic (each task seeds its own
generator). Usage: pool_pi.py [TOTAL_POINTS [START_METHOD]]; takes ~10 s
of CPU on CPython 3.11 with the default.
"""

import multiprocessing as mp
import random
import sys

TASKS = 32


def estimate_nbr_points_in_quarter_circle(args):
    seed, n = args
    rnd = random.Random(seed)
    inside = 0
    for _ in range(n):
        x, y = rnd.random(), rnd.random()
        if x * x + y * y <= 1.0:
            inside += 1
    return inside


def main(total, method):
    per_task = total // TASKS
    with mp.get_context(method).Pool(4) as pool:
        counts = pool.map(estimate_nbr_points_in_quarter_circle,
                          [(seed, per_task) for seed in range(TASKS)])
    print(f"pi ~ {4 * sum(counts) / (per_task * TASKS):.5f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40_000_000,
         sys.argv[2] if len(sys.argv) > 2 else "fork")
