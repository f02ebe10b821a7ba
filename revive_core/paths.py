"""Where shared research data lives (never inside the repository), and atomic writes of text files."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def shared_root() -> Path:
    """``$REVIVE_SHARED`` or ``../shared`` beside the repository; may not exist."""
    return Path(os.environ.get("REVIVE_SHARED", REPOSITORY_ROOT.parent / "shared"))


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, synced, then a rename:
    readers see the old file or the whole new one, never part of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """``write_bytes_atomic`` of ``text`` in UTF-8."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_reports(markdown: str, data: Any, markdown_path: str | None, json_path: str | None) -> None:
    """The ``--output`` (markdown) and ``--json`` files of the evaluation and benchmark commands, each optional."""
    if markdown_path:
        write_text_atomic(markdown_path, markdown + "\n")
    if json_path:
        write_text_atomic(json_path, json.dumps(data, indent=1, default=float) + "\n")
