"""Where shared research data lives (never inside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def shared_root() -> Path:
    """``$REVIVE_SHARED`` or ``../shared`` beside the repository; may not exist."""
    return Path(os.environ.get("REVIVE_SHARED", REPOSITORY_ROOT.parent / "shared"))
