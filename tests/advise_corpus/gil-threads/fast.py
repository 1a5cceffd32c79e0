"""Counts primes in four ranges in four processes: each has its own GIL
(advise corpus: gil-threads, fast)."""
from multiprocessing import Pool


def count_primes(bounds):
    lo, hi = bounds
    found = 0
    for n in range(lo, hi):
        if n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1)):
            found += 1
    return found


def main():
    step = 80_000
    with Pool(4) as pool:
        out = pool.map(count_primes, [(i * step, (i + 1) * step) for i in range(4)])
    print(sum(out), out)


if __name__ == "__main__":
    main()
