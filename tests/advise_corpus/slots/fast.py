"""Loads 200,000 sensor readings as instances of a class with
`__slots__` (no dict of attributes per instance), then sums them per sensor
and per hour (advise corpus: slots, fast)."""


class Reading:
    __slots__ = ("sensor", "hour", "value")

    def __init__(self, sensor, hour, value):
        self.sensor = sensor
        self.hour = hour
        self.value = value


def load(n):
    return [Reading(i % 97, i % 24, (i * 7919) % 10007 / 100) for i in range(n)]


def summarise(readings, passes):
    by_sensor = [0.0] * 97
    by_hour = [0.0] * 24
    for _ in range(passes):
        for r in readings:
            by_sensor[r.sensor] += r.value
            by_hour[r.hour] += r.value
    return max(by_sensor), min(by_hour)


readings = load(200_000)  # alive to the end: censused near the peak and at exit
top, low = summarise(readings, 6)
print(len(readings), f"{top:.2f}", f"{low:.2f}")
