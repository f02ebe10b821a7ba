"""BT.601 YCbCr conversion as in MATLAB's ``rgb2ycbcr`` (the SR literature's convention).

All functions take and return float arrays on the 0..255 scale (float32 or float64 in, same out);
Y is in 16..235 and Cb/Cr in 16..240 for RGB inside 0..255.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb", "rgb_to_y", "eight_bit_levels", "YCBCR_TO_RGB_AFFINE"]

_RGB_TO_YCBCR = np.array(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=np.float64
) / 255.0
_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)
# (3, 4) float64: RGB = YCBCR_TO_RGB_AFFINE @ (Y, Cb, Cr, 1), the affine form of ``ycbcr_to_rgb``.
YCBCR_TO_RGB_AFFINE = np.concatenate([_YCBCR_TO_RGB, -(_YCBCR_TO_RGB @ _OFFSET)[:, None]], axis=1)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB 0..255 -> (..., 3) YCbCr; dtype follows the input (float64 for integers)."""
    dtype = rgb.dtype if np.issubdtype(rgb.dtype, np.floating) else np.float64
    matrix = _RGB_TO_YCBCR.astype(dtype)
    return rgb.astype(dtype, copy=False) @ matrix.T + _OFFSET.astype(dtype)


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB 0..255 -> (...) Y in 16..235; dtype follows the input (float64 for integers)."""
    dtype = rgb.dtype if np.issubdtype(rgb.dtype, np.floating) else np.float64
    return rgb.astype(dtype, copy=False) @ _RGB_TO_YCBCR[0].astype(dtype) + np.asarray(16.0, dtype=dtype)


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """(..., 3) YCbCr -> (..., 3) RGB on 0..255, not clipped; dtype follows the input."""
    dtype = ycbcr.dtype
    matrix = _YCBCR_TO_RGB.astype(dtype)
    return (ycbcr - _OFFSET.astype(dtype)) @ matrix.T


def image_array(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` as an (H, W) or (H, W, C) array (not copied), or ValueError: what slicing by rows and
    columns needs before ``eight_bit_levels`` converts the part that is read."""
    array = np.asarray(pixels)
    if array.ndim not in (2, 3):
        raise ValueError(f"expected (height, width[, 1-4 channels]), got {array.shape}")
    return array


def eight_bit_levels(pixels: np.ndarray) -> np.ndarray:
    """(H, W[, C]) uint8/uint16/float 0..255 -> (H, W, 1 or 3) float32 on 0..255 (alpha dropped;
    16-bit scaled and rounded to 8-bit levels, as the photo would have been saved in 8 bits).
    Idempotent: its own output comes back as it is, not copied."""
    array = image_array(pixels)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected (height, width[, 1-4 channels]), got {array.shape}")
    colour = 3 if array.shape[2] >= 3 else 1
    array = array[..., :colour]
    if array.dtype == np.uint16:
        return np.round(array.astype(np.float32) * np.float32(255.0 / 65535.0))
    return array.astype(np.float32, copy=False)  # already float32 levels: the same array
