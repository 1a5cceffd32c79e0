"""``snakescope`` and ``python -m snakescope``: the same command line as the
standalone binary, run by the native extension. ``snakescope run`` defaults to
this interpreter, which has the package installed."""

import os
import sys


def main() -> int:
    from snakescope import _native

    os.environ.setdefault("SNAKESCOPE_PYTHON", sys.executable)
    return _native.cli_main(["snakescope", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
