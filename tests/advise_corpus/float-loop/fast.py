"""Energy of 200,000 particles, vectorised with numpy (advise corpus:
float-loop, fast)."""
import numpy as np


def energy(heights, speeds):
    return float((0.5 * speeds * speeds + 9.81 * heights).sum())


def main():
    n = 200_000
    i = np.arange(n)
    heights = (i % 100) * 0.25
    speeds = (i % 37) * 0.5
    total = 0.0
    for _ in range(12):
        total += energy(heights, speeds)
    print(f"{total:.6e}")


main()
