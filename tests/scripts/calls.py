"""Deterministic call structure for exact-profile tests: recursion (total vs
primitive calls), generators (each resume is a call), methods, built-ins,
comprehensions and a caught exception. Prints nothing; no timing involved."""


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def countdown(n):
    while n:
        yield n
        n -= 1


class Shape:
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side


def fails(i):
    if i % 3 == 0:
        raise ValueError(i)
    return i


def main():
    total = fib(18)
    total += sum(countdown(500))
    shapes = [Shape(i) for i in range(300)]
    total += sum(s.area() for s in shapes)
    items = []
    for i in range(200):
        try:
            items.append(fails(i))
        except ValueError:
            items.append(abs(-i))
    total += len(sorted(items, key=lambda x: -x))
    return total


if __name__ == "__main__":
    main()
