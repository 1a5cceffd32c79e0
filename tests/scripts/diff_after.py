"""The after half of the pair begun in diff_before.py (see there): the
same program with `total_squares` edited on one line, `count_evens` renamed
`tally_evens` and `checksum` removed. These lines, added above the code,
move every line below them."""
import sys

N = 200_000


def setup(n):
    return list(range(n))


def total_squares(values):
    total = 0
    for v in values:
        total += v**2  # edited
    return total


def tally_evens(values):
    count = 0
    for v in values:
        if v % 2 == 0:
            count += 1
    return count


def main(rounds):
    values = setup(N)
    for _ in range(rounds):
        total_squares(values)
        tally_evens(values)


main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
