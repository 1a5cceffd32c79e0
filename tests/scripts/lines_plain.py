"""No decorators: functions are picked with `--lines` patterns. `alpha`
runs 300 loop iterations, `Beta.method` 20, `gamma` is not selected."""


def alpha(n):
    s = 0
    for i in range(n):  # hits: n + 1
        s += i  # hits: n
    return s


class Beta:
    def method(self, n):
        return [i for i in range(n)]  # hits: 1 per call


def gamma(n):
    return n * 2


alpha(300)
for _ in range(20):
    Beta().method(3)
gamma(1)
print("lines_plain done")
