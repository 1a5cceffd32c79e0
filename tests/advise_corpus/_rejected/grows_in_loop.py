"""Counts first sightings, keeping the ones seen in a list that grows inside
the loop (advise corpus: a membership finding whose mechanical rewrite, a set
made once before the loop, would go stale and change the output: --verify
must reject it)."""


def first_sightings(items, seen):
    new = 0
    for x in items:
        if x in seen:
            continue
        seen.append(x)
        new += 1
    return new


seen = [f"s{i}" for i in range(3000)]
items = [f"s{(i * 7) % 4500}" for i in range(6000)]
print(first_sightings(items, seen))
