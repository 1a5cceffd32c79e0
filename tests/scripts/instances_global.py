"""Class instances held by a module global, for `--memory exact`'s leak
report: every block allocated on the three marked lines (the instances,
their attribute values, their dicts or values arrays) is reachable from
POINTS, so none of it is leaked. Three layouts: attributes in the
instance's managed values (3.11+; a split dict before), a __slots__ class,
and instances whose __dict__ was asked for (a real dict). Prints "ok"."""


class Plain:
    def __init__(self, i):
        self.n = i + 1000
        self.f = float(i)


class Slotted:
    __slots__ = ("n", "f")

    def __init__(self, i):
        self.n = i + 1000
        self.f = float(i)


POINTS = []
for i in range(20_000):
    POINTS.append(Plain(i))  # plain
    POINTS.append(Slotted(i))  # slotted
    p = Plain(i)
    vars(p)["extra"] = (i, i + 2000)  # materialized
    POINTS.append(p)
print("ok")
