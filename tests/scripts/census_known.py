"""Known objects alive at exit, for the heap census: CENSUS_DICTS objects of
class Known, each with a dict holding an empty list (the collector tracks
all three), CENSUS_FLOATS
distinct floats in one list and CENSUS_INTS distinct ints (above every
interpreter's cached ones) in another; with CENSUS_FREEZE=1, gc.freeze()
moves them all to the collector's permanent generation. Prints the three
numbers."""

import gc
import os

D = int(os.environ.get("CENSUS_DICTS", "0"))
F = int(os.environ.get("CENSUS_FLOATS", "0"))
N = int(os.environ.get("CENSUS_INTS", "0"))
BASE = 1_000_000


class Known:
    __slots__ = ("d",)

    def __init__(self):
        self.d = {"items": []}


dicts = [Known() for _ in range(D)]
floats = [i + 0.5 for i in range(F)]
ints = list(range(BASE, BASE + N))
if os.environ.get("CENSUS_FREEZE") == "1":
    gc.freeze()
print(D, F, N)
