"""train.degrade: seeded damage chains, single degradations, benchmark cases, training patches."""

from __future__ import annotations

import numpy as np
import pytest

from tests.imaging import synthetic_rgb
from train.degrade import (
    BENCHMARK_CASES,
    DegradationConfig,
    DegradingPatchSampler,
    add_gaussian_noise,
    add_poisson_noise,
    benchmark_pair,
    blur,
    degrade,
    degrade_patch,
    downscale,
    gaussian_kernel,
    hr_margin,
    image_seed,
    jpeg,
)
from train.pipeline import PatchConfig


def high_frequency_energy(image: np.ndarray) -> float:
    """Mean squared horizontal + vertical neighbour difference, float64."""
    values = image.astype(np.float64)
    return float(np.mean(np.diff(values, axis=0) ** 2) + np.mean(np.diff(values, axis=1) ** 2))


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return synthetic_rgb(96, 96, seed=3)


def test_degrade_is_a_pure_function_of_the_seed(image: np.ndarray) -> None:
    for scale in (1, 2, 4):
        first, first_params = degrade(image, np.random.default_rng(7), scale)
        second, second_params = degrade(image, np.random.default_rng(7), scale)
        assert np.array_equal(first, second) and first_params == second_params
        assert first.dtype == np.uint8 and first.shape == (96 // scale, 96 // scale, 3)
    outputs = {degrade(image, np.random.default_rng(seed), 1, strength=1.0)[0].tobytes() for seed in range(6)}
    assert len(outputs) > 1


def test_strength_bounds_every_severity(image: np.ndarray) -> None:
    config = DegradationConfig(blur_probability=1.0, noise_probability=1.0, jpeg_probability=1.0)
    for seed in range(1, 40):
        strength = seed / 39
        _, params = degrade(image, np.random.default_rng(seed), 2, config, strength=strength)
        assert params["strength"] == pytest.approx(strength)
        assert params["noise"]["sigma"] <= 25.0 * strength + 1e-9
        assert 95 - 75 * strength - 0.5 <= params["jpeg"] <= 95
        assert params["blur"]["sigma_x"] <= 0.1 + 2.9 * strength + 1e-9
        assert sorted(params["order"]) == sorted(["blur", "noise", "downscale", "jpeg"])
    clean, params = degrade(image, np.random.default_rng(0), 2, config, strength=0.0)
    assert params["order"] == ["downscale"]
    assert np.array_equal(clean, downscale(image, 2, params["downscale"]))


def test_order_is_random(image: np.ndarray) -> None:
    config = DegradationConfig(blur_probability=1.0, noise_probability=1.0, jpeg_probability=1.0, jpeg_last_probability=0.5)
    orders = {tuple(degrade(image, np.random.default_rng(seed), 2, config, 0.5)[1]["order"]) for seed in range(60)}
    assert len(orders) >= 6
    assert any(order[-1] != "jpeg" for order in orders)


def test_blur_smooths_and_anisotropy_has_a_direction(image: np.ndarray) -> None:
    assert high_frequency_energy(blur(image, 1.5)) < 0.5 * high_frequency_energy(image)
    kernel = gaussian_kernel(3.0, 0.5, angle=0.0)
    assert kernel.dtype == np.float32 and kernel.sum() == pytest.approx(1.0, abs=1e-5)
    assert kernel.shape[0] % 2 == 1
    centre = kernel.shape[0] // 2
    assert kernel[centre, centre + 2] > 10 * kernel[centre + 2, centre]  # wide along x, narrow along y
    rotated = gaussian_kernel(3.0, 0.5, angle=np.pi / 2)
    assert np.allclose(rotated, kernel.T, atol=1e-6)


@pytest.mark.parametrize("method", ["bicubic", "bilinear", "area"])
def test_downscale_shapes_and_means(image: np.ndarray, method: str) -> None:
    small = downscale(image, 4, method)
    assert small.shape == (24, 24, 3) and small.dtype == np.uint8
    assert abs(float(small.mean()) - float(image.mean())) < 3.0
    grey = downscale(image[..., 0], 2, method)
    assert grey.shape == (48, 48)
    with pytest.raises(ValueError):
        downscale(image[:95], 2, method)


def test_noise_has_the_requested_sigma() -> None:
    flat = np.full((128, 128, 3), 128, np.uint8)
    noisy = add_gaussian_noise(flat, 10.0, np.random.default_rng(0))
    assert np.std(noisy.astype(np.float64) - 128) == pytest.approx(10.0, rel=0.05)
    grey = add_gaussian_noise(flat, 10.0, np.random.default_rng(0), grey=True)
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    shot = add_poisson_noise(flat, 10.0, np.random.default_rng(0)).astype(np.float64)
    assert np.std(shot - 128) == pytest.approx(10.0, rel=0.1)
    dark = add_poisson_noise(np.full((128, 128, 3), 32, np.uint8), 10.0, np.random.default_rng(0)).astype(np.float64)
    assert np.std(dark) == pytest.approx(5.0, rel=0.15)  # shot noise grows with sqrt(level)


def test_jpeg_quality_orders_the_error(image: np.ndarray) -> None:
    errors = [np.mean((jpeg(image, quality).astype(np.float64) - image) ** 2) for quality in (20, 40, 70, 95)]
    assert all(earlier > later for earlier, later in zip(errors, errors[1:]))
    assert jpeg(image, 40).shape == image.shape and jpeg(image[..., 0], 40).shape == image.shape[:2]


def test_benchmark_cases_are_deterministic(image: np.ndarray) -> None:
    assert set(BENCHMARK_CASES) >= {"a", "b", "c"}
    assert image_seed("baby.png", "a") == image_seed("baby.png", "a") != image_seed("baby.png", "c")
    for case, spec in BENCHMARK_CASES.items():
        clean, first = benchmark_pair(image[:95, :94], "test.png", case)
        _, second = benchmark_pair(image[:95, :94], "test.png", case)
        assert np.array_equal(first, second)
        assert clean.shape[0] % spec.scale == 0 and first.shape[:2] == (clean.shape[0] // spec.scale, clean.shape[1] // spec.scale)
    _, noisy = benchmark_pair(image, "test.png", "c")
    assert np.std(noisy.astype(np.float64) - image) == pytest.approx(15.0, rel=0.1)
    _, grey = benchmark_pair(image[..., 1], "grey.png", "a")
    assert grey.shape == (48, 48) and grey.dtype == np.uint8


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_degrade_patch_aligns_input_and_target(image: np.ndarray, scale: int) -> None:
    size, margin = 32, hr_margin(scale)
    assert margin % scale == 0
    crop = synthetic_rgb(size + 2 * margin, size + 2 * margin, seed=1)
    source, target, strength = degrade_patch(crop, np.random.default_rng(0), scale, strength=0.0)
    assert source.shape == target.shape == (size, size) and source.dtype == target.dtype == np.float32
    assert strength == 0.0 and 0.0 <= source.min() and source.max() <= 1.0
    # Strength 0 is the clean bicubic (or identity) path: close to the target, never shifted.
    error = float(np.mean(np.abs(source - target)))
    shifted = float(np.mean(np.abs(source[:, 1:] - target[:, :-1])))
    assert error < shifted and error < 0.06


def test_sampler_batches_are_pure_functions_of_the_index(tmp_path) -> None:
    (tmp_path / "HR").mkdir()
    for index in range(3):
        np.save(tmp_path / "HR" / f"image{index}.npy", synthetic_rgb(60 + 12 * index, 72, seed=index))
    sampler = DegradingPatchSampler(tmp_path, PatchConfig(24, 5, (1, 2, 4), seed=3, target_crop=2))
    inputs, targets = sampler.batch(4)
    again_inputs, again_targets = sampler.batch(4)
    assert inputs.shape == (5, 24, 24, 2) and targets.shape == (5, 20, 20, 1)
    assert np.array_equal(inputs, again_inputs) and np.array_equal(targets, again_targets)
    assert not np.array_equal(inputs, sampler.batch(5)[0])
    for item in range(5):
        plane = inputs[item, ..., 1]
        assert plane.min() == plane.max() and 0.0 <= plane.min() <= 1.0
    with pytest.raises(ValueError):
        DegradingPatchSampler(tmp_path, PatchConfig(30, 2, (4,)))


def test_config_from_json_like_values() -> None:
    config = DegradationConfig.from_dict({"jpeg_quality": [30, 90], "noise_probability": 0.5})
    assert config.jpeg_quality == (30, 90) and config.noise_probability == 0.5
    with pytest.raises(ValueError, match="unknown"):
        DegradationConfig.from_dict({"jpg": 1})


def test_severity_exponent_favours_heavy_damage_within_the_strength_bound(image: np.ndarray) -> None:
    def qualities(exponent: float) -> np.ndarray:
        config = DegradationConfig(jpeg_probability=1.0, severity_exponent=exponent)
        return np.array([degrade(image, np.random.default_rng(seed), 1, config, strength=0.8)[1]["jpeg"]
                         for seed in range(200)])

    uniform, skewed = qualities(1.0), qualities(0.5)
    assert skewed.mean() < uniform.mean() - 5  # lower quality = heavier damage, on average
    assert min(uniform.min(), skewed.min()) >= 95 - 75 * 0.8  # the strength still bounds it


def test_blur_above_strength_keeps_lower_strengths_free_of_blur(image: np.ndarray) -> None:
    config = DegradationConfig(blur_probability=1.0, blur_above_strength=0.75)
    below = [degrade(image, np.random.default_rng(seed), 2, config, strength=0.75)[1] for seed in range(50)]
    assert not any("blur" in params for params in below)
    above = [degrade(image, np.random.default_rng(seed), 2, config, strength=0.9)[1] for seed in range(50)]
    sigmas = [params["blur"]["sigma_x"] for params in above]
    low, high = config.blur_sigma
    assert len(sigmas) == 50 and max(sigmas) <= low + (high - low) * (0.9 - 0.75) / 0.25 + 1e-9
    # The default (0) draws exactly what it drew before the setting existed.
    old, new = DegradationConfig(blur_probability=1.0), DegradationConfig(blur_probability=1.0, blur_above_strength=0.0)
    assert degrade(image, np.random.default_rng(7), 2, old, 0.6)[1] == degrade(image, np.random.default_rng(7), 2, new, 0.6)[1]
    with pytest.raises(ValueError, match="blur_above_strength"):
        DegradationConfig(blur_above_strength=1.0)
