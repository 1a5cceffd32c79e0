"""The advisor's entry points: the findings of every rule on a capture, and
the capture's ``findings`` section (see the package's documentation)."""


from ._evidence import Evidence
from .rules import all_rules

DEFAULT_THRESHOLD = 0.05
MIN_GAIN = 0.01  # a remedy that can save less than 1 % is not worth a finding


def findings(capture, operands=None, threshold=DEFAULT_THRESHOLD):
    """The Finding objects of every rule, best first (largest bounded gain)."""
    ev = Evidence(capture, operands)
    found = []
    for rule in all_rules():
        if hasattr(rule, "check_line"):
            for hot in ev.ranked(threshold):
                found.append(rule.check_line(hot, ev))
        if hasattr(rule, "check_memory"):
            for hot in ev.memory_ranked(threshold):
                found.append(rule.check_memory(hot, ev))
        if hasattr(rule, "check_program"):
            found.extend(rule.check_program(ev, threshold))
    found = [f for f in found if f is not None and f.share >= threshold and f.gain >= MIN_GAIN]
    found.sort(key=lambda f: (-f.gain, -f.share, f.hot.file, f.hot.line))
    return ev, found


def section(ev, found, threshold):
    """The capture's `findings` section."""
    notes = []
    if not ev.has_opcodes:
        notes.append("recorded without --opcodes: the rules that read the sampled instructions "
                     "did not fire")
    if not ev.has_operands:
        notes.append("no operand facts (the capture was not recorded by `snakescope advise`): "
                     "containers' types come from the source only")
    if not ev.has_memory:
        notes.append("no memory section: the memory rules did not fire")
    if ev.has_operands and not ev.operands.get("waits"):
        notes.append("the threads' waiting was not measured (it needs Linux's /proc): "
                     "serial-io did not fire")
    return {
        "threshold": threshold,
        "rules": [r.NAME for r in all_rules()],
        "samples": ev.total,
        "notes": notes,
        "items": [f.to_json() for f in found],
    }
