"""Large arguments pickled to pool workers with every task -> send them once
(ch. 9, The multiprocessing Module: the cost of pickling, sharing numpy data).

A program-wide rule (`run` profiles the parent only: the evidence is the
parent's). Fires when all three hold: at least the threshold's share of the
parent's samples pickle and send task arguments (a frame of multiprocessing's
reduction.py `dumps` or connection.py `send` / `send_bytes`: the Pool's task
handler, a Queue's feeder thread); a call of the program's own code (a file
the operand sampler looked into) submits work to a pool (`.map`, `.starmap`,
`.imap`, `.imap_unordered`, `.map_async`, `.starmap_async`, `.apply_async`,
`.apply`, `.submit`) with a name sent again with every task (source): an item
of the comprehension making the tasks, not bound by it; `repeat(name)`; an
argument of the mapped `partial(f, name)`; an argument of `apply_async` /
`submit` in a loop or comprehension that does not rebind it; and that name
was seen at run time (operand sampler, at the line or in its function) as a
container, str or bytes of at least 10,000 items, or a numpy array of at
least 10,000 elements. The finding points at the submitting line; its gain is
bounded by the pickling share. Without operand facts it does not fire.
"""

import os
import sys
from math import prod

from .._evidence import HotLine, read_source
from .._finding import Finding, indent_of, operand_text, pct, size
from ._pool import repeated, without

NAME = "pickled-args"
TITLE = "large arguments pickled with every task: send them to the workers once"
CHAPTER = "ch. 9, The multiprocessing Module"
LARGE = 10_000
SIZED = {"list", "tuple", "dict", "set", "frozenset", "str", "bytes", "bytearray",
         "collections.deque"}
_SENDERS = {("reduction.py", "dumps"), ("connection.py", "send"), ("connection.py", "send_bytes")}


def check_program(ev, threshold):
    if not ev.total or not ev.operands:
        return []
    sending = [s for s in ev.stacks if any(_sends(ev.frames[i]) for i in s["frames"])]
    share = sum(s["count"] for s in sending) / ev.total
    if share < threshold:
        return []
    best, cache = None, {}
    rows = ev.operands.get("lines", []) + ev.operands.get("functions", [])
    for path in sorted({r["file"] for r in rows}):
        source = read_source(path, cache)
        for call, name, how in repeated(source) if source else ():
            fact = _fact(ev.operands, source, call, name)
            n = _size(fact)
            if n >= LARGE and (best is None or n > best[0]):
                best = (n, source, call, name, how, fact)
    if best is None:
        return []
    _, source, call, name, how, fact = best
    func = source.enclosing_function(call)
    hot = HotLine(source.path, call.lineno, func.name if func else "<module>")
    hot.source, hot.share = source, share
    threads = sorted({ev.threads[s["thread"]].get("name") or "?" for s in sending})
    evidence = [f"{pct(share)} of the parent's samples pickle and send task arguments "
                f"(multiprocessing's `dumps`, `send`), in {', '.join(threads)}",
                operand_text(name, fact), f"`{name}` goes with every task: {how}"]
    grown = sum(h.allocated_bytes for h in ev.lines.values()
                if _sends({"file": h.file, "function": h.function.rsplit(".", 1)[-1]}))
    if grown:
        evidence.append(f"pickling allocated {size(grown)} in the parent (memory section)")
    evidence.append("the workers unpickle it again for every task (not in this profile: "
                    "`run` follows the parent only)")
    before = source.lines[call.lineno - 1].rstrip()
    pad = indent_of(hot)
    after = (f"{pad}# made once: Pool(..., initializer=keep, initargs=({name},)), keep() "
             f"storing `{name}` in a global of the worker\n{pad}{without(before, name)}"
             "  # the task function reads that global")
    return [Finding(
        sys.modules[__name__], hot, share=share, evidence=evidence,
        remedy=(f"Send `{name}` to each worker once: the pool's initializer (initargs) storing "
                "it in a global, or multiprocessing.shared_memory (a numpy array on a shared "
                "block); then submit only each task's own arguments: now it is pickled, sent "
                "and unpickled again for every task."),
        before=before, after=after, gain=share,
        gain_text=(f"up to {pct(share)} of the parent's samples (pickling and sending the "
                   "tasks), and the workers' unpickling, not profiled"),
    )]


def _sends(frame):
    head, base = os.path.split(frame["file"])
    return os.path.basename(head) == "multiprocessing" and (base, frame["function"]) in _SENDERS


def _fact(operands, source, call, name):
    """The operand sampler's fact on `name`: at the call's line, else in its function."""
    for row in operands.get("lines", []):
        if (row["file"], row["line"]) == (source.path, call.lineno) and name in row["names"]:
            return dict(row["names"][name], where=f"{row['seen']} looks at the line")
    func = source.enclosing_function(call)
    for row in operands.get("functions", []):
        if row["file"] == source.path and name in row["names"] and \
                row["function"].split(".")[-1] == (func.name if func else "<module>"):
            return dict(row["names"][name], where=f"{row['seen']} looks into {row['function']}")
    return None


def _size(fact):
    if fact and fact["type"] == "numpy.ndarray" and fact.get("shape") is not None:
        return prod(fact["shape"])
    return (fact.get("len_max") or 0) if fact and fact["type"] in SIZED else 0
