"""Threads started after profiling began: each of 3 workers calls `unit`
exactly 1000 times, the main thread calls it 500 times. Prints nothing."""
import threading


def unit(x):
    return x * 2


def worker():
    for i in range(1000):
        unit(i)


def main():
    for i in range(500):
        unit(i)
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
