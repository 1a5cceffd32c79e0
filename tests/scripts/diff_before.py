"""The before half of a pair for `snakescope diff` across files
(tests/python/test_diff_files.py); diff_after.py is the same program after
an edit. Each function below does a fixed share of the work by construction
(the same number of passes over the same list), so each has samples on both
sides. From here to diff_after.py:

- `total_squares`: one line edited (the one marked so), the rest unchanged;
- `count_evens`: renamed `tally_evens`, its body unchanged;
- `checksum`: removed;
- everything moves down by the lines added above it.
"""
import sys

N = 200_000


def setup(n):
    return list(range(n))


def total_squares(values):
    total = 0
    for v in values:
        total += v * v  # edited
    return total


def count_evens(values):
    count = 0
    for v in values:
        if v % 2 == 0:
            count += 1
    return count


def checksum(values):
    acc = 0
    for v in values:
        acc = (acc * 31 + v) % 1000003
    return acc


def main(rounds):
    values = setup(N)
    for _ in range(rounds):
        total_squares(values)
        count_evens(values)
        checksum(values)


main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
