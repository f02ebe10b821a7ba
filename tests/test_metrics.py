"""PSNR/SSIM: BasicSR's signature and the literature's protocol."""

import math

import numpy as np
import pytest

from revive_core.colour import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from revive_core.metrics import calculate_psnr, calculate_ssim
from tests.imaging import synthetic_rgb


def test_identical_images() -> None:
    image = synthetic_rgb(40, 30)
    assert calculate_psnr(image, image) == math.inf
    assert calculate_ssim(image, image, crop_border=2, test_y_channel=True) == pytest.approx(1.0)


def test_psnr_known_value_and_border() -> None:
    reference = np.zeros((20, 20), np.uint8)
    image = reference.copy()
    image[5:15, 5:15] = 10  # MSE = 100 * 100 / 400 = 25 -> 10 log10(255^2 / 25)
    assert calculate_psnr(image, reference) == pytest.approx(10 * math.log10(255**2 / 25))
    image[0, :] = 255  # shaved away by crop_border
    assert calculate_psnr(image, reference, crop_border=2) == pytest.approx(10 * math.log10(255**2 / (100 * 100 / 256)))


def test_y_channel_is_bt601() -> None:
    white, black = np.full((1, 1, 3), 255.0), np.zeros((1, 1, 3))
    assert rgb_to_y(white)[0, 0] == pytest.approx(235.0)
    assert rgb_to_y(black)[0, 0] == pytest.approx(16.0)
    image = synthetic_rgb(8, 8).astype(np.float64)
    assert np.allclose(ycbcr_to_rgb(rgb_to_ycbcr(image)), image)


def test_ssim_drops_with_noise_and_shapes_must_match() -> None:
    image = synthetic_rgb(64, 64)
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 20, image.shape), 0, 255)
    assert calculate_ssim(noisy, image, test_y_channel=True) < 0.9
    with pytest.raises(ValueError):
        calculate_psnr(image, image[:-1])
