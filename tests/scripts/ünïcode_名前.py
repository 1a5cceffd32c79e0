"""A non-ASCII file name and a non-ASCII function name, for round-trip tests.

The function `計算_функция` spins for the duration. Its name is already in NFKC
form, so `co_name` is exactly the text written here; the file name is NFC.

Usage: ünïcode_名前.py [SECONDS]   (default 2.0). Prints nothing.
"""

import sys
import time


def 計算_функция(seconds):
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass


if __name__ == "__main__":
    計算_функция(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
