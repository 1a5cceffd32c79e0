"""Relaxes a field towards a target in place, one temporary made before the
loop (advise corpus: numpy-inplace, fast)."""
import numpy as np


def relax(field, target, steps):
    field = field.copy()
    pull = target * 0.01
    for _ in range(steps):
        field *= 0.99
        field += pull
    return field


def main():
    n = 600
    field = np.zeros((n, n))
    target = np.fromfunction(lambda i, j: (i * 7 + j * 3) % 11, (n, n))
    print(f"{relax(field, target, 500).sum():.6f}")


main()
