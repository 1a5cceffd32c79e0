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
import pkgutil


def all_rules():
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            found.append(importlib.import_module(f"{__name__}.{info.name}"))
    return found
