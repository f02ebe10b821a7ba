"""MATLAB-exact bicubic: bit-exact against MATLAB's own LR images, and the fast float path."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from revive_core.paths import shared_root
from revive_core.resize import cubic_kernel, imresize, upsample
from tests.imaging import synthetic_rgb

REFERENCE = shared_root() / "datasets" / "matlab_reference" / "Set5"


def reference_pairs() -> list[tuple[Path, Path, int]]:
    pairs = []
    for scale in (2, 3, 4):
        for hr in sorted((REFERENCE / f"x{scale}").glob(f"*_HR_x{scale}.png")):
            pairs.append((hr, hr.with_name(hr.name.replace("_HR_", "_LRBI_")), scale))
    return pairs


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/datasets/matlab_reference is absent")
@pytest.mark.parametrize("hr_path, lr_path, scale", reference_pairs() if REFERENCE.is_dir() else [])
def test_downscale_is_bit_exact_with_matlab(hr_path: Path, lr_path: Path, scale: int) -> None:
    hr = np.asarray(Image.open(hr_path))
    expected = np.asarray(Image.open(lr_path))
    result = imresize(hr, 1.0 / scale)
    assert result.dtype == np.uint8
    assert result.shape == expected.shape
    assert np.array_equal(result, expected)


def test_reference_set_is_complete_when_present() -> None:
    if not REFERENCE.is_dir():
        pytest.skip("../shared/datasets/matlab_reference is absent")
    assert len(reference_pairs()) == 15


def test_cubic_kernel_interpolates() -> None:
    assert cubic_kernel(np.array([0.0]))[0] == 1.0
    assert np.allclose(cubic_kernel(np.array([1.0, 2.0, -1.0, 2.5])), 0.0)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (37, 53), (40, 31, 2), (17, 19, 3)])
def test_fast_upsample_equals_imresize(scale: int, shape: tuple[int, ...]) -> None:
    image = np.random.default_rng(3).random(shape).astype(np.float32)
    assert np.abs(upsample(image, scale) - imresize(image, scale)).max() < 1e-5


def test_uint8_resize_keeps_dtype_and_constant_images() -> None:
    flat = np.full((30, 20, 3), 77, np.uint8)
    assert np.array_equal(imresize(flat, 0.5), np.full((15, 10, 3), 77, np.uint8))
    assert np.array_equal(imresize(flat, 3), np.full((90, 60, 3), 77, np.uint8))


def test_output_shape_argument_and_rounding_up() -> None:
    image = synthetic_rgb(31, 45)
    assert imresize(image, 0.5).shape == (16, 23, 3)
    assert imresize(image, output_shape=(62, 90)).shape == (62, 90, 3)
    with pytest.raises(ValueError):
        imresize(image)
