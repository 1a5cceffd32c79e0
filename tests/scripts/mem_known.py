"""Memory ground truth: every marked line allocates a known number of bytes
(see the `# bytes:` comments); the peak and what is alive at the end are
known by construction. numpy is optional (the numpy line is skipped, and
says so on stdout, without it)."""
import os
import sys
import threading

MB = 1024 * 1024
BIG = int(os.environ.get("MEM_BIG_MB", "512")) * MB


def bytearray_line():
    return bytearray(BIG)  # bytes: BIG


def numpy_line():
    import numpy as np
    return np.ones(BIG // 8)  # bytes: BIG (native)


def known_lines():
    a = [None] * 5000
    b = [None] * 2000
    for i in range(5000):
        a[i] = bytearray(4000)  # bytes: 5000 * sys.getsizeof(bytearray(4000))
    for i in range(2000):
        b[i] = bytes(10000)  # bytes: 2000 * sys.getsizeof(bytes(10000))
    return a, b


def worker(n):
    chunks = [bytearray(MB) for _ in range(20)]  # bytes: 20 MiB per thread
    return len(chunks)


LEAK = []


def leaky():
    LEAK.append(bytearray(64 * MB))  # 64 MiB kept by the global LEAK: held, not leaked


def main():
    x = bytearray_line()
    del x
    try:
        y = numpy_line()
        del y
    except ImportError:
        print("no numpy")
    a, b = known_lines()
    del a, b
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    leaky()
    print("sizes", sys.getsizeof(bytearray(4000)), sys.getsizeof(bytes(10000)),
          sys.getsizeof([None] * 5000), sys.getsizeof([None] * 2000))


main()
