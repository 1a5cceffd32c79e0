"""Three gevent greenlets with known CPU work.

Each round, `alpha`, `beta` and `gamma` burn 1, 2 and 3 units of their
thread's CPU time (one unit: UNIT_MS milliseconds, measured with
`time.thread_time`, so a busy machine does not change the split), then
yield to the hub with `gevent.sleep` on the line marked `# sleep-NAME`.
Running-time shares are 1/6, 2/6 and 3/6.
Usage: gevent_split.py [ROUNDS] [UNIT_MS]
"""

import sys
import time

import gevent

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
UNIT_MS = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
PAUSE_S = 0.002


def spin(units):
    end = time.thread_time() + units * UNIT_MS / 1000.0
    while time.thread_time() < end:
        pass


def alpha():
    for _ in range(ROUNDS):
        spin(1)
        gevent.sleep(PAUSE_S)  # sleep-alpha


def beta():
    for _ in range(ROUNDS):
        spin(2)
        gevent.sleep(PAUSE_S)  # sleep-beta


def gamma():
    for _ in range(ROUNDS):
        spin(3)
        gevent.sleep(PAUSE_S)  # sleep-gamma


gevent.joinall([gevent.spawn(alpha), gevent.spawn(beta), gevent.spawn(gamma)])
