"""`run --exact`'s printed table: pstats' own, from the capture.

The native hook (``_native.exact_start``/``exact_stop``) keeps cProfile's
accounting and returns a capture with an exact section; its pstats writer
gives cProfile's ``Profile.stats`` dictionary (``Capture.pstats()``), which
``pstats.Stats`` prints here, so the table is pstats' own.
"""

import sys


class _Snapshot:
    """What ``pstats.Stats`` accepts in place of a ``cProfile.Profile``."""

    def __init__(self, stats):
        self.stats = stats

    def create_stats(self):
        pass


def print_table(stats, sort, stream=None):
    """The table ``python -m cProfile -s SORT`` prints."""
    import pstats  # only now: the profiled program's own imports must stay its own

    pstats.Stats(_Snapshot(stats), stream=stream or sys.stderr).strip_dirs().sort_stats(sort).print_stats()
