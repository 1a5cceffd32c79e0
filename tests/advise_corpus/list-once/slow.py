"""Sums squares through a list built only to be summed (advise corpus:
list-once, slow): all the items are alive at once."""
import sys


def checksum(n):
    return sum([i * i % 1009 + 300 for i in range(n)])


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_500_000
    print(checksum(n))


main()
