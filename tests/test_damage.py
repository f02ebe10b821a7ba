"""revive_core.damage: noise and JPEG-blocking estimates on synthetic and (when present) real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from revive_core import imageio
from revive_core.damage import (
    BLOCKINESS_THRESHOLD,
    JPEG_STRENGTH_GAIN,
    NOISE_STRENGTH_GAIN,
    NOISE_THRESHOLD,
    DamageEstimate,
    estimate_blockiness,
    estimate_damage,
    suggest_strength,
)
from revive_core.jpeg import estimate_jpeg_quality
from revive_core.paths import shared_root
from train.degrade import add_gaussian_noise, jpeg

BENCHMARK = shared_root() / "datasets" / "benchmark"


def clean_photo(height: int = 384, width: int = 512, seed: int = 0) -> np.ndarray:
    """(height, width, 3) uint8: smooth shading, soft-edged shapes and fine stripes, no noise."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([60 + 120 * columns / width, 40 + 150 * rows / height, 90 + 40 * np.sin(rows / 40.0)], axis=2)
    for _ in range(12):
        centre_y, centre_x = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(15, 70)
        disc = ((rows - centre_y) ** 2 + (columns - centre_x) ** 2 < radius**2).astype(np.float32)
        disc = cv2.GaussianBlur(disc, (0, 0), 1.2)
        image += disc[..., None] * rng.uniform(-50, 50, 3).astype(np.float32)
    image[: height // 4, width // 2 :] += 25 * np.sin(columns[: height // 4, width // 2 :] / 2.5)[..., None]
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return clean_photo()


def test_clean_image_is_not_damaged(photo: np.ndarray) -> None:
    estimate = estimate_damage(photo)
    assert isinstance(estimate, DamageEstimate)
    assert not estimate.damaged, estimate.reason
    assert estimate.noise_sigma < 2.0 and estimate.blockiness < BLOCKINESS_THRESHOLD and estimate.jpeg_quality_guess is None
    assert "clean" in estimate.reason.lower()
    assert suggest_strength(estimate) == 0.0


@pytest.mark.parametrize("grey", [False, True])
def test_noise_sigma_15_is_measured(photo: np.ndarray, grey: bool) -> None:
    noisy = add_gaussian_noise(photo, 15.0, np.random.default_rng(1), grey=grey)
    estimate = estimate_damage(noisy)
    assert 15 * 0.7 <= estimate.noise_sigma <= 15 * 1.3
    assert estimate.damaged and "noise" in estimate.reason
    assert suggest_strength(estimate) == pytest.approx(NOISE_STRENGTH_GAIN * estimate.noise_sigma / 25.0)


def test_jpeg_30_is_blocky(photo: np.ndarray) -> None:
    clean = estimate_damage(photo).blockiness
    compressed = estimate_damage(jpeg(photo, 30))
    assert compressed.blockiness > max(BLOCKINESS_THRESHOLD, 1.5 * clean)
    assert compressed.damaged and "JPEG" in compressed.reason
    assert compressed.jpeg_quality_guess is not None and 15 <= compressed.jpeg_quality_guess <= 60
    assert 0.4 <= suggest_strength(compressed) <= 1.0


def test_shifted_grid_of_a_cropped_jpeg_is_found(photo: np.ndarray) -> None:
    blockiness, phases = estimate_blockiness(jpeg(photo, 30)[3:, 5:])
    assert blockiness > BLOCKINESS_THRESHOLD and phases == (4, 2)


def test_layouts(photo: np.ndarray) -> None:
    grey = estimate_damage(jpeg(photo[..., 1], 30))
    assert grey.damaged
    rgba = np.concatenate([photo, np.full(photo.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert estimate_damage(rgba).noise_sigma == pytest.approx(estimate_damage(photo).noise_sigma)
    deep = estimate_damage(photo.astype(np.uint16) * 257)
    assert abs(deep.noise_sigma - estimate_damage(photo).noise_sigma) < 0.5
    assert estimate_damage(np.zeros((5, 7), np.uint8)).damaged is False
    # Its cost is in the benchmark's end-to-end figures (`python -m revive_core.bench`), not timed here:
    # a wall-clock bound failed on a loaded host (1.75 s beside a training job) while the code was fine.
    megapixel = cv2.resize(photo, (1152, 864), interpolation=cv2.INTER_CUBIC)
    assert np.isfinite(estimate_damage(megapixel).noise_sigma)


def test_a_large_photo_is_measured_in_bounded_memory(photo: np.ndarray) -> None:
    """A 12 MP JPEG is read through crops: the estimate never copies the whole photo to floats.

    (Converting it whole took 504 MiB: 144 MB of float32 levels plus 288 MB of float64 for the
    JPEG-quality luminance.)
    """
    import tracemalloc

    large = jpeg(np.tile(photo, (8, 8, 1))[:3000, :4000], 50)  # detail at every scale, unlike an enlargement
    estimate_damage(large[:64, :64])  # first-call allocations (caches) out of the measurement
    tracemalloc.start()
    try:
        estimate = estimate_damage(large)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    # Read from the compression steps (a grid is reported); this synthetic pattern reads 49.
    assert estimate.damaged and estimate.jpeg_grid == (0, 0) and abs(estimate.jpeg_quality_guess - 50) <= 2
    assert estimate_jpeg_quality(large[5:, 3:])[1] == (3, 5)  # cropped: the grid moves with the crop


def test_noisy_jpeg_counts_by_its_quality(photo: np.ndarray) -> None:
    """Noise before JPEG (case (a)'s chain) hides the blocks from the blockiness measure; the steps tell."""
    damaged = jpeg(add_gaussian_noise(photo, 8.0, np.random.default_rng(2)), 40)
    estimate = estimate_damage(damaged)
    assert estimate.damaged and estimate.jpeg_quality_guess == 40
    assert "JPEG quality 40" in estimate.reason and "compression steps" in estimate.reason
    assert suggest_strength(estimate) == pytest.approx(min(1.0, JPEG_STRENGTH_GAIN * 55 / 75))
    light = estimate_damage(jpeg(photo, 95))  # a camera's usual quality is not damage
    assert not light.damaged and light.jpeg_quality_guess is None and "light JPEG" in light.reason
    assert suggest_strength(light) == 0.0


def test_quality_of_a_saved_jpeg_file(photo: np.ndarray, tmp_path) -> None:
    """The app's path: a JPEG written by Pillow, decoded by revive_core.imageio."""
    from PIL import Image

    path = tmp_path / "photo.jpg"
    Image.fromarray(photo).save(path, quality=35)
    picture = imageio.load(path)
    estimate = estimate_damage(picture.pixels)
    assert estimate.jpeg_quality_guess == 35 and estimate.damaged


@pytest.mark.skipif(not (BENCHMARK / "Set5").is_dir(), reason="needs ../shared/datasets/benchmark")
def test_real_photos_damaged_and_clean() -> None:
    from train.degrade import benchmark_pair
    from train.evaluate import load_hr

    for path in sorted((BENCHMARK / "Set5").glob("*.png")):
        hr = load_hr(path)
        for case in ("a", "b", "c", "d"):
            _, degraded = benchmark_pair(hr, path.name, case)
            estimate = estimate_damage(degraded)
            assert estimate.damaged, (path.name, case)
            if case != "c":  # the JPEG cases: quality read exactly, even at x4 (64 x 64 pixels)
                assert estimate.jpeg_quality_guess == (30 if case == "b" else 40), (path.name, case)
        if path.name == "woman_GT.png":  # woman is itself a quality-75 JPEG (from its source)
            assert estimate_jpeg_quality(hr)[0] == 75
        else:
            assert not estimate_damage(hr).damaged, path.name
        assert estimate_damage(hr).noise_sigma < NOISE_THRESHOLD
