"""Tiled inference in bounded memory, seamless by construction. Stateless.

The network is a function of a (batch, tile_height + 2 r, tile_width + 2 r, channels) block that
returns (batch, scale * tile_height, scale * tile_width, channels): it reads ``r`` pixels of
context on every side ("valid" convolutions). Coordinates are computed in input space; each tile
is cut out together with its context (mirrored, reflect-101, beyond the image edge), the network
runs, and its output is pasted at ``scale`` times the tile's position. Because every output pixel
sees exactly the context it would see in one untiled pass over the mirrored image, tiled output
equals untiled output up to floating-point rounding.

Tile shapes are drawn from a few sizes (``tile`` or a multiple of ``SHAPE_STEP`` below it), so a
compiled network meets only a handful of shapes whatever the image size.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

SHAPE_STEP = 64

Network = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[int, int], None]


class Tile(NamedTuple):
    """A region of the input: rows ``top:top+height``, columns ``left:left+width``."""

    top: int
    left: int
    height: int
    width: int


def _starts(length: int, tile: int) -> tuple[list[int], int]:
    """Start positions covering 0..length with windows of ``span`` pixels; returns (starts, span).

    Windows never leave the image when it is at least one tile long (the last one is moved back
    to end at the edge); a shorter side gets one window rounded up to the next shape step.
    """
    if length <= tile:
        span = min(tile, -(-length // SHAPE_STEP) * SHAPE_STEP)
        return [0], span
    count = -(-length // tile)
    starts = [index * tile for index in range(count - 1)] + [length - tile]
    return starts, tile


def plan_tiles(height: int, width: int, tile: int) -> list[Tile]:
    """Tiles (input space) covering a height x width image; a tile may overhang a short side."""
    if tile < 1:
        raise ValueError("tile must be positive")
    rows, tile_height = _starts(height, tile)
    columns, tile_width = _starts(width, tile)
    return [Tile(top, left, tile_height, tile_width) for top in rows for left in columns]


def reflect_indices(start: int, stop: int, length: int) -> np.ndarray:
    """Indices start..stop-1 folded into 0..length-1 by reflect-101 mirroring (any distance)."""
    indices = np.arange(start, stop)
    if length == 1:
        return np.zeros_like(indices)
    period = 2 * (length - 1)
    indices = np.mod(indices, period)
    return np.where(indices >= length, period - indices, indices)


def extract(image: np.ndarray, tile: Tile, context: int) -> np.ndarray:
    """The tile with ``context`` pixels on every side, (height + 2c, width + 2c, channels)."""
    rows = reflect_indices(tile.top - context, tile.top + tile.height + context, image.shape[0])
    columns = reflect_indices(tile.left - context, tile.left + tile.width + context, image.shape[1])
    return image[rows[:, None], columns[None, :]]


def tiled_apply(
    image: np.ndarray,
    network: Network,
    context: int,
    scale: int = 1,
    tile: int | None = 512,
    batch: int = 1,
    progress: Progress | None = None,
) -> np.ndarray:
    """Run ``network`` over ``image`` (height, width, channels) float32 tile by tile.

    Args:
        image: (height, width, channels) float32.
        network: maps a (batch, h + 2 context, w + 2 context, channels) float32 block to
            (batch, scale * h, scale * w, out_channels) float32.
        context: pixels of input context the network consumes on every side.
        scale: output pixels per input pixel.
        tile: tile side in input pixels; None or 0 runs the whole image as one tile.
        batch: tiles of one shape sent to ``network`` per call.
        progress: called as ``progress(done, total)`` after every tile.

    Returns:
        (scale * height, scale * width, out_channels) float32.
    """
    height, width = image.shape[:2]
    tiles = plan_tiles(height, width, tile or max(height, width))
    output: np.ndarray | None = None
    total = len(tiles)
    done = 0
    # Tiles come in at most four shapes; group them so batches hold one shape.
    groups: dict[tuple[int, int], list[Tile]] = {}
    for item in tiles:
        groups.setdefault((item.height, item.width), []).append(item)
    for group in groups.values():
        for first in range(0, len(group), max(1, batch)):
            chunk = group[first : first + max(1, batch)]
            blocks = np.stack([extract(image, item, context) for item in chunk])
            results = np.asarray(network(blocks), dtype=np.float32)
            if output is None:
                output = np.empty((scale * height, scale * width, results.shape[-1]), np.float32)
            for item, result in zip(chunk, results):
                keep_height = min(item.height, height - item.top)
                keep_width = min(item.width, width - item.left)
                output[
                    scale * item.top : scale * (item.top + keep_height),
                    scale * item.left : scale * (item.left + keep_width),
                ] = result[: scale * keep_height, : scale * keep_width]
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    assert output is not None
    return output
