"""Where shared research data lives (never inside the repository), and atomic writes of files."""

from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def shared_root() -> Path:
    """``$REVIVE_SHARED`` or ``../shared`` beside the repository; may not exist."""
    return Path(os.environ.get("REVIVE_SHARED", REPOSITORY_ROOT.parent / "shared"))


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffixes, so ``np.save`` and Keras accept it) to
    write to; on success it is synced and renamed over ``path``, on error removed. Readers see the
    old file or the whole new one, never part of it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part{''.join(path.suffixes[-2:])}")
    try:
        yield temporary
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through ``replacing``."""
    with replacing(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """``write_bytes_atomic`` of ``text`` in UTF-8."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_reports(markdown: str, data: Any, markdown_path: str | None, json_path: str | None) -> None:
    """The ``--output`` (markdown) and ``--json`` files of the evaluation and benchmark commands, each optional."""
    if markdown_path:
        write_text_atomic(markdown_path, markdown + "\n")
    if json_path:
        write_text_atomic(json_path, json.dumps(data, indent=1, default=float) + "\n")
