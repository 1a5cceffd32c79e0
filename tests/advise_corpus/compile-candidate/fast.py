"""Sum of gcd(i, j) over a 1,500 x 1,500 grid (advise corpus: compile-candidate,
fast). The book's remedy is to compile the scalar loop (Numba @jit, Cython or
PyPy), which the corpus cannot install (standard library only); this program
shows the same computation with the pure-Python loop off the hot path:
Euclid's algorithm runs in C, as math.gcd."""

from math import gcd


def gcd_sum(n):
    return sum(gcd(i, j) for i in range(1, n) for j in range(1, n))


def main():
    print(gcd_sum(1500))


main()
