"""``python -m snakescope._advise CAPTURE [options] [-- KIND TARGET ARGS...]``

Run by ``snakescope advise`` (Rust) after the program's capture is written:
adds the ``findings`` section to CAPTURE (rewritten in place), and with
``--verify`` (which needs the program: KIND is script, module or code, as
``_run.py`` takes it) measures each mechanical rewrite first. The Rust side
prints the findings and renders ``-o``.
"""

import argparse
import json
import os
import sys

from . import findings, section


def _parse(argv):
    if "--" in argv:
        split = argv.index("--")
        argv, program = argv[:split], argv[split + 1:]
    else:
        program = []
    parser = argparse.ArgumentParser(prog="snakescope advise")
    parser.add_argument("capture")
    parser.add_argument("--operands")
    parser.add_argument("--threshold", type=float, default=5.0)
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write-patch")
    opts = parser.parse_args(argv)
    opts.program = program
    return opts


def main(argv):
    opts = _parse(argv)
    with open(opts.capture, encoding="utf-8") as f:
        capture = json.load(f)
    operands = None
    if opts.operands and os.path.isfile(opts.operands):
        with open(opts.operands, encoding="utf-8") as f:
            operands = json.load(f)
    threshold = opts.threshold / 100
    ev, found = findings(capture, operands, threshold)
    if opts.verify:
        from . import _verify

        _verify.verify_all(found, opts.program, opts.repeat, opts.write_patch)
    capture["findings"] = section(ev, found, threshold)
    tmp = opts.capture + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(capture, f)
    os.replace(tmp, opts.capture)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
