"""``python -m snakescope._advise CAPTURE --findings-out FILE [options] [--wait] [-- KIND TARGET ARGS...]``

Run by ``snakescope advise`` (Rust) after the program's capture is written:
writes the capture's ``findings`` section (JSON) to FILE, and with
``--verify`` (which needs the program: KIND is script, module or code, as
``_run.py`` takes it) measures each mechanical rewrite first. The Rust side,
which has read the capture meanwhile, adds the section to it, prints the
findings and renders ``-o``.
"""

import json
import marshal
import os
import sys
from types import SimpleNamespace

from ._advisor import findings, section
from .rules import all_rules

# The options `snakescope advise` passes (no argparse: this is not a user's
# command line, and argparse's imports (gettext, locale, shutil) cost 7 ms).
_VALUES = {"--operands": str, "--findings-out": str, "--threshold": float, "--repeat": int, "--write-patch": str}


def _parse(argv):
    if "--" in argv:
        split = argv.index("--")
        argv, program = argv[:split], argv[split + 1:]
    else:
        program = []
    opts = SimpleNamespace(capture=None, findings_out=None, operands=None, threshold=5.0, verify=False, repeat=5,
                           write_patch=None, program=program, wait=False)
    args = iter(argv)
    for arg in args:
        if arg in ("--verify", "--wait"):
            setattr(opts, arg[2:], True)
        elif arg in _VALUES:
            value = next(args, None)
            if value is None:
                sys.exit(f"snakescope advise: {arg} needs a value")
            setattr(opts, arg[2:].replace("-", "_"), _VALUES[arg](value))
        elif opts.capture is None and not arg.startswith("--"):
            opts.capture = arg
        else:
            sys.exit(f"snakescope advise: unexpected argument {arg!r}")
    if opts.capture is None or opts.findings_out is None:
        sys.exit("snakescope advise: the capture's path or --findings-out is missing")
    return opts


def main(argv):
    opts = _parse(argv)
    if opts.wait:
        # Started while the program runs (advise/rules.rs): imported, then
        # told whether there is a capture to advise on.
        all_rules()
        if sys.stdin.readline().strip() != "go":
            return 0
    with open(opts.capture, encoding="utf-8") as f:
        capture = json.load(f)
    operands = None
    if opts.operands and os.path.isfile(opts.operands):
        # (marshal: written by the operand sampler in this same interpreter)
        with open(opts.operands, "rb") as f:
            try:
                operands = marshal.load(f)
            except (EOFError, ValueError, TypeError):  # cut short: no facts
                operands = None
    threshold = opts.threshold / 100
    ev, found = findings(capture, operands, threshold)
    if opts.verify:
        from . import _verify

        _verify.verify_all(found, opts.program, opts.repeat, opts.write_patch)
    with open(opts.findings_out, "w", encoding="utf-8") as f:
        f.write(json.dumps(section(ev, found, threshold)))  # (dumps: the C encoder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
