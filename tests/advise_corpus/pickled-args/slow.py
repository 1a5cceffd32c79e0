"""Sums strided slices of one list of a million ints in two worker
processes, sending the whole list with each of the 32 tasks: the parent
pickles it 32 times, the workers unpickle it 32 times (advise corpus:
pickled-args, slow)."""
from multiprocessing import Pool

N = 1_000_000
TASKS = 32


def partial_sum(task):
    values, i = task
    return sum(values[i::TASKS])


def main():
    values = list(range(N))
    with Pool(2) as pool:
        sums = pool.map(partial_sum, [(values, i) for i in range(TASKS)])
    print(sum(sums), sums[:3])


if __name__ == "__main__":
    main()
