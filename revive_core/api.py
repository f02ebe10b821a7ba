"""``upscale``: the one entry point the app, the command line and Python users share."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PIL import Image

from revive_core import imageio
from revive_core.colour import rgb_to_ycbcr, ycbcr_to_rgb
from revive_core.errors import UsageError
from revive_core.imageio import Picture
from revive_core.models import get_runner, list_models
from revive_core.precision import resolve_precision
from revive_core.resize import upsample
from revive_core.select import THROUGHPUT, Candidate, Selection, select_model
from revive_core.tiling import tiled_apply

LOGGER = logging.getLogger(__name__)
SCALES = (2, 3, 4)
DEFAULT_TILE = 512
STRIP_ROWS = 512  # rows per colour-conversion strip: bounds the float temporaries
Progress = Callable[[int, int], None]


@dataclass
class Report:
    """What happened: the model used and why, sizes (width, height), seconds, warnings."""

    model: str
    reason: str
    scale: int
    input_size: tuple[int, int]
    output_size: tuple[int, int]
    seconds: float = 0.0
    precision: str = "fp32"
    tiles: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        (w, h), (W, H) = self.input_size, self.output_size
        return (f"{self.model.upper()} x{self.scale}: {w}x{h} -> {W}x{H} in {self.seconds:.1f} s "
                f"({self.precision}). {self.reason}")


def candidates(precision: str) -> list[Candidate]:
    """The installed model families with their measured speed at ``precision``."""
    speeds = THROUGHPUT[precision]
    return [Candidate(info.name, info.scales, speeds.get(info.name, 1.0)) for info in list_models()]


def choose(width: int, height: int, scale: int, model: str = "auto", precision: str | None = None) -> Selection:
    """Resolve ``model`` ("auto" or a family name) to a Selection for this image."""
    resolved = resolve_precision(precision)
    if model == "auto":
        return select_model(width, height, scale, candidates(resolved))
    return Selection(model, f"{model.upper()}: chosen by you", 0.0)


def _validate(scale: int, tile: int | None) -> None:
    if scale not in SCALES:
        raise UsageError(f"scale must be one of {', '.join(map(str, SCALES))}, not {scale}")
    if tile is not None and tile != 0 and tile < 32:
        raise UsageError("tile must be 0 (no tiling) or at least 32 pixels")


def upscale_picture(
    picture: Picture,
    scale: int = 2,
    model: str = "auto",
    tile: int | None = None,
    progress: Progress | None = None,
    precision: str | None = None,
) -> tuple[Picture, Report]:
    """Upscale a Picture; returns the new Picture (same mode and bit depth) and a Report.

    The network runs on luminance (BT.601 Y, or the grey channel); colour difference and alpha
    are upscaled with the same bicubic and re-attached; 16-bit stays 16-bit.
    """
    _validate(scale, tile)
    started = time.perf_counter()
    selection = choose(picture.width, picture.height, scale, model, precision)
    runner = get_runner(selection.model, scale, precision)
    pixels = picture.pixels
    peak = 65535.0 if pixels.dtype == np.uint16 else 255.0
    colour_channels = 3 if pixels.shape[2] >= 3 else 1
    to_unit = np.float32(255.0 / peak)
    colour = pixels[..., :colour_channels].astype(np.float32) * to_unit
    if colour_channels == 3:
        ycbcr = rgb_to_ycbcr(colour)
        luminance, chroma = ycbcr[..., 0], ycbcr[..., 1:]
        del ycbcr
    else:
        luminance, chroma = colour[..., 0], None
    del colour
    upscaled = upsample(luminance / np.float32(255.0), scale)[..., None]
    tile_size = DEFAULT_TILE if tile is None else tile
    tiles: list[int] = [0]

    def on_tile(done: int, total: int) -> None:
        tiles[0] = total
        if progress is not None:
            progress(done, total)

    restored = tiled_apply(upscaled, runner, runner.context, 1, tile_size or None, progress=on_tile)[..., 0]
    del upscaled
    out_height, out_width = restored.shape
    channels = pixels.shape[2]
    result = np.empty((out_height, out_width, channels), pixels.dtype)
    chroma_up = upsample(chroma, scale) if chroma is not None else None
    alpha_up = upsample(pixels[..., colour_channels:].astype(np.float32) * to_unit, scale) if channels in (2, 4) else None
    for top in range(0, out_height, STRIP_ROWS):
        rows = slice(top, min(out_height, top + STRIP_ROWS))
        grey = restored[rows] * np.float32(255.0)
        if chroma_up is not None:
            strip = ycbcr_to_rgb(np.concatenate([grey[..., None], chroma_up[rows]], axis=2))
        else:
            strip = grey[..., None]
        if alpha_up is not None:
            strip = np.concatenate([strip, alpha_up[rows].reshape(strip.shape[0], strip.shape[1], -1)], axis=2)
        scaled = np.clip(strip * np.float32(peak / 255.0), 0.0, peak) + np.float32(0.5)
        result[rows] = scaled.astype(pixels.dtype)
    seconds = time.perf_counter() - started
    report = Report(
        model=selection.model, reason=selection.reason, scale=scale,
        input_size=(picture.width, picture.height), output_size=(out_width, out_height),
        seconds=seconds, precision=runner.precision, tiles=tiles[0], warnings=list(picture.warnings),
    )
    LOGGER.info("%s", report.summary())
    return imageio.with_pixels(picture, result), report


def upscale(
    image: Image.Image | np.ndarray,
    scale: int = 2,
    model: str = "auto",
    tile: int | None = None,
    progress: Progress | None = None,
    precision: str | None = None,
) -> Image.Image | np.ndarray:
    """Upscale a PIL image or a numpy array; returns the same kind.

    Args:
        image: PIL image (any mode Pillow opens; EXIF orientation applied) or numpy array
            (height, width) / (height, width, 1|2|3|4), uint8 or uint16 (L, LA, RGB, RGBA).
        scale: 2, 3 or 4.
        model: "auto" or an installed family from ``list_models()`` ("srcnn", "vdsr").
        tile: tile side in pixels (output resolution); 0 for none; None for the default.
        progress: ``progress(done_tiles, total_tiles)`` after each tile.
        precision: "auto", "bf16" or "fp32" (default: ``$REVIVE_PRECISION``, then the CPU).

    Returns:
        PIL image in: PIL image out (16-bit grey stays I;16). Array in: array out, same dtype
        and number of dimensions, ``scale`` times larger.
    """
    if isinstance(image, Image.Image):
        picture = imageio.from_pil(image)
        output, _ = upscale_picture(picture, scale, model, tile, progress, precision)
        return imageio.to_pil(output)
    array = np.asarray(image)
    if array.dtype not in (np.uint8, np.uint16):
        raise UsageError(f"arrays must be uint8 or uint16, not {array.dtype}")
    squeeze = array.ndim == 2
    if squeeze:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise UsageError(f"arrays must be (height, width) or (height, width, 1-4 channels), not {array.shape}")
    output, _ = upscale_picture(Picture(np.ascontiguousarray(array)), scale, model, tile, progress, precision)
    return output.pixels[..., 0] if squeeze else output.pixels
