"""Sum of gcd(i, j) over a 1,500 x 1,500 grid, Euclid's algorithm in a pure-Python
while loop on local ints (advise corpus: compile-candidate, slow). The loop's
iteration count depends on the data, so numpy cannot vectorise it; its types
never change, so a compiler (Numba @jit, Cython, PyPy) can run it as C."""


def gcd_sum(n):
    total = 0
    for i in range(1, n):
        for j in range(1, n):
            a, b = i, j
            while b:
                a, b = b, a % b
            total += a
    return total


def main():
    print(gcd_sum(1500))


main()
