"""JPEG knowledge from decoded pixels: libjpeg's quantisation tables, the quality (and grid)
of a decoded JPEG read from its DCT coefficients, and the projection of a restored luminance
back onto the set of images that JPEG file could have come from.

A decoded JPEG's 8x8 DCT coefficients of luminance sit on multiples of its quantisation table,
whatever the content, so the quality is found on textured photos (where blockiness under-reads)
and tiny ones too. ``estimate_jpeg_quality`` tests the aligned grid, and for a cropped JPEG the
offset where most high-frequency coefficients are zero; the quality is the IJG (libjpeg) table
that explains the coefficients best by a likelihood ratio against chance, checked by the contrast
between coefficients on the steps and half-way between them. Exact on photos saved by libjpeg
(Pillow, OpenCV, most software) and a close guess for other tables; nothing is found once the
JPEG was resized or noised.

``project_to_jpeg`` is the classic quantisation-constraint projection (Zakhor 1992; Yang, Galatsanos
and Katsaggelos 1993): each coefficient of the restored image is clipped to the interval its
quantised value stands for. The true image lies in that set, which is convex, so the projection
can only bring a restoration closer to it (in the 8x8-block DCT of luminance, which is orthonormal).
"""

from __future__ import annotations

import numpy as np

from revive_core.colour import eight_bit_levels, image_array

JFIF_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # JPEG's luminance weights, as libjpeg computes it
QUANTISATION_BLOCKS = 768  # at most this many 8x8 blocks (evenly spread) are read for the quality
QUANTISATION_PHASE_BLOCKS = 256  # ... and this many to rank the 64 grid offsets of a cropped JPEG
QUANTISATION_PHASE_CONTRAST = 1.4  # see estimate_jpeg_quality
QUANTISATION_COEFFICIENTS = 28  # zigzag coefficients 1..27 are read (DC: see _quality_evidence; the rest are mostly 0)
QUANTISATION_TOLERANCE = 1.0  # |coefficient - nearest multiple of the step| that counts as on the grid
QUANTISATION_MIN_EVIDENCE = 40.0  # log-likelihood ratio (nats) a quality needs over chance to be reported
QUANTISATION_MIN_ON = 20  # coefficients on the winning grid (steps >= 5) needed to report it
QUANTISATION_CONTRAST = 2.0  # ... and at least this many times as many as half-way between steps
QUANTISATION_MIN_FIT = 0.6  # share of non-zero coefficients on the grid a quality needs
# The IJG luminance table (JPEG standard, Annex K), row-major; scaled per quality as libjpeg does.
_IJG_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64).reshape(8, 8)


def ijg_table(quality: int) -> np.ndarray:
    """(8, 8) float64 luminance quantisation steps libjpeg uses at ``quality`` 1..100 (baseline, 1..255)."""
    scaling = 5000.0 / quality if quality < 50 else 200.0 - 2.0 * quality
    return np.clip(np.floor((_IJG_LUMINANCE * scaling + 50.0) / 100.0), 1.0, 255.0)


def _dct_matrix() -> np.ndarray:
    """(8, 8) float64 orthonormal DCT-II matrix: JPEG's forward DCT of a block B is M @ B @ M.T."""
    index = np.arange(8)
    matrix = np.sqrt(2.0 / 8.0) * np.cos((2 * index[None, :] + 1) * index[:, None] * np.pi / 16.0)
    matrix[0] /= np.sqrt(2.0)
    return matrix


def _dct_basis() -> np.ndarray:
    """(64, 64) float64: row 8u+v gives coefficient (u, v) of JPEG's orthonormal 8x8 DCT-II from a
    row-major flattened block (the Kronecker product of the 1-D DCT matrix with itself)."""
    return np.kron(_dct_matrix(), _dct_matrix())


_ZIGZAG = sorted(range(64), key=lambda flat: (flat // 8 + flat % 8, flat // 8 if (flat // 8 + flat % 8) % 2 else flat % 8))
_QUALITY_ZIGZAG = _ZIGZAG[1:QUANTISATION_COEFFICIENTS]  # AC only: a flat block's DC is off by up to 8 x 0.5 (rounding)
_BASIS = _dct_basis()
_QUALITY_BASIS = _BASIS[_QUALITY_ZIGZAG].T  # (64, K)
_HIGH_BASIS = _BASIS[[flat for flat in range(64) if flat // 8 + flat % 8 >= 6]].T  # (64, 43)
# (200, K): qualities 1..100, then the same tables transposed (a photo turned by 90 degrees, e.g.
# by its EXIF orientation, has its blocks and so its table transposed).
_TABLES = [ijg_table(quality) for quality in range(1, 101)]
_IJG_TABLES = np.stack([table.reshape(-1)[_QUALITY_ZIGZAG] for table in _TABLES + [table.T for table in _TABLES]]).astype(np.float32)


def _distinct_steps(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (coefficient, step) pairs of (T, K) tables: (P,) coefficient, (P,) step, and
    (T, K) the pair each table entry is. Many qualities share a step at a coefficient, so testing
    each pair once is 2.5x less work than testing every table (5,400 entries, 2,148 pairs)."""
    columns, steps, index = [], [], np.empty(tables.shape, np.int64)
    for column in range(tables.shape[1]):
        distinct, inverse = np.unique(tables[:, column], return_inverse=True)
        index[:, column] = len(steps) + inverse.reshape(-1)
        columns += [column] * len(distinct)
        steps += list(distinct)
    return np.array(columns), np.array(steps, np.float32), index


_PAIR_COLUMNS, _PAIR_STEPS, _PAIR_INDEX = _distinct_steps(_IJG_TABLES)


def _blocks(luminance: np.ndarray, unclipped: np.ndarray, top: int, left: int, limit: int) -> np.ndarray:
    """(N, 64) float64: at most ``limit`` evenly spread unclipped 8x8 blocks of ``luminance``
    (0..255) on the grid starting at (top, left), flattened row-major, minus JPEG's level shift 128."""
    count_rows, count_columns = (luminance.shape[0] - top) // 8, (luminance.shape[1] - left) // 8
    if count_rows <= 0 or count_columns <= 0:
        return np.empty((0, 64))
    area = (slice(top, top + 8 * count_rows), slice(left, left + 8 * count_columns))

    total = count_rows * count_columns
    chosen = np.linspace(0, total - 1, limit).astype(int) if total > limit else np.arange(total)
    block_rows, block_columns = np.divmod(chosen, count_columns)

    def tiles(plane: np.ndarray) -> np.ndarray:  # (chosen blocks, 64), each row-major, read through a 4-D view
        return plane[area].reshape(count_rows, 8, count_columns, 8)[block_rows, :, block_columns, :].reshape(-1, 64)

    values, keep = tiles(luminance), tiles(unclipped).all(axis=1)
    return values[keep] - 128.0


def _quality_evidence(coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(200,) log-likelihood ratio of the IJG tables (qualities 1..100, then transposed) against
    chance, and (200,) share of fit, from (N, K) zigzag coefficients.

    For each table and coefficient with step t >= 3, a coefficient that quantises to non-zero
    is "on the grid" when within ``QUANTISATION_TOLERANCE`` of a multiple of t; by uniform chance
    that happens with probability p = 2 tol / t, for the right table about 0.9 of the time. This
    ranks the tables (and prefers the coarsest that fits); ``_grid_contrast`` then tests the winner.
    """
    chance = 2.0 * QUANTISATION_TOLERANCE / _IJG_TABLES  # (200, K)
    usable = (_IJG_TABLES >= 3) & (chance <= 0.8)
    # Each distinct (coefficient, step) pair is tested once, then read by every table that has it.
    values = coefficients.astype(np.float32)[:, _PAIR_COLUMNS]  # (N, P)
    nonzero = np.abs(values) >= _PAIR_STEPS / 2.0
    on_grid = nonzero & (np.abs(values - _PAIR_STEPS * np.round(values / _PAIR_STEPS)) <= QUANTISATION_TOLERANCE)
    hits = np.where(usable, on_grid.sum(axis=0)[_PAIR_INDEX], 0)  # (200, K)
    total = np.where(usable, nonzero.sum(axis=0)[_PAIR_INDEX], 0)
    chance = np.clip(chance, 1e-6, 0.8)
    evidence = np.sum(hits * np.log(0.9 / chance) + (total - hits) * np.log(0.1 / (1.0 - chance)), axis=1)
    fit_share = hits.sum(axis=1) / np.maximum(1, total.sum(axis=1))
    return evidence, fit_share


def _grid_contrast(coefficients: np.ndarray, steps: np.ndarray) -> tuple[int, int]:
    """(on, off): coefficients within ``QUANTISATION_TOLERANCE`` of a non-zero multiple k t of
    their step, and of a half-way point (k - 1/2) t, over the (N, K) coefficients whose step
    t >= 5 (so the windows do not overlap). A real grid puts nearly all of them on; with no grid,
    off >= on for the usual falling distribution of coefficient sizes (off sits nearer zero)."""
    usable = steps >= 4.0 * QUANTISATION_TOLERANCE + 1.0
    values, step = np.abs(coefficients[:, usable]), steps[usable]
    multiple = values / step
    on = (multiple >= 0.5) & (np.abs(values - step * np.round(multiple)) <= QUANTISATION_TOLERANCE)
    halfway = np.floor(multiple) + 0.5
    off = np.abs(values - step * halfway) <= QUANTISATION_TOLERANCE
    return int(on.sum()), int(off.sum())


def estimate_jpeg_quality(pixels: np.ndarray) -> tuple[float | None, tuple[int, int]]:
    """(IJG quality 1..100 or None, (row, column) offset of the 8x8 grid) of a decoded JPEG.

    ``pixels``: (H, W[, C]) uint8/uint16 as for ``estimate_damage``. None when the luminance
    coefficients do not sit on any IJG table's steps (not a JPEG, or resized/noised since, or
    quality above ~95, where the steps are too fine to tell). See the module text.
    """
    array = image_array(pixels)
    # A central region of at most 1024 x 1024 keeps the cost and memory bounded (it is cut out
    # before any conversion); its corner stays on the 8-grid.
    top = max(0, (array.shape[0] - 1024) // 16 * 8)
    left = max(0, (array.shape[1] - 1024) // 16 * 8)
    image = eight_bit_levels(array[top : top + 1024, left : left + 1024])
    luminance = image[..., 0].astype(np.float64) if image.shape[2] == 1 else image.astype(np.float64) @ JFIF_LUMA.astype(np.float64)
    unclipped = ((image > 0) & (image < 255)).all(axis=2)
    if min(luminance.shape) < 16:
        return None, (0, 0)
    found = _quality_at(luminance, unclipped, 0, 0)
    if found is not None:
        return found, (top % 8, left % 8)
    # A cropped JPEG: its grid is where most high-frequency coefficients are zero (one matrix
    # product for all 64 offsets: many small ones are slow when BLAS threads compete). Only an
    # offset that stands out from the others (more than ``QUANTISATION_PHASE_CONTRAST`` times
    # fewer non-zeros than the median offset) is worth the full test.
    blocks = [_blocks(luminance, unclipped, row, column, QUANTISATION_PHASE_BLOCKS) for row in range(8) for column in range(8)]
    bounds = np.cumsum([0] + [len(item) for item in blocks])
    zero = np.abs(np.concatenate(blocks) @ _HIGH_BASIS) < 0.5
    nonzero_shares = np.array([1.0 - float(zero[start:stop].mean()) if stop > start else 1.0
                               for start, stop in zip(bounds[:-1], bounds[1:])])
    candidate = int(np.argmin(nonzero_shares))
    if candidate == 0 or np.median(nonzero_shares) < QUANTISATION_PHASE_CONTRAST * nonzero_shares[candidate]:
        return None, (top % 8, left % 8)
    row, column = divmod(candidate, 8)
    return _quality_at(luminance, unclipped, row, column), ((top + row) % 8, (left + column) % 8)


def _quality_at(luminance: np.ndarray, unclipped: np.ndarray, row: int, column: int) -> float | None:
    """The IJG quality whose table the 8x8 blocks on the grid at (row, column) fit, or None when
    the evidence, the share that fits or the on/off contrast (``_grid_contrast``) falls short."""
    coefficients = _blocks(luminance, unclipped, row, column, QUANTISATION_BLOCKS) @ _QUALITY_BASIS
    evidence, fit_share = _quality_evidence(coefficients)
    best = int(np.argmax(evidence))
    on, off = _grid_contrast(coefficients, _IJG_TABLES[best])
    if (evidence[best] < QUANTISATION_MIN_EVIDENCE or fit_share[best] < QUANTISATION_MIN_FIT
            or on < QUANTISATION_MIN_ON or on < QUANTISATION_CONTRAST * off):
        return None
    return float(best % 100 + 1)


PROJECTION_MARGIN = 0.5  # levels the intervals are widened by: the encoder's Y was rounded to integers
PROJECTION_ROWS = 512  # rows per strip (a multiple of 8): bounded memory at any size


def project_to_jpeg(restored: np.ndarray, decoded: np.ndarray, quality: float, grid: tuple[int, int]) -> np.ndarray:
    """Clip a restoration's luminance DCT to the intervals the JPEG's quantised coefficients allow.

    Args:
        restored: (H, W) float32 BT.601 Y on 0..255 (16..235), the restored photo (same size).
        decoded: (H, W) float32 BT.601 Y on 0..255 of the decoded JPEG it was restored from.
        quality: the IJG quality of the file (``estimate_jpeg_quality``).
        grid: (row, column) offset of the 8x8 grid in both images.

    Returns:
        (H, W) float32: ``restored`` with every whole 8x8 block on the grid projected; pixels of
        partial blocks at the edges are left as they were.
    """
    # JPEG codes full-range Y - 128; BT.601 Y is 16 + 219/255 of full-range Y, so work in that
    # scale: coefficient steps become 219/255 of the table's, the level shift 16 + 128 x 219/255.
    steps = (ijg_table(int(round(quality))) * (219.0 / 255.0)).reshape(1, 1, 8, 8)
    margin = PROJECTION_MARGIN * 219.0 / 255.0
    shift = 16.0 + 128.0 * 219.0 / 255.0
    matrix = _dct_matrix()
    output = np.array(restored, dtype=np.float32, copy=True)
    row, column = grid
    height = (restored.shape[0] - row) // 8 * 8
    width = (restored.shape[1] - column) // 8 * 8
    if height <= 0 or width <= 0:
        return output
    for top in range(row, row + height, PROJECTION_ROWS):
        bottom = min(row + height, top + PROJECTION_ROWS)
        area = (slice(top, bottom), slice(column, column + width))

        def blocks(plane: np.ndarray) -> np.ndarray:
            values = plane[area].astype(np.float64) - shift
            return values.reshape((bottom - top) // 8, 8, width // 8, 8).swapaxes(1, 2)

        quantised = np.round((matrix @ blocks(decoded) @ matrix.T) / steps) * steps
        coefficients = matrix @ blocks(restored) @ matrix.T
        projected = np.clip(coefficients, quantised - steps / 2.0 - margin, quantised + steps / 2.0 + margin)
        pixels = (matrix.T @ projected @ matrix).swapaxes(1, 2).reshape(bottom - top, width) + shift
        output[area] = pixels.astype(np.float32)
    return output
