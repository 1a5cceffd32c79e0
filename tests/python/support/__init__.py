"""Helpers for snakescope's integration tests, imported by the test modules
with `from support import ...` (conftest.py keeps only the fixtures).

- paths: the repository, tests/scripts, the root filesystems;
- processes: the environment, running snakescope and targets with timeouts
  and cleanup, the contract for error output;
- interpreters: the version matrix and skipping absent interpreters;
- capture: the capture's validation (docs/capture.schema.json and the
  cross-references a schema cannot express), its stacks,
  `record`/`attach`, a hand-written capture, `dump --json`'s validation;
- targets: ground truth read from the target scripts' source;
- formats: collapsed stacks, speedscope and SVG checks (docs/formats.md);
- loadgen: the statistics of every share assertion, and the load generator;
- browser: headless Chromium over the DevTools protocol (test_html.py).

Everything but browser is re-exported here.
"""

from .capture import (
    EXACT_SOURCE,
    SYNTHETIC,
    TORN_ALLOWANCE,
    Capture,
    Stack,
    assert_schema,
    assert_shapes,
    attach,
    record,
    synthetic_exact,
    validate_capture,
    validate_dump,
)
from .formats import (
    SPEEDSCOPE_SCHEMA,
    check_speedscope,
    check_svg,
    expected_collapsed,
    frame_label,
    parse_collapsed,
    thread_label,
)
from .interpreters import (
    MATRIX,
    OLDER,
    REQUIRE_ROOTS,
    ROOTED,
    ROOTED_PYPY,
    RUN_MATRIX,
    SUPPORTED,
    UNSUPPORTED,
    Interpreter,
    accepted_names,
    has_qualnames,
    require_interpreter,
)
from .loadgen import (
    K_SIGMA,
    MIN_SAMPLES,
    SYSTEMATIC,
    assert_share,
    expected_share,
    share_tolerance,
)
from .paths import PYROOTS, REPO, SCRIPTS
from .processes import (
    QUICK_TIMEOUT,
    RECORD_TIMEOUT,
    Proc,
    Result,
    assert_clean_stderr,
    assert_error,
    live_page,
    run,
    target_env,
    wait_until_main_blocks,
)
from .targets import (
    assert_lines_inside_functions,
    function_spans,
    marker_lines,
    module_constant,
    read_info,
    script,
    source_lines,
)

__all__ = [
    "EXACT_SOURCE", "K_SIGMA", "MATRIX", "MIN_SAMPLES", "OLDER", "PYROOTS", "QUICK_TIMEOUT", "RECORD_TIMEOUT",
    "REPO", "REQUIRE_ROOTS", "ROOTED", "ROOTED_PYPY", "RUN_MATRIX", "SCRIPTS", "SPEEDSCOPE_SCHEMA",
    "SUPPORTED", "SYNTHETIC", "SYSTEMATIC", "TORN_ALLOWANCE", "UNSUPPORTED",
    "Capture", "Interpreter", "Proc", "Result", "Stack",
    "accepted_names", "assert_clean_stderr", "assert_error", "assert_lines_inside_functions", "live_page",
    "assert_schema", "assert_shapes", "assert_share", "attach", "check_speedscope", "check_svg",
    "expected_collapsed", "expected_share", "frame_label", "function_spans", "has_qualnames",
    "marker_lines", "module_constant", "parse_collapsed", "read_info", "record",
    "require_interpreter", "run", "script", "share_tolerance", "source_lines", "synthetic_exact", "target_env",
    "thread_label", "validate_capture", "validate_dump", "wait_until_main_blocks",
]
