"""Synthetic test pictures: smooth gradients, edges and texture, deterministic."""

from __future__ import annotations

import numpy as np


def synthetic_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(height, width, 3) uint8 with gradients, a disc, stripes and mild noise."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 255 * columns / max(1, width - 1)
    green = 255 * rows / max(1, height - 1)
    disc = ((rows - height / 2) ** 2 + (columns - width / 3) ** 2) < (min(height, width) / 4) ** 2
    blue = np.where(disc, 220.0, 40.0) + 30 * np.sin(columns / 3.0)
    image = np.stack([red, green, blue], axis=2) + rng.normal(0, 4, (height, width, 3))
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)
