"""Finds where each query falls in sorted data by bisection (advise corpus:
bisect, fast)."""
from bisect import bisect_left


def position(values, x):
    return bisect_left(values, x)


def main():
    values = sorted((i * 7919) % 100_003 for i in range(10_000))
    queries = [(i * 104_729) % 100_003 for i in range(1_000)]
    print(sum(position(values, q) for q in queries))


main()
