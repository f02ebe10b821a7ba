"""Tiled inference in bounded memory, seamless by construction. Stateless.

The network is a function of a (batch, tile_height + 2 r, tile_width + 2 r, channels) block that
returns (batch, scale * tile_height, scale * tile_width, channels): it reads ``r`` pixels of
context on every side ("valid" convolutions). Coordinates are computed in input space; each tile
is cut out together with its context (mirrored, reflect-101, beyond the image edge), the network
runs, and its output is pasted at ``scale`` times the tile's position. Because every output pixel
sees exactly the context it would see in one untiled pass over the mirrored image, tiled output
equals untiled output up to floating-point rounding.

Each side is split into the fewest windows no longer than ``tile``, all of one length: the even
share rounded up to a multiple of ``SHAPE_STEP`` (64), so an image has one tile shape, shapes
repeat across images, and the work wasted on rounding is under 64 pixels per window. Windows
start at multiples of their length; the last one may overhang the image edge (its overhang is
mirrored context, computed and dropped), so tile positions stay multiples of 64 for networks
that need aligned positions.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

SHAPE_STEP = 64  # tile sides are multiples of this where ``tile`` allows
FALLBACK_STEP = 8  # ... else multiples of this (a ``tile`` that is not a multiple of 64)

Network = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[int, int], None]


class Tile(NamedTuple):
    """A region of the input: rows ``top:top+height``, columns ``left:left+width``."""

    top: int
    left: int
    height: int
    width: int


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def _starts(length: int, tile: int, alignment: int = 1) -> tuple[list[int], int]:
    """Window starts covering 0..length with equal windows of ``span`` <= ``tile``; returns (starts, span).

    ``count`` = ceil(length / tile) windows of the even share rounded up to ``SHAPE_STEP`` (or to
    ``FALLBACK_STEP``, or ``tile`` itself, where the rounded share would exceed ``tile``); window
    ``i`` starts at ``i * span`` and the last one may overhang the edge by less than ``count`` steps.
    ``span`` is always a multiple of ``alignment`` (so every start is), even where that makes it
    exceed ``tile`` by less than ``alignment``.
    """
    count = -(-length // tile)
    share = -(-length // count)
    span = _round_up(share, SHAPE_STEP)
    if span > tile:
        span = _round_up(share, FALLBACK_STEP)
        if span > tile:
            span = tile
    span = _round_up(span, alignment)
    count = -(-length // span)
    return [index * span for index in range(count)], span


def plan_tiles(height: int, width: int, tile: int, alignment: int = 1) -> list[Tile]:
    """Tiles (input space) covering a height x width image, all one shape; a tile may overhang an edge.

    Tile positions and sides are multiples of ``alignment`` (networks that pixel-unshuffle by a
    factor need it for tiled output to equal untiled output).
    """
    if tile < 1 or alignment < 1:
        raise ValueError("tile and alignment must be positive")
    rows, tile_height = _starts(height, tile, alignment)
    columns, tile_width = _starts(width, tile, alignment)
    return [Tile(top, left, tile_height, tile_width) for top in rows for left in columns]


def reflect_indices(start: int, stop: int, length: int) -> np.ndarray:
    """Indices start..stop-1 folded into 0..length-1 by reflect-101 mirroring (any distance)."""
    indices = np.arange(start, stop)
    if length == 1:
        return np.zeros_like(indices)
    period = 2 * (length - 1)
    indices = np.mod(indices, period)
    return np.where(indices >= length, period - indices, indices)


def extract(image: np.ndarray, tile: Tile, context: int, out: np.ndarray | None = None) -> np.ndarray:
    """The tile with ``context`` pixels on every side, (height + 2c, width + 2c, channels).

    Written into ``out`` when given (same shape and dtype); a plain copy of a slice when the
    window lies inside the image, a mirrored gather only where it crosses an edge.
    """
    top, left = tile.top - context, tile.left - context
    bottom, right = tile.top + tile.height + context, tile.left + tile.width + context
    if out is None:
        out = np.empty((bottom - top, right - left) + image.shape[2:], image.dtype)
    if top >= 0 and left >= 0 and bottom <= image.shape[0] and right <= image.shape[1]:
        out[...] = image[top:bottom, left:right]
        return out
    rows = reflect_indices(top, bottom, image.shape[0])
    columns = reflect_indices(left, right, image.shape[1])
    out[...] = image[rows[:, None], columns[None, :]]
    return out


def tiled_apply(
    image: np.ndarray,
    network: Network,
    context: int,
    scale: int = 1,
    tile: int | None = 512,
    batch: int = 1,
    progress: Progress | None = None,
    alignment: int = 1,
) -> np.ndarray:
    """Run ``network`` over ``image`` (height, width, channels) float32 tile by tile.

    Args:
        image: (height, width, channels) float32.
        network: maps a (batch, h + 2 context, w + 2 context, channels) float32 block to
            (batch, scale * h, scale * w, out_channels) float32.
        context: pixels of input context the network consumes on every side.
        scale: output pixels per input pixel.
        tile: largest tile side in input pixels; None or 0 runs the whole image as one tile.
        batch: tiles (all of one shape) sent to ``network`` per call.
        progress: called as ``progress(done, total)`` after every batch of tiles.
        alignment: tile positions and sides are multiples of this (1 for SRCNN/VDSR, the
            pixel-unshuffle factor for revive); with ``tile`` None the one tile is rounded up too.

    Returns:
        (scale * height, scale * width, out_channels) float32.
    """
    height, width = image.shape[:2]
    if tile:
        tiles = plan_tiles(height, width, tile, alignment)
    else:
        tiles = [Tile(0, 0, _round_up(height, alignment), _round_up(width, alignment))]
    per_call = max(1, batch)
    output: np.ndarray | None = None
    total = len(tiles)
    # plan_tiles gives one shape, so every batch (but a short last one) has one shape too.
    block_shape = (tiles[0].height + 2 * context, tiles[0].width + 2 * context) + image.shape[2:]
    blocks = np.empty((min(per_call, total),) + block_shape, np.float32)
    for first in range(0, total, per_call):
        chunk = tiles[first : first + per_call]
        batch_blocks = blocks[: len(chunk)]
        for index, item in enumerate(chunk):
            extract(image, item, context, out=batch_blocks[index])
        results = np.asarray(network(batch_blocks), dtype=np.float32)
        if output is None:
            output = np.empty((scale * height, scale * width, results.shape[-1]), np.float32)
        for item, result in zip(chunk, results):
            keep_height = min(item.height, height - item.top)
            keep_width = min(item.width, width - item.left)
            output[
                scale * item.top : scale * (item.top + keep_height),
                scale * item.left : scale * (item.left + keep_width),
            ] = result[: scale * keep_height, : scale * keep_width]
        if progress is not None:
            progress(first + len(chunk), total)
    assert output is not None
    return output
