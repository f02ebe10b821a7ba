"""Weights: local first, then the Hugging Face Hub (a pre-seeded offline cache), sha256 checked."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from revive_core.errors import WeightsError
from revive_core.weights import locate, read_manifest, weights_dir

ROOT = Path(__file__).resolve().parent.parent


def shipped_entry():
    entries = read_manifest()
    if not entries:
        pytest.skip("no shipped weights")
    return next(iter(entries.values()))


def test_manifest_entries_are_complete_and_files_verify() -> None:
    for entry in read_manifest().values():
        assert entry.sha256 and entry.scales and entry.metadata["recipe"]["command"].startswith("python -m train.prepare")
        assert locate(entry) == weights_dir() / entry.file


def test_corrupt_file_names_the_file(tmp_path: Path, monkeypatch) -> None:
    entry = shipped_entry()
    shutil.copy(weights_dir() / "manifest.json", tmp_path / "manifest.json")
    (tmp_path / entry.file).write_bytes(b"not weights")
    monkeypatch.setenv("REVIVE_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match=f"{entry.file} is corrupt"):
        locate(entry)


def run_python(code: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **environment})


def test_missing_file_comes_from_a_seeded_hub_cache(tmp_path: Path) -> None:
    from revive_core.models import entry_for

    first = shipped_entry()
    entry = entry_for(first.family, first.scales[0])  # the file that upscale() below loads
    local = tmp_path / "weights"
    local.mkdir()
    shutil.copy(weights_dir() / "manifest.json", local / "manifest.json")
    commit = "0123456789abcdef0123456789abcdef01234567"
    repository = tmp_path / "cache" / "models--example--revive-weights"
    (repository / "snapshots" / commit).mkdir(parents=True)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text(commit)
    shutil.copy(weights_dir() / entry.file, repository / "snapshots" / commit / entry.file)
    environment = {"REVIVE_WEIGHTS_DIR": str(local), "REVIVE_HUB_REPO": "example/revive-weights",
                   "HF_HUB_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    code = (
        "import numpy as np, revive_core\n"
        f"print(revive_core.upscale(np.zeros((8, 9, 3), np.uint8), {entry.scales[0]}, '{entry.family}').shape)\n"
        "from revive_core.weights import locate, read_manifest\n"
        f"print(locate(read_manifest()['{entry.key}']))\n"
    )
    result = run_python(code, environment)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == str((8 * entry.scales[0], 9 * entry.scales[0], 3))
    assert lines[1].startswith(str(repository / "snapshots" / commit))
    # Not in the cache and offline: one clear sentence naming the file and the remedy.
    shutil.rmtree(tmp_path / "cache")
    result = run_python(code, environment)
    assert result.returncode != 0
    assert f"weights file {entry.file} is not in {local}" in result.stderr
    assert "example/revive-weights" in result.stderr


def test_no_manifest_means_no_models_and_a_clear_refusal(tmp_path: Path, monkeypatch, capsys) -> None:
    from revive_core.cli import main
    from revive_core.models import list_models

    monkeypatch.setenv("REVIVE_WEIGHTS_DIR", str(tmp_path))
    assert list_models() == []
    (tmp_path / "in.png").write_bytes(b"")
    assert main(["upscale", str(tmp_path / "in.png"), "-o", str(tmp_path / "out")]) == 2
    assert "no trained weights are installed" in capsys.readouterr().err


def test_the_most_specialised_entry_serves_each_scale() -> None:
    """revive ships specialists beside the x1-x4 model: x1 gets the x1/x2 one, x2 its own, x3/x4 the x1-x4 one."""
    from revive_core.models import entry_for

    entries = read_manifest()
    if not {"revive-x12", "revive-x2", "revive-x1234"} <= set(entries):
        pytest.skip("the shipped revive models are not installed")
    assert entry_for("revive", 1).key == "revive-x12"
    assert entry_for("revive", 2).key == "revive-x2"
    assert entry_for("revive", 3).key == entry_for("revive", 4).key == "revive-x1234"
    assert entries["revive-x2"].scales == (2,)
    assert entries["revive-x12"].arguments["blocks"] > entries["revive-x1234"].arguments["blocks"]
