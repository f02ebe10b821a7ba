"""MATLAB-exact bicubic ``imresize`` in numpy.

MATLAB's rules (``imresize(image, scale, 'bicubic')``): Keys cubic kernel with a = -0.5; when
downscaling the kernel is widened by 1/scale (antialiasing); output pixel x (1-based) maps to input
u = x/scale + 0.5 * (1 - 1/scale); weights are normalised to sum to 1; indices outside the image clamp to
the edge pixel (what the reference LR images in ``shared/datasets/matlab_reference`` show); dimensions are resized in order of increasing scale, rows first on ties; for uint8 input
the result of each pass is rounded half away from zero and clipped to 0..255.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["imresize", "cubic_kernel"]


def cubic_kernel(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``), float64."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    near = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return near + far


@lru_cache(maxsize=64)
def _contributions(in_length: int, out_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (out_length, taps) float64 and 0-based indices (out_length, taps) for one axis."""
    kernel_width = 4.0
    if scale < 1:
        kernel_width = kernel_width / scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * cubic_kernel(scale * x)
    else:
        kernel = cubic_kernel
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    indices = np.clip(indices.astype(np.int64) - 1, 0, in_length - 1)
    keep = np.any(weights != 0, axis=0)
    weights = np.ascontiguousarray(weights[:, keep])
    indices = np.ascontiguousarray(indices[:, keep])
    weights.setflags(write=False)
    indices.setflags(write=False)
    return weights, indices


def _round_uint8(values: np.ndarray) -> np.ndarray:
    """MATLAB's double -> uint8 cast: round half away from zero, saturate."""
    return np.clip(np.sign(values) * np.floor(np.abs(values) + 0.5), 0, 255).astype(np.uint8)


def _resize_axis(image: np.ndarray, axis: int, out_length: int, scale: float) -> np.ndarray:
    in_length = image.shape[axis]
    weights, indices = _contributions(in_length, out_length, scale)
    work = image.astype(np.float64) if image.dtype != np.float32 else image
    moved = np.moveaxis(work, axis, 0)
    result = np.zeros((out_length,) + moved.shape[1:], dtype=work.dtype)
    broadcast = (slice(None),) + (None,) * (moved.ndim - 1)
    for tap in range(weights.shape[1]):
        result += weights[:, tap][broadcast].astype(work.dtype) * moved[indices[:, tap]]
    return np.moveaxis(result, 0, axis)


def imresize(image: np.ndarray, scale: float | None = None, output_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Resize like MATLAB ``imresize(image, scale, 'bicubic')``.

    Args:
        image: (height, width) or (height, width, channels); uint8 (0..255, rounded after each pass
            like MATLAB) or float32/float64 (any range, not clipped).
        scale: the factor for both axes (0.5 halves); output size is ceil(size * scale).
        output_shape: (height, width) instead of ``scale``; each axis then uses its own factor.

    Returns:
        The resized image, same dtype and number of dimensions as ``image``.
    """
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale or output_shape")
    height, width = image.shape[:2]
    if scale is not None:
        scales = (float(scale), float(scale))
        out_shape = (int(math.ceil(height * scale)), int(math.ceil(width * scale)))
    else:
        out_shape = (int(output_shape[0]), int(output_shape[1]))
        scales = (out_shape[0] / height, out_shape[1] / width)
    order = sorted(range(2), key=lambda axis: scales[axis])
    is_uint8 = image.dtype == np.uint8
    result = image
    for axis in order:
        if result.shape[axis] == out_shape[axis] and scales[axis] == 1.0:
            continue
        result = _resize_axis(result, axis, out_shape[axis], scales[axis])
        if is_uint8:
            result = _round_uint8(result)
    if result is image:
        result = image.copy()
    if not is_uint8 and result.dtype != image.dtype:
        result = result.astype(image.dtype)
    return result


@lru_cache(maxsize=16)
def _phase_kernels(scale: int) -> tuple[tuple[np.ndarray, int], ...]:
    """For each output phase p of integer upsampling: (taps float32, anchor) for ``cv2.filter2D``.

    Output pixel ``scale * i + p`` = sum_k taps[k] * input[i + k - anchor], edges clamped.
    """
    kernels = []
    for phase in range(scale):
        u = (phase + 1) / scale + 0.5 * (1.0 - 1.0 / scale)
        left = math.floor(u - 2.0)
        offsets = np.arange(left - 1, left + 5)  # 0-based input offsets relative to i
        weights = cubic_kernel(u - (offsets + 1.0))
        weights = weights / weights.sum()
        keep = weights != 0
        offsets, weights = offsets[keep], weights[keep]
        low, high = min(int(offsets.min()), 0), max(int(offsets.max()), 0)
        taps = np.zeros(high - low + 1, np.float32)
        taps[offsets - low] = weights
        kernels.append((taps, -low))
    return tuple(kernels)


def upsample(image: np.ndarray, scale: int) -> np.ndarray:
    """Integer-factor bicubic upsampling of float32 images, same maths as ``imresize(image, scale)``.

    Args:
        image: (height, width) or (height, width, channels<=4) float32, any range.
        scale: integer factor >= 1.

    Returns:
        (scale*height, scale*width[, channels]) float32; equals ``imresize`` to float32 rounding
        (about 1e-5 on a 0..1 scale), computed with OpenCV filters instead of gathers.
    """
    import cv2

    if scale == 1:
        return image.astype(np.float32, copy=True)
    image = np.ascontiguousarray(image, dtype=np.float32)
    kernels = _phase_kernels(int(scale))
    height, width = image.shape[:2]
    pixel = image.shape[2:]
    # Rows: phase p fills output rows scale*i + p; (height, scale, width) keeps each written row
    # contiguous, so OpenCV writes straight into it.
    rows = np.empty((height, scale, width) + pixel, np.float32)
    for phase, (taps, anchor) in enumerate(kernels):
        cv2.filter2D(image, -1, taps[:, None], dst=rows[:, phase], anchor=(0, anchor), borderType=cv2.BORDER_REPLICATE)
    rows = rows.reshape((height * scale, width) + pixel)
    # Columns: phase p fills output columns scale*j + p. One channel: strided numpy writes; more:
    # cv2.merge interleaves the phases (every channel of each phase in turn), several times faster
    # than numpy's strided writes of multi-channel pixels.
    if image.size == height * width:
        result = np.empty((height * scale, width * scale) + pixel, np.float32)
        planes = result.reshape(height * scale, width * scale)
        for phase, (taps, anchor) in enumerate(kernels):
            planes[:, phase::scale] = cv2.filter2D(rows, -1, taps[None, :], anchor=(anchor, 0), borderType=cv2.BORDER_REPLICATE).reshape(planes[:, phase::scale].shape)
        return result
    phases = [
        cv2.filter2D(rows, -1, taps[None, :], anchor=(anchor, 0), borderType=cv2.BORDER_REPLICATE)
        for taps, anchor in kernels
    ]
    return cv2.merge(phases).reshape((height * scale, width * scale) + pixel)
