"""Four lines of one function whose costs are 50/25/15/10 by construction.

Each marked line of `lines` sums a range whose length is proportional to the
share written in its marker comment; `sum(range(n))` costs time linear in `n`
(the per-call overhead is ~0.1 us against ~0.2-1.5 ms per line). `sum` is a
builtin, so while a line runs the innermost *Python* frame is `lines` at that
line. The tests find the line numbers by reading the `# share: N` markers.

The program runs until it has used SECONDS of CPU time (a wall-clock cap of
20 x SECONDS stops it on a starved machine). `lines` also times each marked
line with the thread's CPU clock, read on the unmarked lines between them
(about 0.1% of its time), and when REPORT_PATH is given the script writes the
measured CPU-time shares:
    {"cpu_shares": {"50": share, "25": share, "15": share, "10": share}}
keyed by each line's marker (shares of the four lines' total).

Usage: line_shares.py [SECONDS [REPORT_PATH]]   (default 2.0 s). Prints nothing.
"""

import json
import sys
import time

K = 1_000
clock = time.thread_time


def lines(k, spent):
    t0 = clock()
    a = sum(range(50 * k))  # share: 50
    t1 = clock()
    b = sum(range(25 * k))  # share: 25
    t2 = clock()
    c = sum(range(15 * k))  # share: 15
    t3 = clock()
    d = sum(range(10 * k))  # share: 10
    t4 = clock()
    spent[0] += t1 - t0
    spent[1] += t2 - t1
    spent[2] += t3 - t2
    spent[3] += t4 - t3
    return a + b + c + d


def main(seconds, report_path):
    spent = [0.0, 0.0, 0.0, 0.0]
    end, wall_cap = clock() + seconds, time.perf_counter() + 20 * seconds
    while clock() < end and time.perf_counter() < wall_cap:
        lines(K, spent)
    if report_path:
        total = sum(spent)
        markers = ["50", "25", "15", "10"]
        with open(report_path, "w", encoding="utf-8") as f:
            json.dump({"cpu_shares": {m: s / total for m, s in zip(markers, spent)}}, f)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0,
         sys.argv[2] if len(sys.argv) > 2 else None)
