"""Counts primes in four ranges on four threads: pure-Python CPU work, so
the threads take turns holding the GIL (advise corpus: gil-threads, slow)."""
import threading


def count_primes(lo, hi, out, i):
    found = 0
    for n in range(lo, hi):
        if n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1)):
            found += 1
    out[i] = found


def main():
    out = [0] * 4
    step = 80_000
    threads = [threading.Thread(target=count_primes, args=(i * step, (i + 1) * step, out, i))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(sum(out), out)


main()
