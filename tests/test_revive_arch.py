"""The revive architecture: shapes at odd sizes, same/valid agreement, tiling, strength, plumbing."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from PIL import Image

from revive_core.architectures import ARCHITECTURES, build
from revive_core.architectures.revive import alignment_revive, macs_per_pixel, receptive_radius_revive
from revive_core.tiling import tiled_apply
from tests.imaging import synthetic_rgb

SMALL = {"filters": 8, "blocks": 2}


def random_input(height: int, width: int, strength: float = 0.5, seed: int = 0) -> np.ndarray:
    """(1, height, width, 2) float32: random Y in 0..1 and a constant strength plane."""
    image = np.random.default_rng(seed).random((1, height, width, 2)).astype(np.float32)
    image[..., 1] = strength
    return image


@pytest.fixture(scope="module")
def same_and_valid():
    same = build("revive", **SMALL)
    valid = build("revive", padding="valid", **SMALL)
    valid.set_weights(same.get_weights())
    return same, valid


def test_registry_and_cost() -> None:
    entry = ARCHITECTURES["revive"]
    assert entry.pre_upsampled and entry.receptive_radius() == receptive_radius_revive() == 32
    assert receptive_radius_revive(factor=4, blocks=7) == 64 and alignment_revive(factor=4) == 4
    assert macs_per_pixel("revive") < macs_per_pixel("vdsr") / 4  # 131 k vs 665 k per output pixel
    model = build("revive")
    assert model.input_shape == (None, None, None, 2) and model.output_shape == (None, None, None, 1)
    assert model.count_params() < build("vdsr").count_params()
    assert build("revive", conditioned=False, **SMALL).input_shape == (None, None, None, 1)


@pytest.mark.parametrize("factor", [1, 2, 4])
@pytest.mark.parametrize("height, width", [(17, 23), (41, 41), (64, 33), (1, 2)])
def test_same_padding_keeps_any_size(factor: int, height: int, width: int) -> None:
    model = build("revive", factor=factor, **SMALL)
    assert model.predict_on_batch(random_input(height, width)).shape == (1, height, width, 1)


@pytest.mark.parametrize("height, width", [(5, 7), (6, 6), (9, 2)])
def test_valid_padding_consumes_the_radius_at_odd_sizes(same_and_valid, height: int, width: int) -> None:
    _, valid = same_and_valid
    radius = receptive_radius_revive(**SMALL)
    output = valid.predict_on_batch(random_input(2 * radius + height, 2 * radius + width))
    assert output.shape == (1, height, width, 1)


@pytest.mark.parametrize("height, width", [(70, 66), (71, 67)])
def test_same_and_valid_agree_inside(same_and_valid, height: int, width: int) -> None:
    same, valid = same_and_valid
    radius = receptive_radius_revive(**SMALL)
    image = random_input(height, width)
    inner = same.predict_on_batch(image)[:, radius:-radius, radius:-radius]
    assert np.allclose(valid.predict_on_batch(image), inner, atol=1e-5)


def test_tiled_equals_untiled_with_aligned_tiles(same_and_valid) -> None:
    _, valid = same_and_valid
    radius = receptive_radius_revive(**SMALL)
    image = random_input(150, 130, 0.7)[0]
    whole = tiled_apply(image, valid.predict_on_batch, radius, tile=None)
    tiled = tiled_apply(image, valid.predict_on_batch, radius, tile=64)  # starts 0, 64, 86 / 0, 64, 66: even
    assert whole.shape == (150, 130, 1)
    assert np.allclose(whole, tiled, atol=1e-5)


@pytest.mark.parametrize("height, width, tile", [(151, 129, 64), (97, 75, 45), (33, 31, None)])
def test_tiled_equals_untiled_for_odd_sizes_with_alignment(same_and_valid, height: int, width: int, tile) -> None:
    """Odd sides and an odd tile: ``alignment`` keeps every tile on the unshuffle grid."""
    _, valid = same_and_valid
    radius = receptive_radius_revive(**SMALL)
    factor = alignment_revive(**SMALL)
    image = random_input(height, width, 0.4)[0]
    reference = tiled_apply(image, valid.predict_on_batch, radius, tile=256, alignment=factor)  # one tile
    tiled = tiled_apply(image, valid.predict_on_batch, radius, tile=tile, alignment=factor)
    assert tiled.shape == (height, width, 1)
    assert np.allclose(reference, tiled, atol=1e-5)


def test_strength_plane_changes_the_output(same_and_valid) -> None:
    same, _ = same_and_valid
    gentle = same.predict_on_batch(random_input(32, 32, strength=0.0))
    strong = same.predict_on_batch(random_input(32, 32, strength=1.0))
    assert np.abs(gentle - strong).max() > 1e-4


def test_untrained_network_is_near_identity_and_bf16_keeps_float32_output() -> None:
    keras.utils.set_random_seed(0)  # unseeded, 1 build in 8 reads above 0.1 (0.06-0.13 measured)
    model = build("revive", dtype_policy="mixed_bfloat16")
    image = random_input(24, 40)
    output = model.predict_on_batch(image)
    assert output.dtype == np.float32
    assert np.abs(output[..., 0] - image[..., 0]).mean() < 0.1
    assert model.get_layer("head").compute_dtype == "float32"  # reads 0..1 pixels
    assert model.get_layer("block1_conv1").compute_dtype == "bfloat16"
    assert model.get_layer("tail").compute_dtype == "float32"


def test_save_and_load_round_trip(tmp_path, same_and_valid) -> None:
    import keras

    same, _ = same_and_valid
    path = tmp_path / "revive.keras"
    same.save(path)
    loaded = keras.models.load_model(path)
    image = random_input(19, 21)
    assert np.allclose(loaded.predict_on_batch(image), same.predict_on_batch(image), atol=1e-6)


def test_evaluation_paths_run_an_installed_revive_model(tmp_path, monkeypatch, same_and_valid) -> None:
    """A throwaway revive entry in a temporary weights folder goes through the benchmark helpers."""
    from revive_core.weights import sha256_of
    from train.evaluate_degraded import run_revive, validate_degraded

    same, valid = same_and_valid
    weights = tmp_path / "weights"
    weights.mkdir()
    same.save_weights(weights / "revive-test.weights.h5")
    manifest = {"format": 1, "models": {"revive-test-x12": {
        "family": "revive", "file": "revive-test.weights.h5", "architecture": "revive", "arguments": SMALL,
        "scales": [1, 2], "sha256": sha256_of(weights / "revive-test.weights.h5"), "description": "test"}}}
    (weights / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("REVIVE_WEIGHTS_DIR", str(weights))
    picture = synthetic_rgb(30, 34)
    assert run_revive(picture, 2, 0.5, "fp32").shape == (60, 68, 3)
    grey = run_revive(picture[..., 0], 1, 1.0, "fp32")
    assert grey.shape == (30, 34) and grey.dtype == np.uint8
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(synthetic_rgb(48, 40)).save(folder / "one.png")
    scores = validate_degraded(valid, receptive_radius_revive(**SMALL), folder, [1, 2])
    assert set(scores) == {"a", "b", "c"} and all(np.isfinite(value) for value in scores.values())
    from train.evaluate_degraded import benchmark

    Image.fromarray(synthetic_rgb(48, 40, 1)[..., 0]).save(folder / "grey.png")
    markdown, raw = benchmark([folder], ["b"], "fp32", with_vdsr=False)
    assert "| revive s=1 |" in markdown and "RGB PSNR over the colour images" in markdown
    row = raw["b/revive s=1/set"]
    assert np.isfinite(row["psnr"]) and np.isfinite(row["rgb_psnr"])  # RGB over the one colour image
    from revive_core import damage
    from train.evaluate_degraded import calibrate_strength

    before = (damage.NOISE_STRENGTH_GAIN, damage.JPEG_STRENGTH_GAIN)
    markdown, raw = calibrate_strength([folder], ["b", "c"], "fp32")
    from train.evaluate_degraded import JPEG_GAINS, NOISE_GAINS, strength_sweep

    assert "Best: NOISE_STRENGTH_GAIN" in markdown and len(raw) == len(NOISE_GAINS) * len(JPEG_GAINS)
    assert all(set(values) == {"b", "c"} for values in raw.values())
    assert (damage.NOISE_STRENGTH_GAIN, damage.JPEG_STRENGTH_GAIN) == before  # restored
    markdown, raw = strength_sweep([folder], ["c"], "fp32", (0.0, 0.5, 1.0))
    sweep = raw["c/set"]
    assert sweep["repair"][0] == 0.0 and sweep["monotonic"] == all(b >= a for a, b in zip(sweep["repair"], sweep["repair"][1:]))
    assert all(np.isfinite(value) for value in sweep["psnr"] + sweep["change"]) and "monotonic repair" in markdown
