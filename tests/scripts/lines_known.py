"""Line timing ground truth: each marked line's hit count is known by
construction (see the `# hits:` comments; CALLS is how many times the
function runs). Exercises threads, recursion, a generator, exceptions."""
import threading

N = 1000
THREADS = 3


@profile  # noqa: F821  (kernprof's builtin, injected by `snakescope run`)
def loop(n):
    total = 0  # hits: calls
    for i in range(n):  # hits: calls * (n + 1)
        total += i  # hits: calls * n
        if i % 4 == 0:  # hits: calls * n
            total -= 1  # hits: calls * n / 4
    return total  # hits: calls


@profile  # noqa: F821
def fib(k):
    if k < 2:  # hits: 2 * fib(k + 1) - 1 calls
        return k  # hits: fib(k + 1) calls end here
    return fib(k - 1) + fib(k - 2)  # hits: fib(k + 1) - 1


@profile  # noqa: F821
def squares(n):
    for i in range(n):  # hits: n + 1
        yield i * i  # hits: n


@profile  # noqa: F821
def fails(x):
    if x:  # hits: 10
        raise ValueError(x)  # hits: 5
    return 0  # hits: 5


def unselected(n):
    return sum(range(n))


def main():
    loop(N)
    threads = [threading.Thread(target=loop, args=(N,)) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fib(10)
    total = sum(squares(50))
    caught = 0
    for i in range(10):
        try:
            fails(i % 2)
        except ValueError:
            caught += 1
    print("lines_known done", total, caught, unselected(10))


main()
