"""I/O-bound work for `snakescope diff`'s headline test: `python diff_io.py
serial|concurrent URL N` fetches URL N times, one after the other or all at
once from N threads. The test's server holds each request for a fixed time,
so the serial run waits N times that and the concurrent one about once; both
import the same modules and do the same CPU work."""
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def serial(url, n):
    return [fetch(url) for _ in range(n)]


def concurrent(url, n):
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fetch, [url] * n))


mode, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
bodies = {"serial": serial, "concurrent": concurrent}[mode](url, n)
assert len(bodies) == n
