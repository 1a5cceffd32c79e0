"""Relaxes a field towards a target, making three temporary arrays on every
step (advise corpus: numpy-inplace, slow)."""
import numpy as np


def relax(field, target, steps):
    for _ in range(steps):
        field = field * 0.99 + target * 0.01
    return field


def main():
    n = 600
    field = np.zeros((n, n))
    target = np.fromfunction(lambda i, j: (i * 7 + j * 3) % 11, (n, n))
    print(f"{relax(field, target, 500).sum():.6f}")


main()
