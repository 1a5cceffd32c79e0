"""Sums of square roots of 2-D coordinates, with `math.sqrt` and `out.append` bound to locals
before the loop (advise corpus: local-alias, fast). Deterministic."""
import math
import sys


def norms(points):
    out = []
    append, sqrt = out.append, math.sqrt
    for x, y in points:
        append(sqrt(x) + sqrt(y))
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    points = [((i % 97) * 0.5, (i % 89) * 0.25) for i in range(n)]
    total = 0.0
    for _ in range(6):
        total += sum(norms(points))
    print(f"{total:.6f}")


main()
