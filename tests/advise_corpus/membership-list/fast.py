"""Counts the words of a text found in a vocabulary kept as a set (advise
corpus: membership-list, fast). Deterministic; argv[1] scales the work."""
import sys


def vocabulary(n):
    return [f"w{i}" for i in range(0, 2 * n, 2)]


def text(n):
    return [f"w{(i * 7919) % (4 * n)}" for i in range(n)]


def count_known(words, known):
    found = 0
    for w in words:
        if w in known:
            found += 1
    return found


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    known = set(vocabulary(n))
    print(count_known(text(n), known))


main()
