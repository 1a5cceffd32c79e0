"""Module-level code timed by line (`--lines module_lines:<module>`), with a
class and a function defined in the middle: the timed lines after them must
show their source too (a module's block is the whole file). Known hits:
each loop's header runs N+1 times, its body N times."""
x = 0
for i in range(200):
    x += i


class Between:
    y = 1


for j in range(300):
    x -= j


def after():
    return x


print("module_lines", after())
