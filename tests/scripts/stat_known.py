"""A process tree whose resource use is known by construction, for `stat`.

The parent fills a bytearray of MIB MiB (CPython zero-fills it, touching every
4 KiB page: at least MIB * 256 minor faults, and RSS above MIB MiB), then
runs a child interpreter that burns BURN seconds of CPU time and waits for
it. Both report their own CPU time (`time.process_time()`), and the parent
writes the sum to REPORT_PATH as JSON: {"cpu_s": ..., "bytes": ...}. It
prints "done" on stdout.

Usage: stat_known.py REPORT_PATH [MIB [BURN]]
"""

import json
import subprocess
import sys
import time

CHILD = """
import time
end = time.process_time() + {burn}
while time.process_time() < end:
    pass
print(time.process_time())
"""


def main(report_path, mib, burn):
    data = bytearray(mib * 1024 * 1024)
    child = subprocess.run([sys.executable, "-c", CHILD.format(burn=burn)],
                           check=True, capture_output=True, text=True)
    cpu = time.process_time() + float(child.stdout)
    with open(report_path, "w", encoding="utf-8") as f:
        json.dump({"cpu_s": cpu, "bytes": len(data)}, f)
    print("done")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 64,
         float(sys.argv[3]) if len(sys.argv) > 3 else 0.3)
