"""CPU work in fixed units for `snakescope diff`'s verdict tests: `python
diff_cpu.py UNITS` runs UNITS identical units of pure-Python arithmetic, so
2 units are twice the CPU time of 1 by construction, whatever the load."""
import sys

UNIT = 3_000_000


def unit():
    total = 0
    for i in range(UNIT):
        total += i % 7
    return total


def main(units):
    for _ in range(units):
        unit()


main(int(sys.argv[1]))
