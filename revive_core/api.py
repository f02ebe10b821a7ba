"""``upscale``: the one entry point the app, the command line and Python users share."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from revive_core import imageio
from revive_core.colour import YCBCR_TO_RGB_AFFINE, rgb_to_ycbcr
from revive_core.damage import DamageEstimate, estimate_damage, suggest_strength
from revive_core.errors import UsageError
from revive_core.imageio import Picture
from revive_core.jpeg import project_to_jpeg
from revive_core.models import SelfEnsemble, get_runner, list_models
from revive_core.precision import resolve_precision
from revive_core.resize import upsample
from revive_core.select import RESTORATION, THROUGHPUT, Candidate, Selection, select_model
from revive_core.tiling import tiled_apply

LOGGER = logging.getLogger(__name__)
SCALES = (2, 3, 4)
RESTORE_MODELS = (RESTORATION,)  # families that also serve x1 (restoration only) and take a strength
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
    strength: float | None = None  # revive only: the strength used, 0..1
    damage: str = ""  # what the damage estimate found (shown with the reason)
    ensemble: bool = False  # averaged over 8 mirrored/rotated passes
    jpeg_quality: float | None = None  # x1 repair of a JPEG: kept consistent with its quantisation at this quality

    def summary(self) -> str:
        (w, h), (W, H) = self.input_size, self.output_size
        strength = "" if self.strength is None else f", strength {self.strength:.2f}"
        ensemble = ", 8-pass ensemble" if self.ensemble else ""
        jpeg = "" if self.jpeg_quality is None else f", consistent with the JPEG (quality {self.jpeg_quality:.0f})"
        return (f"{self.model.upper()} x{self.scale}: {w}x{h} -> {W}x{H} in {self.seconds:.1f} s "
                f"({self.precision}{strength}{ensemble}{jpeg}). {self.reason}")


def candidates(precision: str) -> list[Candidate]:
    """The installed model families with their measured speed at ``precision``."""
    speeds = THROUGHPUT[precision]
    return [Candidate(info.name, info.scales, speeds.get(info.name, 1.0)) for info in list_models()]


def choose(width: int, height: int, scale: int, model: str = "auto", precision: str | None = None,
           damage: DamageEstimate | None = None) -> Selection:
    """Resolve ``model`` ("auto" or a family name) to a Selection for this image."""
    resolved = resolve_precision(precision)
    if model == "auto":
        return select_model(width, height, scale, candidates(resolved), damage=damage)
    return Selection(model, f"{model.upper()}: chosen by you", 0.0)


def validate_settings(scale: int, tile: int | None, model: str = "auto", strength: float | None = None) -> None:
    """Raise UsageError (one sentence) for a scale, tile, model/scale pairing or strength out of range."""
    if scale == 1 and model not in ("auto",) + RESTORE_MODELS:
        raise UsageError(f"scale 1 (repair without enlarging) needs the revive model, not {model}")
    if scale != 1 and scale not in SCALES:
        raise UsageError(f"scale must be {', '.join(map(str, SCALES[:-1]))} or {SCALES[-1]} "
                         f"(or 1 with the revive model, to repair without enlarging), not {scale}")
    if strength is not None and not 0.0 <= strength <= 1.0:
        raise UsageError(f"strength must be between 0 and 1, not {strength}")
    if tile is not None and tile != 0 and tile < 32:
        raise UsageError("tile must be 0 (no tiling) or at least 32 pixels")


CHROMA_SIGMA_COLOUR = 30.0  # bilateral range sigma (Cb/Cr levels) at strength 1
CHROMA_SIGMA_SPACE = 2.0  # bilateral spatial sigma in input pixels


def denoise_chroma(chroma: np.ndarray, strength: float) -> np.ndarray:
    """(H, W, 2) float32 Cb/Cr on 0..255 -> the same, edge-preserving smoothed (bilateral) in
    proportion to ``strength``: the revive network restores luminance only, and colour noise and
    JPEG chroma blocks live in Cb/Cr, which natural photos keep smooth."""
    sigma_colour = CHROMA_SIGMA_COLOUR * float(strength)
    if sigma_colour <= 0:
        return chroma
    channels = [cv2.bilateralFilter(np.ascontiguousarray(chroma[..., index]), -1, sigma_colour, CHROMA_SIGMA_SPACE)
                for index in range(chroma.shape[2])]
    return np.stack(channels, axis=2)


def _output_transform(peak: float) -> np.ndarray:
    """(3, 4) float32 affine taking (Y in 0..1, Cb, Cr on 0..255, 1) to RGB on 0..``peak`` plus 0.5
    (the rounding offset, so truncation rounds). BT.601, as ``ycbcr_to_rgb``."""
    affine = YCBCR_TO_RGB_AFFINE * (peak / 255.0)
    affine[:, 0] *= 255.0
    affine[:, 3] += 0.5
    return affine.astype(np.float32)


def _to_output_strip(luminance: np.ndarray, chroma: np.ndarray | None, affine: np.ndarray, peak: float) -> np.ndarray:
    """(rows, W) Y in 0..1 and (rows, W, 2) CbCr on 0..255 (or None for grey) -> (rows, W, 3 or 1)
    float32 RGB/grey on 0..``peak`` plus 0.5, not clipped: one fused OpenCV affine for colour."""
    if chroma is None:
        return (luminance * np.float32(peak) + np.float32(0.5))[..., None]
    return cv2.transform(np.concatenate([luminance[..., None], chroma], axis=2), affine)


def upscale_picture(
    picture: Picture,
    scale: int = 2,
    model: str = "auto",
    tile: int | None = None,
    progress: Progress | None = None,
    precision: str | None = None,
    strength: float | None = None,
    ensemble: bool = False,
) -> tuple[Picture, Report]:
    """Upscale a Picture; returns the new Picture (same mode and bit depth) and a Report.

    The network runs on luminance (BT.601 Y, or the grey channel); colour difference and alpha
    are upscaled with the same bicubic and re-attached; 16-bit stays 16-bit. ``strength`` (0..1,
    revive only; None: from the damage estimate) is how much damage the revive model removes.
    ``ensemble`` averages the network over the 8 mirrored and rotated copies of the photo (8x the
    time, a little sharper and cleaner; ``revive_core.models.SelfEnsemble``).
    """
    validate_settings(scale, tile, model, strength)
    started = time.perf_counter()
    damage = estimate_damage(picture.pixels) if model in ("auto",) + RESTORE_MODELS else None
    selection = choose(picture.width, picture.height, scale, model, precision, damage)
    runner = get_runner(selection.model, scale, precision)
    if ensemble:
        runner = SelfEnsemble(runner)
    conditioned = runner.channels == 2
    if conditioned and strength is None:
        strength = suggest_strength(damage) if damage is not None else 1.0
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
    if conditioned and chroma is not None and strength > 0:
        chroma = denoise_chroma(chroma, strength)
    upscaled = upsample(luminance / np.float32(255.0), scale)[..., None]
    if conditioned:  # the revive model reads the strength as a constant second plane
        upscaled = np.concatenate([upscaled, np.full_like(upscaled, np.float32(strength))], axis=2)
    tile_size = DEFAULT_TILE if tile is None else tile
    tiles: list[int] = [0]

    def on_tile(done: int, total: int) -> None:
        tiles[0] = total
        if progress is not None:
            progress(done, total)

    restored = tiled_apply(upscaled, runner, runner.context, 1, tile_size or None, progress=on_tile,
                           alignment=runner.alignment)[..., 0]
    del upscaled
    # Repairing a JPEG without enlarging it: the file's quantised coefficients bound where the
    # original can be, so the restoration is projected into those bounds (never further from it).
    jpeg_quality = None
    if conditioned and scale == 1 and strength > 0 and damage is not None and damage.jpeg_grid is not None:
        jpeg_quality = damage.jpeg_quality_guess
        restored = project_to_jpeg(restored * np.float32(255.0), luminance, jpeg_quality, damage.jpeg_grid) / np.float32(255.0)
    out_height, out_width = restored.shape
    channels = pixels.shape[2]
    result = np.empty((out_height, out_width, channels), pixels.dtype)
    chroma_up = upsample(chroma, scale) if chroma is not None else None
    alpha_up = upsample(pixels[..., colour_channels:].astype(np.float32) * to_unit, scale) if channels in (2, 4) else None
    to_output = _output_transform(peak)
    for top in range(0, out_height, STRIP_ROWS):
        rows = slice(top, min(out_height, top + STRIP_ROWS))
        strip = _to_output_strip(restored[rows], None if chroma_up is None else chroma_up[rows], to_output, peak)
        if alpha_up is not None:
            alpha = alpha_up[rows].reshape(strip.shape[0], strip.shape[1], -1) * np.float32(peak / 255.0) + np.float32(0.5)
            strip = np.concatenate([strip, alpha], axis=2)
        # clip(x, 0, peak) + 0.5, truncated: round half up (the 0.5 is already in ``strip``)
        np.clip(strip, 0.5, peak + 0.5, out=strip)
        result[rows] = strip.astype(pixels.dtype)
    seconds = time.perf_counter() - started
    report = Report(
        model=selection.model, reason=selection.reason, scale=scale,
        input_size=(picture.width, picture.height), output_size=(out_width, out_height),
        seconds=seconds, precision=runner.precision, tiles=tiles[0], warnings=list(picture.warnings),
        strength=strength if conditioned else None, damage=damage.reason if damage is not None else "",
        ensemble=ensemble, jpeg_quality=jpeg_quality,
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
    strength: float | None = None,
    ensemble: bool = False,
) -> Image.Image | np.ndarray:
    """Upscale a PIL image or a numpy array; returns the same kind.

    Args:
        image: PIL image (any mode Pillow opens; EXIF orientation applied) or numpy array
            (height, width) / (height, width, 1|2|3|4), uint8 or uint16 (L, LA, RGB, RGBA).
        scale: 2, 3 or 4; 1 (restore only) with the revive model.
        model: "auto" or an installed family from ``list_models()`` ("srcnn", "vdsr", "revive").
        tile: tile side in pixels (output resolution); 0 for none; None for the default.
        progress: ``progress(done_tiles, total_tiles)`` after each tile.
        precision: "auto", "bf16" or "fp32" (default: ``$REVIVE_PRECISION``, then the CPU).
        strength: revive only, 0 (gentle) .. 1 (strongest restoration); None: from the damage estimate.
        ensemble: average 8 mirrored/rotated passes (8x the time, slightly better).

    Returns:
        PIL image in: PIL image out (16-bit grey stays I;16). Array in: array out, same dtype
        and number of dimensions, ``scale`` times larger.
    """
    if isinstance(image, Image.Image):
        picture = imageio.from_pil(image)
        output, _ = upscale_picture(picture, scale, model, tile, progress, precision, strength, ensemble)
        return imageio.to_pil(output)
    array = np.asarray(image)
    if array.dtype not in (np.uint8, np.uint16):
        raise UsageError(f"arrays must be uint8 or uint16, not {array.dtype}")
    squeeze = array.ndim == 2
    if squeeze:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise UsageError(f"arrays must be (height, width) or (height, width, 1-4 channels), not {array.shape}")
    output, _ = upscale_picture(Picture(np.ascontiguousarray(array)), scale, model, tile, progress, precision, strength,
                                ensemble)
    return output.pixels[..., 0] if squeeze else output.pixels
