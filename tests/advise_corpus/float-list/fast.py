"""Keeps 1,000,000 readings in an array('d') (8 bytes a number, no float
object each), then reads them several times (advise corpus: float-list,
fast)."""
from array import array


def main():
    n = 1_000_000
    values = array("d")
    for i in range(n):
        values.append((i * 7919 % 10007) * 0.001)
    total = sum(values)
    top, low = max(values), min(values)
    picked = sum(values[i] for i in range(0, n, 997))
    print(len(values), f"{total:.3f}", f"{top:.3f}", f"{low:.3f}", f"{picked:.3f}")


main()
