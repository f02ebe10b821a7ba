"""revive_core.jpeg: the quality of a decoded JPEG from its quantisation steps, and the projection
of a restoration onto what the file allows (real libjpeg files via OpenCV and Pillow)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from revive_core.colour import rgb_to_y
from revive_core.jpeg import _dct_matrix, estimate_jpeg_quality, ijg_table, project_to_jpeg
from tests.test_damage import clean_photo
from train.degrade import add_gaussian_noise, jpeg

SHIFT = 16.0 + 128.0 * 219.0 / 255.0  # JPEG's level shift on the BT.601 Y scale


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return clean_photo()


def test_ijg_tables_are_libjpegs() -> None:
    assert ijg_table(50)[0, 0] == 16 and ijg_table(50)[7, 7] == 99  # quality 50: the standard's table
    assert ijg_table(100).max() == 1 and ijg_table(1).min() == 255  # clamped to baseline 1..255
    assert ijg_table(40)[0, 1] == 14  # 11 x 5000/40 % = 13.75, rounded as libjpeg does


@pytest.mark.parametrize("quality", [10, 20, 40, 60, 90])
def test_jpeg_quality_is_read_from_the_quantisation_steps(photo: np.ndarray, quality: int) -> None:
    compressed = jpeg(photo, quality)
    assert estimate_jpeg_quality(compressed) == (quality, (0, 0))
    assert estimate_jpeg_quality(jpeg(photo[..., 1], quality))[0] == quality  # greyscale JPEG
    assert estimate_jpeg_quality(np.rot90(compressed))[0] == quality  # turned by EXIF: transposed table
    assert estimate_jpeg_quality(compressed[3:, 5:]) == (quality, (5, 3))  # cropped: the grid moves


def test_no_jpeg_quality_without_a_jpeg_grid(photo: np.ndarray) -> None:
    compressed = jpeg(photo, 40)
    assert estimate_jpeg_quality(photo)[0] is None
    assert estimate_jpeg_quality(cv2.resize(compressed, (600, 450), interpolation=cv2.INTER_CUBIC))[0] is None
    assert estimate_jpeg_quality(add_gaussian_noise(compressed, 3.0, np.random.default_rng(0)))[0] is None
    assert estimate_jpeg_quality(np.zeros((5, 7), np.uint8))[0] is None


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) float32 BT.601 Y on 0..255."""
    return rgb_to_y(image.astype(np.float32))


def block_coefficients(plane: np.ndarray) -> np.ndarray:
    """(H, W) -> (H/8, W/8, 8, 8) float64 DCT of the whole 8x8 blocks (grid at the origin)."""
    height, width = plane.shape[0] // 8 * 8, plane.shape[1] // 8 * 8
    blocks = plane[:height, :width].astype(np.float64).reshape(height // 8, 8, width // 8, 8).swapaxes(1, 2)
    return _dct_matrix() @ blocks @ _dct_matrix().T


def test_a_decoded_jpeg_is_its_own_projection(photo: np.ndarray) -> None:
    decoded = luminance(jpeg(photo, 30))
    assert np.abs(project_to_jpeg(decoded, decoded, 30, (0, 0)) - decoded).max() < 1e-3


def test_projection_only_brings_a_restoration_closer_to_the_original(photo: np.ndarray) -> None:
    original = luminance(photo)
    decoded = luminance(jpeg(photo, 30))
    blurred = cv2.GaussianBlur(decoded, (0, 0), 1.5)
    noisy = decoded + np.random.default_rng(0).normal(0, 4, decoded.shape)
    for restoration in (blurred, noisy):
        restoration = restoration.astype(np.float32)
        projected = project_to_jpeg(restoration, decoded, 30, (0, 0))
        error_before = float(np.mean((restoration - original) ** 2))
        error_after = float(np.mean((projected - original) ** 2))
        assert error_after < error_before, (error_before, error_after)
        # every coefficient inside its interval (steps in BT.601 scale, plus the rounding margin)
        steps = ijg_table(30) * 219.0 / 255.0
        quantised = np.round(block_coefficients(decoded - SHIFT) / steps) * steps
        distance = np.abs(block_coefficients(projected - SHIFT) - quantised) - steps / 2.0
        assert distance.max() <= 0.5 * 219.0 / 255.0 + 1e-3


def test_projection_follows_the_grid_and_leaves_edge_pixels(photo: np.ndarray) -> None:
    cropped = jpeg(photo, 40)[3:, 5:]  # grid at (5, 3)
    decoded = luminance(cropped)
    restoration = cv2.GaussianBlur(decoded, (0, 0), 1.5)
    projected = project_to_jpeg(restoration, decoded, 40, (5, 3))
    assert np.array_equal(projected[:5], restoration[:5]) and np.array_equal(projected[:, :3], restoration[:, :3])
    bottom, right = 5 + (decoded.shape[0] - 5) // 8 * 8, 3 + (decoded.shape[1] - 3) // 8 * 8
    assert np.array_equal(projected[bottom:], restoration[bottom:]) and np.array_equal(projected[:, right:], restoration[:, right:])
    original = luminance(photo)[3:, 5:]
    inner = (slice(5, bottom), slice(3, right))
    assert np.mean((projected[inner] - original[inner]) ** 2) < np.mean((restoration[inner] - original[inner]) ** 2)
    misaligned = project_to_jpeg(restoration, decoded, 40, (0, 0))  # the wrong grid does not help
    assert np.mean((misaligned[inner] - original[inner]) ** 2) > np.mean((projected[inner] - original[inner]) ** 2)
