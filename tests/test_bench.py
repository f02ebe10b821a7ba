"""The benchmark's code path on tiny generated images (no timing assertions), and the inference
properties it relies on: one trace for every image size, tiled == untiled through the Runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imaging import synthetic_rgb
from revive_core import bench
from revive_core.metrics import calculate_psnr
from revive_core.resize import imresize
from revive_core.tiling import SHAPE_STEP, Tile, plan_tiles, tiled_apply

FAMILY = "benchtiny"


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory):
    """A weights folder holding one small random SRCNN (family ``benchtiny``, x2 and x3), active."""
    from revive_core.architectures import build
    from revive_core.weights import sha256_of

    folder = tmp_path_factory.mktemp("weights")
    arguments = {"filters": [8, 4]}
    model = build("srcnn", padding="valid", **arguments)
    model.save_weights(folder / "benchtiny.weights.h5")
    manifest = {"format": 1, "models": {"benchtiny-x23": {
        "family": FAMILY, "file": "benchtiny.weights.h5", "architecture": "srcnn", "arguments": arguments,
        "scales": [2, 3], "sha256": sha256_of(folder / "benchtiny.weights.h5"), "description": "test"}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REVIVE_WEIGHTS_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small HR images: RGB 52x40 and grey 30x36 (sides not multiples of 2 or 3)."""
    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(synthetic_rgb(40, 52, seed=1)).save(folder / "a_colour.png")
    Image.fromarray(synthetic_rgb(37, 31, seed=2)[..., 1]).save(folder / "b_grey.png")
    return folder


@pytest.fixture(scope="module")
def report(weights: Path, photos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One in-process bench run over every section: the markdown and the JSON."""
    out = tmp_path_factory.mktemp("bench")
    arguments = bench.parse_args([
        "--folder", str(photos), "--scales", "2", "--models", FAMILY, "--precision", "both", "--limit", "2",
        "--isolation", "none", "--precision-folders", str(photos),
        "--throughput-size", "64", "48", "--large-size", "80", "60",
        "--output", str(out / "table.md"), "--json", str(out / "out.json"),
    ])
    assert bench.main(arguments) == 0
    return {"markdown": (out / "table.md").read_text(), "json": json.loads((out / "out.json").read_text())}


def table_rows(markdown: str, header_start: str) -> tuple[list[str], list[list[str]]]:
    """(header cells, body rows as cells) of the markdown table whose header starts with ``header_start``."""
    lines = markdown.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(header_start))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    body = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        body.append([cell.strip() for cell in line.strip("|").split("|")])
    return header, body


def test_main_table_has_every_method_and_column(report: dict) -> None:
    header, rows = table_rows(report["markdown"], "| method |")
    assert header == bench.MAIN_COLUMNS
    names = [(row[0], row[1], row[2]) for row in rows]
    assert names[:2] == [("Bicubic (MATLAB imresize)", "–", "×2"), ("Bicubic (OpenCV INTER_CUBIC)", "–", "×2")]
    assert names[-2:] == [("BENCHTINY (Revive)", "bf16", "×2"), ("BENCHTINY (Revive)", "fp32", "×2")]
    peers = [row for row in rows if "dnn_superres" in row[0]]
    if not peers:
        assert "peers skipped" in report["markdown"]
    assert all(len(row) == len(header) and "failed" not in " ".join(row) for row in rows)
    for row in rows:
        assert np.isfinite(float(row[3])) and -1 <= float(row[4]) <= 1 and float(row[6]) > 0 and float(row[9]) > 0
        assert "Revive" in row[0] or float(row[3]) > 30  # bicubic and peers on smooth images; the model is random
        model = "Revive" in row[0]
        assert (row[7] != "–") == model and (row[8] != "–") == model
    for result in report["json"]["main"]:
        assert result["peak_rss_mb"] >= 1 and len(result["images"]) == 2
        if result["method"]["kind"] == "model":
            assert result["tracing_count"] == 1 and result["ratio"] > 0


def test_extra_sections_are_present(report: dict, photos: Path) -> None:
    _, precision = table_rows(report["markdown"], "| model | scale | set |")
    assert [row[:3] for row in precision] == [["BENCHTINY", "×2", photos.name]]
    _, throughput = table_rows(report["markdown"], "| model | precision | input → output | bare")
    assert [(row[1], row[2]) for row in throughput] == [("bf16", "64×48 → 128×96"), ("fp32", "64×48 → 128×96")]
    _, large = table_rows(report["markdown"], "| model | precision | input → output | seconds")
    assert len(large) == 1 and large[0][2] == "80×60 → 160×120" and large[0][6] == "yes"


def test_bicubic_psnr_is_the_standard_protocol(report: dict, photos: Path) -> None:
    """The bench's MATLAB-bicubic PSNR equals calculate_psnr on the protocol's images, and train.evaluate's."""
    from train.evaluate import score_images

    bicubic = next(r for r in report["json"]["main"] if r["method"]["kind"] == "bicubic-matlab")
    for record in bicubic["images"]:
        hr = np.asarray(Image.open(photos / record["image"]))
        hr = hr[: hr.shape[0] // 2 * 2, : hr.shape[1] // 2 * 2]
        expected = calculate_psnr(imresize(imresize(hr, 0.5), 2), hr, crop_border=2, test_y_channel=True)
        assert record["psnr"] == pytest.approx(expected, abs=1e-9)
    assert bicubic["psnr"] == pytest.approx(score_images(photos, 2, "bicubic")[0], abs=1e-9)


def test_model_psnr_matches_train_evaluate(report: dict, photos: Path) -> None:
    from train.evaluate import score_images

    for result in report["json"]["main"]:
        if result["method"]["kind"] == "model":
            expected = score_images(photos, 2, FAMILY, precision=result["method"]["precision"])[0]
            assert result["psnr"] == pytest.approx(expected, abs=1e-9)


def test_worker_process_reports_its_own_peak(photos: Path) -> None:
    method = bench.Method("bicubic-opencv", "Bicubic (OpenCV INTER_CUBIC)")
    spec = {"method": bench.dataclasses.asdict(method), "scale": 2, "folder": str(photos), "limit": 1, "repeat": 1}
    result = bench.run_job(spec, "process")
    assert "error" not in result, result.get("error")
    assert result["isolation"] == "process" and len(result["images"]) == 1
    assert result["peak_rss_mb"] >= result["baseline_rss_mb"] > 10


def test_end_to_end_and_bare_timings_alternate(photos: Path) -> None:
    """On a shared machine speed drifts: the bare timings sit between the end-to-end ones, not after them."""
    calls: list[str] = []

    def upscaler(lr: np.ndarray) -> np.ndarray:
        calls.append("e2e")
        return imresize(lr, 2)

    def bare_timer(lr: np.ndarray) -> tuple[float, int]:
        calls.append("bare")
        return 0.5, lr.shape[0] * lr.shape[1] * 4

    result = bench.run_synthetic(upscaler, bare_timer, 40, 30, repeat=3)
    assert calls == ["e2e", "bare"] * 3
    assert result["bare_megapixels_per_second"] == pytest.approx(80 * 60 / 0.5 / 1e6)
    calls.clear()
    result = bench.run_folder(upscaler, bare_timer, 2, photos, limit=2, repeat=2)
    assert calls == ["e2e", "bare"] * 4 and len(result["images"]) == 2


def test_peers_are_skipped_with_a_note_without_contrib(monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    monkeypatch.delattr(cv2, "dnn_superres", raising=False)
    available, reason = bench.peers_available()
    assert not available and "opencv-contrib-python-headless" in reason


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_runner_does_not_retrace_for_new_image_sizes(weights: Path, precision: str) -> None:
    from revive_core.api import upscale
    from revive_core.models import get_runner

    runner = get_runner(FAMILY, 2, precision)
    for height, width, tile in [(30, 41, None), (57, 23, 32), (70, 90, 64), (12, 13, 0)]:
        image = synthetic_rgb(height, width, seed=height)
        assert upscale(image, 2, model=FAMILY, tile=tile, precision=precision).shape == (2 * height, 2 * width, 3)
    batched = np.zeros((3, 40, 50, 1), np.float32)
    assert runner(batched).shape == (3, 40 - 2 * runner.context, 50 - 2 * runner.context, 1)
    assert runner.tracing_count == 1


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-5), ("bf16", 2e-3)])
def test_runner_tiled_equals_untiled(weights: Path, precision: str, tolerance: float) -> None:
    from revive_core.models import get_runner

    runner = get_runner(FAMILY, 2, precision)
    image = np.random.default_rng(3).random((150, 97, 1)).astype(np.float32)
    untiled = tiled_apply(image, runner, runner.context, tile=None)
    for tile, batch in [(64, 1), (48, 3), (100, 2)]:
        tiled = tiled_apply(image, runner, runner.context, tile=tile, batch=batch)
        assert tiled.shape == image.shape
        assert np.abs(tiled - untiled).max() < tolerance


@pytest.mark.parametrize("length", [1, 20, 64, 100, 383, 384, 385, 768, 1000, 1023, 4000])
@pytest.mark.parametrize("tile", [64, 100, 512])
def test_tile_plan_is_one_shape_aligned_and_covering(length: int, tile: int) -> None:
    tiles = plan_tiles(length, 37, tile)
    heights = {item.height for item in tiles}
    assert len(heights) == 1 and {item.width for item in tiles} == {64}
    span = heights.pop()
    starts = sorted({item.top for item in tiles})
    assert span <= tile and starts == [index * span for index in range(len(starts))]
    assert len(starts) == -(-length // tile) and starts[-1] + span >= length  # fewest windows, covering
    if tile % SHAPE_STEP == 0:
        assert span % SHAPE_STEP == 0 and len(starts) * span - length < len(starts) * SHAPE_STEP


def test_whole_image_is_one_exact_tile() -> None:
    seen = []
    image = np.random.default_rng(4).random((45, 70, 1)).astype(np.float32)

    def network(blocks: np.ndarray) -> np.ndarray:
        seen.append(blocks.shape)
        return blocks[:, 3:-3, 3:-3]

    assert np.array_equal(tiled_apply(image, network, 3, tile=None), image)
    assert seen == [(1, 51, 76, 1)]
    assert plan_tiles(768, 1024, 512) == [Tile(t, l, 384, 512) for t in (0, 384) for l in (0, 512)]


def test_evaluate_ensemble_adds_its_own_row_without_a_published_value(weights: Path, photos: Path,
                                                                      tmp_path: Path) -> None:
    """``train.evaluate --ensemble``: each model gets a second row, scored through the product's
    8-pass path, and the plain row stays what it was."""
    from train import evaluate

    arguments = evaluate.parse_args(["--sets", str(photos), "--models", FAMILY, "--scales", "2", "--ensemble",
                                     "--json", str(tmp_path / "table.json"), "--output", str(tmp_path / "table.md")])
    assert evaluate.main(arguments) == 0
    scores = json.loads((tmp_path / "table.json").read_text())
    label = f"{FAMILY} {evaluate.ENSEMBLE_LABEL}"
    assert set(scores) == {f"x2/{method}/{photos.name}" for method in ("bicubic", FAMILY, label)}
    plain, ensemble = scores[f"x2/{FAMILY}/{photos.name}"], scores[f"x2/{label}/{photos.name}"]
    assert plain["psnr"] == pytest.approx(evaluate.score_images(photos, 2, FAMILY)[0], abs=1e-9)
    assert ensemble["psnr"] == pytest.approx(evaluate.score_images(photos, 2, FAMILY, ensemble=True)[0], abs=1e-9)
    assert abs(ensemble["psnr"] - plain["psnr"]) > 1e-6  # a random network is not mirror-symmetric
    rows = [line for line in (tmp_path / "table.md").read_text().splitlines() if line.startswith("| ×2 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["bicubic", FAMILY, label]
    assert rows[2].split("|")[4].strip() == "–"
    reference = {(2, "vdsr", "Set5"): "37.53/.9587"}
    results = {(2, "vdsr", "Set5"): (37.4, 0.958), (2, f"vdsr {evaluate.ENSEMBLE_LABEL}", "Set5"): (37.5, 0.959)}
    lines = evaluate.table(results, ["Set5"], ["vdsr", f"vdsr {evaluate.ENSEMBLE_LABEL}"], [2], reference).splitlines()
    assert lines[2].endswith("| 37.40/0.9580 | 37.53/.9587 |") and lines[3].endswith("| 37.50/0.9590 | – |")
