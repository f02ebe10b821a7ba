"""The command line on real files: folders, formats, bad inputs, never touching inputs."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from revive_core.cli import main
from tests.badfiles import write_bad_files
from tests.imaging import synthetic_rgb

ROOT = Path(__file__).resolve().parent.parent


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "holiday").mkdir(parents=True)
    Image.fromarray(synthetic_rgb(30, 40, 1)).save(folder / "beach.jpg", quality=90)
    Image.fromarray(synthetic_rgb(25, 20, 2)).convert("RGBA").save(folder / "holiday" / "logo.png")
    Image.fromarray(synthetic_rgb(16, 18, 3)[..., 0]).save(folder / "holiday" / "grey.png")
    return folder


def test_folder_is_mirrored_with_formats_kept(photos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    before = digest(photos)
    assert main(["upscale", str(photos), "-o", str(out), "--model", "vdsr", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {item["status"] for item in report} == {"ok"}
    assert Image.open(out / "beach.jpg").size == (80, 60)
    assert Image.open(out / "holiday" / "logo.png").mode == "RGBA"
    assert Image.open(out / "holiday" / "grey.png").mode == "L"
    assert digest(photos) == before
    assert not [p for p in out.rglob("*") if ".part" in p.name]


def test_skip_existing_then_overwrite(photos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.png"
    source = photos / "beach.jpg"
    assert main(["upscale", str(source), "-o", str(out), "--scale", "3", "--model", "vdsr"]) == 0
    first = out.stat().st_mtime_ns
    assert main(["upscale", str(source), "-o", str(out), "--scale", "3", "--json"]) == 0
    assert "skipped" in json.loads(capsys.readouterr().out)[0]["status"]
    assert out.stat().st_mtime_ns == first
    assert main(["upscale", str(source), "-o", str(out), "--scale", "3", "--overwrite", "--model", "vdsr"]) == 0
    assert Image.open(out).format == "PNG" and Image.open(out).size == (120, 90)


def test_never_writes_onto_an_input(photos: Path, capsys) -> None:
    source = photos / "holiday" / "logo.png"
    before = source.read_bytes()
    assert main(["upscale", str(source), "-o", str(source), "--overwrite", "--model", "vdsr"]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_format_flag(photos: Path, tmp_path: Path) -> None:
    assert main(["upscale", str(photos / "holiday" / "logo.png"), "-o", str(tmp_path / "o"), "--format", "jpg", "--model", "vdsr"]) == 0
    assert Image.open(tmp_path / "o" / "logo.jpg").format == "JPEG"


def test_usage_errors_exit_2(photos: Path, tmp_path: Path, capsys) -> None:
    assert main(["upscale", str(photos), "-o", str(tmp_path / "o"), "--model", "edsr"]) == 2
    assert "no trained model 'edsr'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["upscale", str(photos), "-o", str(tmp_path / "o"), "--scale", "5"])
    assert exit_info.value.code == 2
    assert main(["upscale", str(photos), "-o", str(tmp_path / "o"), "--scale", "1", "--model", "vdsr"]) == 2
    assert "scale 1 (repair without enlarging) needs the revive model" in capsys.readouterr().err
    assert main(["upscale", str(photos), "-o", str(tmp_path / "o"), "--strength", "1.5"]) == 2
    assert "strength must be between 0 and 1, not 1.5" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_inputs_fail_one_line_each_and_good_ones_succeed(photos: Path, tmp_path: Path) -> None:
    bad = write_bad_files(photos / "bad")
    out = tmp_path / "out"
    before = digest(photos)
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "revive_core", "upscale", str(photos), "-o", str(out), "--model", "vdsr"],
        capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=300,
    )
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    failed = {Path(line.split(": ", 1)[0]).name: line.split(": ", 1)[1] for line in lines}
    assert set(failed) == {path.name for path in bad.values()}, lines
    assert "empty" in failed["empty.jpg"]
    assert "truncated" in failed["truncated.jpg"]
    assert "not an image" in failed["notes.png"]
    assert "too many pixels" in failed["bomb.png"]
    assert "not an image" in failed["document.tif"]
    assert not (out / "bad").exists() or not any((out / "bad").iterdir())
    assert (out / "beach.jpg").exists() and (out / "holiday" / "logo.png").exists()
    assert digest(photos) == before


def test_missing_input_is_reported(tmp_path: Path, capsys) -> None:
    assert main(["upscale", str(tmp_path / "nothing.png"), "-o", str(tmp_path / "o")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_ensemble_flag_runs_the_eight_pass_average(photos: Path, tmp_path: Path, capsys) -> None:
    source = photos / "beach.jpg"
    plain, averaged = tmp_path / "plain.png", tmp_path / "averaged.png"
    assert main(["upscale", str(source), "-o", str(plain), "--model", "vdsr", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["ensemble"] is False
    assert main(["upscale", str(source), "-o", str(averaged), "--model", "vdsr", "--ensemble", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["ensemble"] is True
    with Image.open(plain) as first, Image.open(averaged) as second:
        assert first.size == second.size == (80, 60)
        assert first.tobytes() != second.tobytes()


def test_package_and_data_preparation_import_without_keras(tmp_path: Path) -> None:
    """``import revive_core`` and ``train.prepare`` stay light (no Keras/TensorFlow start-up, ~4 s and
    hundreds of MB per worker); the first model-facing name loads the backend, quietly."""
    script = ("import sys, revive_core, revive_core.resize, train.prepare\n"
              "assert not {'keras', 'tensorflow'} & set(sys.modules), sorted({'keras', 'tensorflow'} & set(sys.modules))\n"
              "assert revive_core.list_models() and 'keras' in sys.modules\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
