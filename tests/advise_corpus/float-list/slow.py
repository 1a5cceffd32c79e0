"""Keeps 1,000,000 readings as a list of floats (a pointer to a 24-byte
float object each: ~32 bytes a number), then reads them several times
(advise corpus: float-list, slow)."""


def main():
    n = 1_000_000
    values = []
    for i in range(n):
        values.append((i * 7919 % 10007) * 0.001)
    total = sum(values)
    top, low = max(values), min(values)
    picked = sum(values[i] for i in range(0, n, 997))
    print(len(values), f"{total:.3f}", f"{top:.3f}", f"{low:.3f}", f"{picked:.3f}")


main()
