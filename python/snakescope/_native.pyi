"""Type stubs for the native agent (checked against the module in the tests)."""

__version__: str

def start(rate_hz: float = 1000.0, idle: bool = False, gil: bool = False, hide_files: list[str] = ...) -> None:
    """Start sampling this process's Python threads on a native thread."""

def stop(
    output: str,
    format: str | None = None,
    command: list[str] = ...,
    exit_code: int | None = None,
    quiet: bool = False,
) -> None:
    """Stop sampling and write the profile (and the summary to stderr)."""

def is_running() -> bool:
    """Whether the sampler is running."""

def cli_main(argv: list[str]) -> int:
    """Run the snakescope command line; returns the exit status."""
