"""Where things are: the repository, the target scripts, the root filesystems."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = REPO / "tests" / "scripts"
# The root filesystems that scripts/pyroots.sh builds (`make roots`).
PYROOTS = REPO / ".pyroots"
