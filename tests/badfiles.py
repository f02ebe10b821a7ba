"""Bad inputs made on the fly: each must be refused with one clear line."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

from tests.imaging import synthetic_rgb


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def decompression_bomb() -> bytes:
    """A tiny, valid-looking PNG that declares 100000 x 100000 pixels."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b"")


def write_bad_files(folder: Path) -> dict[str, Path]:
    """Write one file per kind of bad input; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = io.BytesIO()
    Image.fromarray(synthetic_rgb(256, 256)).save(jpeg, format="JPEG", quality=95)
    files = {
        "empty": (folder / "empty.jpg", b""),
        "truncated": (folder / "truncated.jpg", jpeg.getvalue()[: len(jpeg.getvalue()) // 2]),
        "text": (folder / "notes.png", b"this is a text file, not a picture\n"),
        "bomb": (folder / "bomb.png", decompression_bomb()),
        "unsupported": (folder / "document.tif", b"%PDF-1.4\n1 0 obj <<>> endobj\n"),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return {name: path for name, (path, _) in files.items()}
