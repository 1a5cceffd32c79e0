"""Energy of 200,000 particles, one float at a time over Python lists
(advise corpus: float-loop, slow)."""


def energy(heights, speeds):
    total = 0.0
    for i in range(len(heights)):
        total += 0.5 * speeds[i] * speeds[i] + 9.81 * heights[i]
    return total


def main():
    n = 200_000
    heights = [(i % 100) * 0.25 for i in range(n)]
    speeds = [(i % 37) * 0.5 for i in range(n)]
    total = 0.0
    for _ in range(12):
        total += energy(heights, speeds)
    print(f"{total:.6e}")


main()
