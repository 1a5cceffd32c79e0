"""Writes one line to stdout and one to stderr, spins ~0.3 s, exits with status 3.

Usage: exit3.py   Prints exactly "to stdout\n" on stdout and "to stderr\n" on stderr.
"""

import sys
import time


def spin(seconds):
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass


print("to stdout", flush=True)
print("to stderr", file=sys.stderr, flush=True)
spin(0.3)
sys.exit(3)
