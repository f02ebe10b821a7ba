"""Atomic report writing (the evaluation and benchmark commands' --output and --json)."""

import json
from pathlib import Path

import pytest

from revive_core.paths import write_reports, write_text_atomic


def test_reports_are_written_whole_and_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    markdown, raw = tmp_path / "out" / "table.md", tmp_path / "out" / "table.json"
    write_reports("| a |\n|---|", {"x2/vdsr/Set5": {"psnr": 37.5}}, str(markdown), str(raw))
    assert markdown.read_text() == "| a |\n|---|\n"
    assert json.loads(raw.read_text()) == {"x2/vdsr/Set5": {"psnr": 37.5}}
    with pytest.raises(TypeError):
        write_reports("new", {"bad": object()}, None, str(raw))
    assert json.loads(raw.read_text()) == {"x2/vdsr/Set5": {"psnr": 37.5}}
    write_text_atomic(markdown, "second")
    assert markdown.read_text() == "second"
    assert sorted(path.name for path in markdown.parent.iterdir()) == ["table.json", "table.md"]  # no leftovers
    write_reports("only markdown", {}, str(markdown), None)
    assert markdown.read_text() == "only markdown\n" and json.loads(raw.read_text())["x2/vdsr/Set5"]["psnr"] == 37.5


def test_replacing_keeps_the_old_file_until_the_new_one_is_whole(tmp_path: Path) -> None:
    """``replacing`` (checkpoints, prepared arrays, shipped weights): the temporary keeps the suffixes
    writers insist on, the target changes only on success, and nothing is left behind either way."""
    import numpy as np

    from revive_core.paths import replacing

    target = tmp_path / "ema.weights.h5"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with replacing(target) as temporary:
            assert temporary.parent == tmp_path and temporary.name.endswith(".weights.h5")
            temporary.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old" and [path.name for path in tmp_path.iterdir()] == ["ema.weights.h5"]
    array = tmp_path / "pairs" / "x2" / "p0.npy"
    with replacing(array) as temporary:
        np.save(temporary, np.arange(6, dtype=np.uint8))  # np.save would append ".npy" to another name
    assert np.array_equal(np.load(array), np.arange(6)) and [path.name for path in array.parent.iterdir()] == ["p0.npy"]
