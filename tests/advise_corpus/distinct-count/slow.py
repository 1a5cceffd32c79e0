"""Counts distinct visitors exactly, keeping every id in a set only to take
its size (advise corpus: distinct-count, slow)."""


def distinct_visitors(n):
    seen = set()
    for i in range(n):
        seen.add(f"visitor-{(i * 2654435761) % 1_000_003:09d}")
    return len(seen)


print(distinct_visitors(400_000))
