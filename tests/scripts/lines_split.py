"""Line time ground truth: in `split`, the first call line does 7 units of
work per repetition and the second 3, so they take 70 % and 30 % of the
time spent on the two lines (time in callees counts for the calling line)."""
REPS = 150


def busy(units):
    x = 0
    for _ in range(units * 20000):
        x += 1
    return x


@profile  # noqa: F821
def split():
    for _ in range(REPS):
        busy(7)  # 70 %
        busy(3)  # 30 %


split()
print("lines_split done")
