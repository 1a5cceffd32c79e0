"""``snakescope`` and ``python -m snakescope``: the same command line as the
standalone binary, run by the native extension. ``snakescope run`` defaults to
this interpreter, which has the package installed, and lends this package to
another interpreter (``--python``) that does not have it."""

import os
import sys


def main(prog: str = "snakescope") -> int:
    """Runs the command line; ``prog`` is how the user called it, as hints
    for a mistyped command spell it."""
    from snakescope import _native

    _tell_the_command_line()
    return _native.cli_main([prog, *sys.argv[1:]])


def _tell_the_command_line():
    """This interpreter (``SNAKESCOPE_PYTHON``, and whether it is a
    free-threaded build) and this package's directory (``SNAKESCOPE_PACKAGE``),
    through the environment, unless the user set
    them; the names set here are listed in ``SNAKESCOPE_SET_BY_COMMAND`` so
    that programs snakescope starts do not inherit them."""
    added = []
    for name, value in (
        ("SNAKESCOPE_PYTHON", sys.executable),
        # A free-threaded build's ABI flags hold "t" (sysconfig costs an import).
        ("SNAKESCOPE_PYTHON_FREE_THREADED", "1" if "t" in getattr(sys, "abiflags", "") else "0"),
        ("SNAKESCOPE_PACKAGE", os.path.dirname(os.path.abspath(__file__))),
    ):
        if value and name not in os.environ:
            os.environ[name] = value
            added.append(name)
    os.environ["SNAKESCOPE_SET_BY_COMMAND"] = ",".join(added)


if __name__ == "__main__":
    # `python -m snakescope`: hints say `python3 -m snakescope run app.py`.
    sys.exit(main(f"{os.path.basename(sys.executable) or 'python3'} -m snakescope"))
