"""Finds where each query falls in sorted data by scanning from the start
(advise corpus: bisect, slow)."""


def position(values, x):
    for i, v in enumerate(values):
        if v >= x:
            return i
    return len(values)


def main():
    values = sorted((i * 7919) % 100_003 for i in range(10_000))
    queries = [(i * 104_729) % 100_003 for i in range(1_000)]
    print(sum(position(values, q) for q in queries))


main()
