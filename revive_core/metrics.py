"""PSNR and SSIM with the super-resolution literature's protocol (BasicSR's signatures).

Images are (height, width) or (height, width, 3) arrays on the 0..255 scale, RGB order, any real
dtype; everything is computed in float64. ``crop_border`` pixels are shaved from every side;
``test_y_channel`` evaluates BT.601 Y (16..235) instead of all channels.
"""

from __future__ import annotations

import cv2
import numpy as np

from revive_core.colour import rgb_to_y

__all__ = ["calculate_psnr", "calculate_ssim"]


def _prepare(image: np.ndarray, crop_border: int, test_y_channel: bool) -> np.ndarray:
    image = np.asarray(image).astype(np.float64)
    if test_y_channel and image.ndim == 3 and image.shape[2] == 3:
        image = rgb_to_y(image)
    if crop_border:
        image = image[crop_border:-crop_border, crop_border:-crop_border, ...]
    return image


def calculate_psnr(image: np.ndarray, reference: np.ndarray, crop_border: int = 0, test_y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB for 0..255 images; ``inf`` when they are identical."""
    if image.shape != reference.shape:
        raise ValueError(f"shapes differ: {image.shape} vs {reference.shape}")
    first = _prepare(image, crop_border, test_y_channel)
    second = _prepare(reference, crop_border, test_y_channel)
    mse = np.mean((first - second) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(255.0**2 / mse))


def _ssim_single(first: np.ndarray, second: np.ndarray) -> float:
    """SSIM of two 2-D float64 images, 11x11 Gaussian window (sigma 1.5), 'valid' region."""
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    kernel = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(kernel, kernel.transpose())
    mu1 = cv2.filter2D(first, -1, window)[5:-5, 5:-5]
    mu2 = cv2.filter2D(second, -1, window)[5:-5, 5:-5]
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    sigma1_sq = cv2.filter2D(first**2, -1, window)[5:-5, 5:-5] - mu1_sq
    sigma2_sq = cv2.filter2D(second**2, -1, window)[5:-5, 5:-5] - mu2_sq
    sigma12 = cv2.filter2D(first * second, -1, window)[5:-5, 5:-5] - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return float(ssim_map.mean())


def calculate_ssim(image: np.ndarray, reference: np.ndarray, crop_border: int = 0, test_y_channel: bool = False) -> float:
    """Structural similarity (Wang et al. 2004) as in BasicSR; channels averaged; 1.0 when identical."""
    if image.shape != reference.shape:
        raise ValueError(f"shapes differ: {image.shape} vs {reference.shape}")
    first = _prepare(image, crop_border, test_y_channel)
    second = _prepare(reference, crop_border, test_y_channel)
    if first.ndim == 2:
        return _ssim_single(first, second)
    return float(np.mean([_ssim_single(first[..., c], second[..., c]) for c in range(first.shape[2])]))
