"""The advisor's rules: one module each, found here by name (adding a rule is
adding a module, and its slow/fast pair under tests/advise_corpus/).

A rule module has NAME (an id), TITLE, CHAPTER (of *High Performance
Python*, 2nd ed.) and one of:

- ``check_line(hot, evidence)``: called for each line above the time
  threshold (hottest first), returns a Finding or None;
- ``check_memory(hot, evidence)``: the same for lines holding memory at the peak;
- ``check_program(evidence, threshold)``: program-wide facts (threads), returns
  a list of Findings.
"""

import importlib
import os


def all_rules():
    """The rule modules, by name (a directory listing: pkgutil's iteration
    imports inspect and typing, 8 ms of advise's time)."""
    names = sorted(f[:-3] for d in __path__ for f in os.listdir(d)
                   if f.endswith(".py") and not f.startswith("_"))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]
