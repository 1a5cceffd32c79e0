"""A loop with one heavy line, for `--opcodes` and `snakescope dis`.

`kernel`'s loop body is one line of 64 float multiplications and additions
(about 130 instructions); the loop itself is two or three instructions a
turn, so that line holds well over 90 % of the function's time by
construction. Float operands make 3.11+ specialise its arithmetic
(`BINARY_OP_MULTIPLY_FLOAT`, `BINARY_OP_ADD_FLOAT`). The tests find the line
by its `# heavy` marker.

The program calls `kernel` until it has used SECONDS of CPU time (a
wall-clock cap of 20 x SECONDS stops it on a starved machine). At the end,
when REPORT_PATH is given, it writes what the interpreter's own `dis` shows
of `kernel` then (with `adaptive=True` on 3.11+: the specialised forms in
memory), as JSON: {"instructions": [[offset, opname, line], ...]}.

READY_PATH, when given, is created once `kernel` has run once (for a
profiler attaching to the running program).

Usage: opcodes_heavy.py [SECONDS [REPORT_PATH [READY_PATH]]]   (default 2.0 s). Prints nothing.
"""

import dis
import json
import sys
import time


def kernel(n, x):
    acc = 0.0
    for _ in range(n):
        acc = acc + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x + x * x  # heavy  # noqa: E501
    return acc


def shown(f):
    """(offset, opname, line) of each instruction, as `dis` shows them now."""
    if sys.version_info >= (3, 11):
        instructions = dis.get_instructions(f, adaptive=True)
    else:
        instructions = dis.get_instructions(f)
    out, line = [], None
    for i in instructions:
        number = getattr(i, "line_number", None) if sys.version_info >= (3, 13) else i.starts_line
        if number is not None:
            line = number
        out.append([i.offset, i.opname, line])
    return out


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    report = sys.argv[2] if len(sys.argv) > 2 else None
    ready = sys.argv[3] if len(sys.argv) > 3 else None
    cpu_end = time.thread_time() + seconds
    wall_end = time.monotonic() + 20 * seconds
    while time.thread_time() < cpu_end and time.monotonic() < wall_end:
        kernel(10_000, 1.000001)
        if ready:
            open(ready, "w").close()
            ready = None
    if report:
        with open(report, "w") as f:
            json.dump({"instructions": shown(kernel)}, f)


if __name__ == "__main__":
    main()
