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
