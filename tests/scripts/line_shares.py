"""Four lines of one function whose costs are 50/25/15/10 by construction.

Each marked line of `lines` sums a range whose length is proportional to the
share written in its marker comment; `sum(range(n))` costs time linear in `n`
(the per-call overhead is ~0.1 us against ~0.2-1.5 ms per line). `sum` is a
builtin, so while a line runs the innermost *Python* frame is `lines` at that
line. The tests find the line numbers by reading the `# share: N` markers.

Usage: line_shares.py [SECONDS]   (default 2.0). Prints nothing.
"""

import sys
import time

K = 1_000


def lines(k):
    a = sum(range(50 * k))  # share: 50
    b = sum(range(25 * k))  # share: 25
    c = sum(range(15 * k))  # share: 15
    d = sum(range(10 * k))  # share: 10
    return a + b + c + d


def main(seconds):
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        lines(K)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
