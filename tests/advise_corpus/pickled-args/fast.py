"""Sums strided slices of one list of a million ints in two worker
processes, giving the list to each worker once (the pool's initializer)
and sending only the slice's index with each task (advise corpus:
pickled-args, fast)."""
from multiprocessing import Pool

N = 1_000_000
TASKS = 32
_values = None  # in each worker: the list, received once


def keep(values):
    global _values
    _values = values


def partial_sum(i):
    return sum(_values[i::TASKS])


def main():
    values = list(range(N))
    with Pool(2, initializer=keep, initargs=(values,)) as pool:
        sums = pool.map(partial_sum, range(TASKS))
    print(sum(sums), sums[:3])


if __name__ == "__main__":
    main()
