"""Estimate how damaged a photo is: sensor/film noise and JPEG blocking. Pure numpy/OpenCV.

``estimate_damage(pixels)`` measures, on an 8-bit image:

* **noise sigma** (8-bit levels, per colour channel): Immerkær's fast estimator (the 3x3 mask
  [[1,-2,1],[-2,4,-2],[1,-2,1]], whose response to white noise of sigma s has mean absolute
  value s * 6 * sqrt(2/pi)) evaluated per 16x16 block; the 2nd percentile of the block values,
  times a calibration factor, keeps edges and texture out (smooth regions exist in almost every
  photo). Blocks with clipped pixels (0..2, 253..255) are left out. The median over R, G, B is
  reported, so colour noise of sigma s reads s, not the 0.57 s it leaves on luminance.
* **blockiness**: JPEG quantises 8x8 blocks separately, so steps appear across block boundaries
  in otherwise flat areas. Among pixel pairs whose neighbouring differences on both sides are
  at most 2 levels ("flat"), the mean step at each of the 8 grid phases is compared with the
  median of the other seven: (step at phase + 0.1) / (median + 0.1). The best phase is used, so
  cropped JPEGs (shifted grid) count too, less ``SHIFTED_GRID_PENALTY`` (the best of seven
  shifted phases often beats the aligned one by chance). Horizontal and vertical steps are
  measured separately and averaged. About 1.0 for clean images; 1.5 at quality 90, 2.3 at 70,
  3.6 at 40 and 4.3 at 30 (medians on real photos; single images vary by about ±25 %).
* **JPEG quality** (``revive_core.jpeg.estimate_jpeg_quality``): read from the quantisation steps
  of the 8x8 DCT coefficients, exactly for libjpeg's tables, whatever the content; when no grid
  is found (not a JPEG, or resized since), the blockiness above gives a rough guess instead.

Thresholds and calibration were set on Set5/Set14 and 30 T91/General100 photos, clean and
degraded (see ``train/evaluate_degraded.py --damage``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from revive_core.colour import eight_bit_levels, image_array
from revive_core.jpeg import JFIF_LUMA, estimate_jpeg_quality

LOGGER = logging.getLogger(__name__)

NOISE_THRESHOLD = 7.0  # sigma (levels) above which a photo counts as noisy (clean baboon fur reads 6)
BLOCKINESS_THRESHOLD = 1.6  # blockiness above which a photo counts as JPEG-blocky
NOISE_BLOCK = 16
NOISE_PERCENTILE = 2.0
NOISE_CALIBRATION = 1.18  # 2nd-percentile bias on white Gaussian noise (measured: 15 reads 12.7)
FLAT_STEP = 2.0  # levels: neighbouring differences at most this make a pair "flat"
MIN_FLAT_PAIRS = 25  # fewer flat pairs per phase on average: blockiness is not measurable (1.0 reported)
MIN_PHASE_PAIRS = 10  # a phase with fewer flat pairs cannot be the grid
SHIFTED_GRID_PENALTY = 0.3  # subtracted from the ratio of a phase other than the aligned 7
SUBSAMPLE_PIXELS = 500_000  # above this, blockiness reads every other line (half the time)
MAX_PIXELS = 4_000_000  # larger images are measured on a grid of 512x512 crops
CROP = 512
NOISE_STRENGTH_GAIN = 1.4  # suggest_strength: strength per (sigma / 25); fitted, see below
JPEG_STRENGTH_GAIN = 1.5  # suggest_strength: strength per ((95 - quality) / 75); fitted, see below
JPEG_DAMAGE_QUALITY = 85.0  # a JPEG found by its quantisation steps counts as damaged at this quality or below
# (blockiness, JPEG quality): medians over 49 photos (Set5, Set14, 30 of T91/General100) per quality.
QUALITY_CALIBRATION = (
    (1.19, 95.0), (1.48, 90.0), (1.92, 80.0), (2.31, 70.0), (2.71, 60.0), (3.00, 50.0), (3.60, 40.0), (4.35, 30.0), (6.22, 20.0),
)
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


@dataclass(frozen=True)
class DamageEstimate:
    """What ``estimate_damage`` found.

    noise_sigma: per-channel noise standard deviation in 8-bit levels (about 0-3 for clean photos).
    blockiness: JPEG block-boundary ratio, about 1.0 clean, above ``BLOCKINESS_THRESHOLD`` blocky.
    jpeg_quality_guess: the JPEG quality read from the quantisation steps (exact for libjpeg's
        tables), else the one the blockiness suggests (rough, ±15); None when not a damaging JPEG.
    damaged: noisy or blocky by the thresholds above.
    reason: one sentence for the user, with the numbers.
    jpeg_grid: (row, column) offset of the 8x8 grid when the quality was read from the
        quantisation steps (then exact: ``revive_core.jpeg.project_to_jpeg`` may use it), else None.
    """

    noise_sigma: float
    blockiness: float
    jpeg_quality_guess: float | None
    damaged: bool
    reason: str
    jpeg_grid: tuple[int, int] | None = None


def _crops(image: np.ndarray) -> list[np.ndarray]:
    """The image itself, or for large images a grid of CROP x CROP crops at multiples of 8."""
    height, width = image.shape[:2]
    if height * width <= MAX_PIXELS:
        return [image]
    count = max(1, int(MAX_PIXELS // (CROP * CROP)))
    side = int(np.ceil(np.sqrt(count)))
    tops = np.linspace(0, max(0, height - CROP), side).astype(int) // 8 * 8
    lefts = np.linspace(0, max(0, width - CROP), side).astype(int) // 8 * 8
    return [image[top : top + CROP, left : left + CROP] for top in tops for left in lefts]


def _block_noise(channel: np.ndarray) -> np.ndarray:
    """Immerkær sigma of every NOISE_BLOCK x NOISE_BLOCK block of a 2-D float32 channel (unclipped blocks)."""
    response = np.abs(cv2.filter2D(channel, -1, _IMMERKAER, borderType=cv2.BORDER_REFLECT))
    block = NOISE_BLOCK if min(channel.shape) >= 4 * NOISE_BLOCK else 4
    rows, columns = channel.shape[0] // block, channel.shape[1] // block
    if rows == 0 or columns == 0:
        return np.sqrt(np.pi / 2.0) / 6.0 * response.reshape(1, -1).mean(axis=1)
    area = (slice(0, rows * block), slice(0, columns * block))
    means = cv2.resize(response[area], (columns, rows), interpolation=cv2.INTER_AREA)
    clipped = ((channel[area] <= 2.0) | (channel[area] >= 253.0)).astype(np.float32)
    clipped_share = cv2.resize(clipped, (columns, rows), interpolation=cv2.INTER_AREA)
    sigmas = np.sqrt(np.pi / 2.0) / 6.0 * means.reshape(-1)
    usable = clipped_share.reshape(-1) < 0.05
    return sigmas[usable] if usable.any() else sigmas


def _measured_crops(pixels: np.ndarray) -> list[np.ndarray]:
    """``_crops`` of (H, W[, C]) pixels, each converted by ``eight_bit_levels`` to (h, w, 1 or 3) float32.

    Cropped before converting, so a large photo is never copied whole (a 12 MP one would take
    144 MB as float32; the crops take at most ``MAX_PIXELS`` x 12 bytes).
    """
    return [eight_bit_levels(crop) for crop in _crops(image_array(pixels))]


def _noise_of(crops: list[np.ndarray]) -> float:
    estimates = []
    for channel in range(crops[0].shape[2]):
        values = np.concatenate([_block_noise(np.ascontiguousarray(crop[..., channel])) for crop in crops])
        estimates.append(float(np.percentile(values, NOISE_PERCENTILE)) * NOISE_CALIBRATION)
    return float(np.median(estimates))


def estimate_noise(pixels: np.ndarray) -> float:
    """Noise sigma (8-bit levels, per channel) of (H, W[, C]) uint8/uint16 pixels; see the module text."""
    return _noise_of(_measured_crops(pixels))


def _phase_profile(luminance: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Summed flat-area steps along ``axis`` and their counts at the 8 grid phases.

    Phase p is the step between pixel x and x + 1 with x % 8 == p (p = 7: an aligned JPEG
    block boundary). Above ``SUBSAMPLE_PIXELS`` every other line across ``axis`` is used.
    """
    stride = 2 if luminance.size > SUBSAMPLE_PIXELS else 1
    lines = luminance[:, ::stride] if axis == 0 else luminance[::stride, :]
    if lines.shape[axis] < 12:
        return np.zeros(8), np.zeros(8)
    differences = np.abs(np.diff(lines, axis=axis))
    length = differences.shape[axis]
    take = (lambda start, stop: differences[start:stop]) if axis == 0 else (lambda start, stop: differences[:, start:stop])
    flat = np.maximum(take(0, length - 2), take(2, length)) <= FLAT_STEP
    other = 1 - axis
    steps_along = np.where(flat, take(1, length - 1), np.float32(0.0)).sum(axis=other, dtype=np.float64)
    counts_along = flat.sum(axis=other, dtype=np.float64)
    # Middle entry j is the step between pixels j + 1 and j + 2 (x = j + 1): phase (j + 1) % 8.
    phases = (np.arange(length - 2) + 1) % 8
    return np.bincount(phases, steps_along, 8), np.bincount(phases, counts_along, 8)


def _phase_ratio(steps: np.ndarray, counts: np.ndarray) -> tuple[float, int] | None:
    """(best ratio, its phase) of a profile, or None when there are too few flat pairs."""
    if counts.sum() < 8 * MIN_FLAT_PAIRS:
        return None
    means = steps / np.maximum(counts, 1.0)
    ratios = [(means[phase] + 0.1) / (float(np.median(np.delete(means, phase))) + 0.1) for phase in range(8)]
    # Seven shifted phases get a look-elsewhere penalty: by chance one of them often beats the aligned one.
    # A phase needs MIN_PHASE_PAIRS flat pairs to count (steps at JPEG boundaries make their
    # neighbours' pairs rarely flat, so only the totals are required to be large).
    scores = [ratio - (0.0 if phase == 7 else SHIFTED_GRID_PENALTY) if counts[phase] >= MIN_PHASE_PAIRS else 0.0
              for phase, ratio in enumerate(ratios)]
    phase = int(np.argmax(scores))
    return max(1.0, float(scores[phase])), phase


def estimate_blockiness(pixels: np.ndarray) -> tuple[float, tuple[int, int]]:
    """(blockiness, (row phase, column phase) of the grid) of (H, W[, C]) pixels.

    Horizontal and vertical steps are measured separately (a cropped JPEG's grid can be shifted
    differently in x and y) and their best-phase ratios averaged; about 1.0 when no grid shows.
    """
    return _blockiness_of(_measured_crops(pixels))


def _blockiness_of(crops: list[np.ndarray]) -> tuple[float, tuple[int, int]]:
    profiles = [[np.zeros(8), np.zeros(8)], [np.zeros(8), np.zeros(8)]]
    for crop in crops:
        luminance = np.ascontiguousarray(crop[..., 0]) if crop.shape[2] == 1 else crop @ JFIF_LUMA
        for axis in (0, 1):
            steps, counts = _phase_profile(luminance, axis)
            profiles[axis][0] += steps
            profiles[axis][1] += counts
    found = [_phase_ratio(*profiles[axis]) for axis in (0, 1)]
    measured = [item for item in found if item is not None]
    if not measured:
        return 1.0, (7, 7)
    blockiness = float(np.mean([ratio for ratio, _ in measured]))
    phases = tuple(item[1] if item is not None else 7 for item in found)
    return blockiness, (phases[0], phases[1])


def quality_from_blockiness(blockiness: float) -> float | None:
    """Rough JPEG quality (20..95) for a blockiness, from ``QUALITY_CALIBRATION``; None below the threshold."""
    if blockiness < BLOCKINESS_THRESHOLD:
        return None
    levels = np.array([level for level, _ in QUALITY_CALIBRATION])
    qualities = np.array([quality for _, quality in QUALITY_CALIBRATION])
    return float(np.interp(blockiness, levels, qualities))


def suggest_strength(estimate: DamageEstimate) -> float:
    """Revive strength 0..1 for the damage found: the larger of ``NOISE_STRENGTH_GAIN`` x sigma / 25
    and ``JPEG_STRENGTH_GAIN`` x (95 - quality) / 75.

    sigma / 25 and (95 - quality) / 75 are where the damage sits in the range the revive model was
    trained on (``train.degrade``: strength s means noise up to 25 s levels, JPEG quality down to
    95 - 75 s); the gains maximise the mean PSNR of cases (a)-(c) on 10 General100 photos (every
    10th; not the benchmark sets): ``python -m train.evaluate_degraded --calibrate --sets DIR``.
    """
    from_noise = NOISE_STRENGTH_GAIN * estimate.noise_sigma / 25.0 if estimate.noise_sigma >= NOISE_THRESHOLD else 0.0
    from_jpeg = (JPEG_STRENGTH_GAIN * (95.0 - estimate.jpeg_quality_guess) / 75.0
                 if estimate.jpeg_quality_guess is not None else 0.0)
    return float(np.clip(max(from_noise, from_jpeg), 0.0, 1.0))


def estimate_damage(pixels: np.ndarray) -> DamageEstimate:
    """Noise and JPEG blocking of an image.

    Args:
        pixels: (height, width) or (height, width, 1-4) uint8 (or uint16, scaled to 8 bits);
            RGB(A) or grey(+alpha); alpha is ignored.

    Returns:
        A DamageEstimate; ``damaged`` when sigma > ``NOISE_THRESHOLD`` or the photo is a JPEG of
        quality at most ``JPEG_DAMAGE_QUALITY`` (read from its quantisation steps; when they are not
        found, blockiness > ``BLOCKINESS_THRESHOLD``), and ``reason`` says which, with the numbers.
    """
    crops = _measured_crops(pixels)  # converted once for the noise and blockiness estimators
    noise_sigma = _noise_of(crops)
    blockiness, phases = _blockiness_of(crops)
    del crops
    quantised, grid = estimate_jpeg_quality(pixels)  # reads (and converts) its own central region
    if quantised is not None:  # the steps prove a JPEG and give its quality; blockiness is only a guess
        quality: float | None = quantised if quantised <= JPEG_DAMAGE_QUALITY else None
        blocky = quality is not None
    else:
        quality = quality_from_blockiness(blockiness)
        blocky = blockiness > BLOCKINESS_THRESHOLD
    noisy = noise_sigma > NOISE_THRESHOLD
    findings = []
    if blocky and quantised is not None:
        shifted = "" if grid == (0, 0) else " (grid shifted: a cropped JPEG)"
        findings.append(f"JPEG quality {quality:.0f}, read from its compression steps{shifted}")
    elif blocky:
        shifted = "" if phases == (7, 7) else " (grid shifted: a cropped JPEG)"
        findings.append(f"JPEG blocking {blockiness:.1f}x, like quality ~{quality:.0f}{shifted}")
    if noisy:
        findings.append(f"noise sigma ~{noise_sigma:.0f} levels")
    if findings:
        reason = "Damage found: " + " and ".join(findings) + "."
    elif quantised is not None:
        reason = (f"Looks clean: a light JPEG (quality {quantised:.0f}), noise sigma ~{noise_sigma:.1f} levels "
                  f"(threshold {NOISE_THRESHOLD:.0f}).")
    else:
        reason = (f"Looks clean: noise sigma ~{noise_sigma:.1f} levels (threshold {NOISE_THRESHOLD:.0f}), "
                  f"blockiness {blockiness:.2f} (threshold {BLOCKINESS_THRESHOLD}).")
    estimate = DamageEstimate(noise_sigma, blockiness, quality, noisy or blocky, reason,
                              grid if quantised is not None and blocky else None)
    LOGGER.debug("damage estimate: %s", estimate)
    return estimate
