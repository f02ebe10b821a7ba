"""Realistic photo damage for training and benchmarking the revive (restoration) models.

Every function takes uint8 RGB (height, width, 3) or grey (height, width) images on 0..255 and
returns uint8 of the same layout; randomness comes only from the ``numpy.random.Generator``
passed in, so a result is a pure function of (image, seed).

``degrade`` draws a *strength* s in 0..1 and then a random chain of damage whose severity is
bounded by s (``DegradationConfig`` documents the bounds):

* blur: isotropic or anisotropic (rotated) Gaussian, sigma <= 0.1 + 2.9 s pixels (or only above
  a strength threshold, ``blur_above_strength``, so that lower strengths never guess at blur);
* downscaling by the training scale: MATLAB bicubic, bilinear or area (never for x1);
* noise: Gaussian (per-channel colour or grey) or Poisson (shot noise, colour or grey), sigma at
  mid-grey <= 25 s levels;
* JPEG: quality between 95 - 75 s and 95 (so 20..95 over all strengths), 4:2:0 like cameras.

Blur, downscaling and noise come in a random order; JPEG is last (the file format) with
probability ``jpeg_last_probability``, else anywhere in the chain. The model is trained with s
as an input plane, so at inference s is the "damage is at most this bad" knob: 0 = only the
clean upscale, 1 = blind restoration of the worst damage seen in training.

The fixed benchmark degradations of the revive evaluation are ``benchmark_x2_noise8_jpeg40`` (a),
``benchmark_x1_jpeg30`` (b), ``benchmark_x1_noise15`` (c) and, for x4 models,
``benchmark_x4_noise8_jpeg40`` (d); ``BENCHMARK_CASES`` names them.
``DegradingPatchSampler`` streams degraded training patches with the interface of
``train.pipeline.PatchSampler`` (batches are a pure function of (seed, batch index)).
"""

from __future__ import annotations

import logging
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

import cv2
import numpy as np

from revive_core.colour import rgb_to_y
from revive_core.resize import imresize, upsample
from revive_core.tiling import reflect_indices

LOGGER = logging.getLogger(__name__)

DOWNSCALE_METHODS = ("bicubic", "bilinear", "area")
NOISE_SIGMA_MAX = 25.0  # 8-bit levels at strength 1
JPEG_QUALITY_RANGE = (20, 95)  # qualities used at strength 1 (the upper end at every strength)
BLUR_SIGMA_RANGE = (0.1, 3.0)  # pixels at strength 0 / 1
LR_MARGIN = 8  # LR pixels of context around a training patch: blur, JPEG blocks, bicubic taps


# ----------------------------------------------------------------------------------------------
# Single degradations
# ----------------------------------------------------------------------------------------------


def gaussian_kernel(sigma_x: float, sigma_y: float | None = None, angle: float = 0.0) -> np.ndarray:
    """Normalised 2-D Gaussian kernel (size, size) float32, rotated by ``angle`` radians.

    ``sigma_x``/``sigma_y`` are the standard deviations (pixels) along the rotated axes; the size
    is 2 * ceil(3 * max sigma) + 1, at most 21.
    """
    sigma_y = sigma_x if sigma_y is None else sigma_y
    radius = min(10, max(1, int(math.ceil(3.0 * max(sigma_x, sigma_y)))))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    x, y = np.meshgrid(offsets, offsets)
    cosine, sine = math.cos(angle), math.sin(angle)
    u = cosine * x + sine * y
    v = -sine * x + cosine * y
    kernel = np.exp(-0.5 * ((u / max(sigma_x, 1e-3)) ** 2 + (v / max(sigma_y, 1e-3)) ** 2))
    return (kernel / kernel.sum()).astype(np.float32)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Round half up and saturate float values on 0..255 to uint8."""
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)


def blur(image: np.ndarray, sigma_x: float, sigma_y: float | None = None, angle: float = 0.0) -> np.ndarray:
    """Gaussian blur (isotropic when ``sigma_y`` is None or equal), mirrored edges; uint8 in/out."""
    kernel = gaussian_kernel(sigma_x, sigma_y, angle)
    blurred = cv2.filter2D(image.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    return _to_uint8(blurred.reshape(image.shape))


def downscale(image: np.ndarray, scale: int, method: str = "bicubic") -> np.ndarray:
    """Shrink by the integer ``scale`` (sides must divide by it): (H, W[, 3]) -> (H/s, W/s[, 3]).

    ``bicubic`` is MATLAB's antialiased ``imresize`` (the SR literature's degradation),
    ``bilinear`` OpenCV's (no antialiasing, aliased like cheap camera scalers), ``area`` box averaging.
    """
    if scale == 1:
        return image.copy()
    height, width = image.shape[:2]
    if height % scale or width % scale:
        raise ValueError(f"image sides {height}x{width} must divide by the scale {scale}")
    if method == "bicubic":
        return imresize(image, 1.0 / scale)
    interpolation = {"bilinear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}.get(method)
    if interpolation is None:
        raise ValueError(f"unknown downscale method {method!r}; known: {', '.join(DOWNSCALE_METHODS)}")
    return cv2.resize(image, (width // scale, height // scale), interpolation=interpolation).reshape(
        (height // scale, width // scale) + image.shape[2:]
    )


def add_gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator, grey: bool = False) -> np.ndarray:
    """Add N(0, sigma^2) (8-bit levels), independent per channel or (``grey``) shared by all."""
    shape = image.shape[:2] + ((1,) if grey and image.ndim == 3 else image.shape[2:])
    noise = rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)
    return _to_uint8(image.astype(np.float32) + noise)


def add_poisson_noise(image: np.ndarray, sigma: float, rng: np.random.Generator, grey: bool = False) -> np.ndarray:
    """Shot noise whose standard deviation is ``sigma`` levels at mid-grey (128), sqrt(level) elsewhere.

    Photons per level are ``128 / sigma**2``; ``grey`` draws the noise on the luminance and adds
    the same deviation to every channel (film grain rather than sensor colour noise).
    """
    if sigma <= 0:
        return image.copy()
    photons = 128.0 / (sigma * sigma)
    values = image.astype(np.float32)
    if grey and image.ndim == 3:
        luminance = values @ np.array([0.299, 0.587, 0.114], np.float32)
        counts = rng.poisson(np.maximum(luminance, 0.0) * photons).astype(np.float32)
        return _to_uint8(values + (counts / np.float32(photons) - luminance)[..., None])
    counts = rng.poisson(np.maximum(values, 0.0) * photons).astype(np.float32)
    return _to_uint8(counts / np.float32(photons))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as baseline JPEG at ``quality`` (1..100) with OpenCV (libjpeg, 4:2:0)."""
    quality = int(np.clip(round(quality), 1, 100))
    colour = image.ndim == 3 and image.shape[2] == 3
    source = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if colour else image
    ok, encoded = cv2.imencode(".jpg", source, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV failed to encode a JPEG")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB) if colour else decoded.reshape(image.shape)


# ----------------------------------------------------------------------------------------------
# Random chains
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DegradationConfig:
    """Probabilities and severity bounds of ``degrade``; severities scale with the strength s.

    Each damage's severity is ``u**severity_exponent * s`` of its maximum with u uniform in 0..1,
    so s bounds it; an exponent below 1 makes heavy damage (old photos) more frequent.
    """

    clean_probability: float = 0.1  # s = 0 and only the downscale: the clean-SR anchor
    blur_probability: float = 0.5
    anisotropic_probability: float = 0.5  # of the blurs
    blur_sigma: tuple[float, float] = BLUR_SIGMA_RANGE
    downscale_methods: tuple[str, ...] = DOWNSCALE_METHODS
    noise_probability: float = 0.7
    poisson_probability: float = 0.3  # of the noises
    grey_noise_probability: float = 0.4  # of the noises
    noise_sigma_max: float = NOISE_SIGMA_MAX
    jpeg_probability: float = 0.7
    jpeg_quality: tuple[int, int] = JPEG_QUALITY_RANGE
    jpeg_last_probability: float = 0.8
    severity_exponent: float = 1.0  # severity = s * u**exponent, u uniform: below 1 favours heavy damage
    blur_above_strength: float = 0.0  # blur only when s exceeds this, at most (s - it) / (1 - it) of its range

    def __post_init__(self) -> None:
        if not 0.0 <= self.blur_above_strength < 1.0:
            raise ValueError(f"blur_above_strength must be in [0, 1), not {self.blur_above_strength}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DegradationConfig":
        """A config from JSON-like ``values`` (lists become tuples); unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown degradation settings: {', '.join(sorted(unknown))}")
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})


def _severity(rng: np.random.Generator, strength: float, config: DegradationConfig) -> float:
    """A damage's severity in 0..``strength``: ``strength * u ** config.severity_exponent``."""
    return strength * float(rng.random()) ** config.severity_exponent


def _sample_blur(rng: np.random.Generator, strength: float, config: DegradationConfig) -> dict[str, float]:
    low, high = config.blur_sigma
    sigma_x = low + (high - low) * _severity(rng, strength, config)
    if rng.random() < config.anisotropic_probability:
        sigma_y = low + (sigma_x - low) * float(rng.random())
        angle = float(rng.uniform(0.0, math.pi))
    else:
        sigma_y, angle = sigma_x, 0.0
    return {"sigma_x": sigma_x, "sigma_y": sigma_y, "angle": angle}


def _sample_noise(rng: np.random.Generator, strength: float, config: DegradationConfig) -> dict[str, Any]:
    return {
        "kind": "poisson" if rng.random() < config.poisson_probability else "gaussian",
        "sigma": config.noise_sigma_max * _severity(rng, strength, config),
        "grey": bool(rng.random() < config.grey_noise_probability),
        "seed": int(rng.integers(2**31)),
    }


def _sample_quality(rng: np.random.Generator, strength: float, config: DegradationConfig) -> int:
    low, high = config.jpeg_quality
    return int(round(high - (high - low) * _severity(rng, strength, config)))


def degrade(
    image: np.ndarray,
    rng: np.random.Generator,
    scale: int = 1,
    config: DegradationConfig | None = None,
    strength: float | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """A random damage chain: (H, W[, 3]) uint8 -> (H/scale, W/scale[, 3]) uint8 and its parameters.

    Args:
        image: uint8 RGB or grey; sides divisible by ``scale``.
        rng: the only source of randomness.
        scale: 1 (restore only), 2, 3 or 4; the chain always contains the downscale when > 1.
        config: probabilities and bounds (default ``DegradationConfig()``).
        strength: s in 0..1; None draws it (0 with ``clean_probability``, else uniform).

    Returns:
        (degraded uint8, params) where params holds "strength", "order" (the steps applied) and
        each step's settings ("blur", "downscale", "noise", "jpeg"), JSON-serialisable.
    """
    config = config or DegradationConfig()
    if strength is None:
        strength = 0.0 if rng.random() < config.clean_probability else float(rng.random())
    strength = float(np.clip(strength, 0.0, 1.0))
    params: dict[str, Any] = {"strength": strength, "order": []}
    steps: list[str] = []
    if strength > 0:
        blur_strength = (strength - config.blur_above_strength) / (1.0 - config.blur_above_strength)
        if rng.random() < config.blur_probability and blur_strength > 0:
            params["blur"] = _sample_blur(rng, blur_strength, config)
            steps.append("blur")
        if rng.random() < config.noise_probability:
            params["noise"] = _sample_noise(rng, strength, config)
            steps.append("noise")
    if scale > 1:
        params["downscale"] = str(config.downscale_methods[int(rng.integers(len(config.downscale_methods)))])
        steps.append("downscale")
    steps = [steps[index] for index in rng.permutation(len(steps))]
    if strength > 0 and rng.random() < config.jpeg_probability:
        params["jpeg"] = _sample_quality(rng, strength, config)
        position = len(steps) if rng.random() < config.jpeg_last_probability else int(rng.integers(len(steps) + 1))
        steps.insert(position, "jpeg")
    result = image
    for step in steps:
        if step == "blur":
            result = blur(result, **params["blur"])
        elif step == "downscale":
            result = downscale(result, scale, params["downscale"])
        elif step == "noise":
            noise = params["noise"]
            noise_rng = np.random.default_rng(noise["seed"])
            add = add_poisson_noise if noise["kind"] == "poisson" else add_gaussian_noise
            result = add(result, noise["sigma"], noise_rng, noise["grey"])
        elif step == "jpeg":
            result = jpeg(result, params["jpeg"])
    params["order"] = steps
    if result is image:
        result = image.copy()
    return result, params


# ----------------------------------------------------------------------------------------------
# The fixed benchmark degradations
# ----------------------------------------------------------------------------------------------


def image_seed(name: str, case: str) -> int:
    """A stable seed for the noise of benchmark ``case`` on image ``name`` (CRC-32, not hash())."""
    return zlib.crc32(f"{case}/{name}".encode())


def benchmark_x2_noise8_jpeg40(image: np.ndarray, seed: int) -> np.ndarray:
    """Case (a): MATLAB bicubic x1/2, Gaussian colour noise sigma 8, JPEG quality 40; sides must be even."""
    low = downscale(image, 2, "bicubic")
    return jpeg(add_gaussian_noise(low, 8.0, np.random.default_rng(seed)), 40)


def benchmark_x1_jpeg30(image: np.ndarray, seed: int = 0) -> np.ndarray:
    """Case (b): JPEG quality 30 at full size (``seed`` unused; kept for a uniform signature)."""
    return jpeg(image, 30)


def benchmark_x1_noise15(image: np.ndarray, seed: int) -> np.ndarray:
    """Case (c): Gaussian colour noise sigma 15 at full size."""
    return add_gaussian_noise(image, 15.0, np.random.default_rng(seed))


def benchmark_x4_noise8_jpeg40(image: np.ndarray, seed: int) -> np.ndarray:
    """Case (d), for x4 models: MATLAB bicubic x1/4, Gaussian colour noise sigma 8, JPEG quality 40."""
    low = downscale(image, 4, "bicubic")
    return jpeg(add_gaussian_noise(low, 8.0, np.random.default_rng(seed)), 40)


class BenchmarkCase(NamedTuple):
    """A fixed degradation: short key, description, scale, and the function (image, seed) -> uint8."""

    key: str
    description: str
    scale: int
    apply: Callable[[np.ndarray, int], np.ndarray]


BENCHMARK_CASES: dict[str, BenchmarkCase] = {
    "a": BenchmarkCase("a", "x2 bicubic down + Gaussian noise sigma 8 + JPEG q40", 2, benchmark_x2_noise8_jpeg40),
    "b": BenchmarkCase("b", "x1 JPEG q30", 1, benchmark_x1_jpeg30),
    "c": BenchmarkCase("c", "x1 Gaussian noise sigma 15", 1, benchmark_x1_noise15),
    "d": BenchmarkCase("d", "x4 bicubic down + Gaussian noise sigma 8 + JPEG q40", 4, benchmark_x4_noise8_jpeg40),
}


def benchmark_pair(image: np.ndarray, name: str, case: str) -> tuple[np.ndarray, np.ndarray]:
    """(clean reference cropped to the case's scale, degraded input), both uint8, deterministic."""
    spec = BENCHMARK_CASES[case]
    height, width = image.shape[:2]
    clean = np.ascontiguousarray(image[: height - height % spec.scale, : width - width % spec.scale])
    return clean, spec.apply(clean, image_seed(name, case))


# ----------------------------------------------------------------------------------------------
# Training patches
# ----------------------------------------------------------------------------------------------


def hr_margin(scale: int) -> int:
    """HR pixels of context to crop around a training patch: ``LR_MARGIN`` LR pixels, at least 12."""
    return scale * max(LR_MARGIN, -(-12 // scale))


def degrade_patch(
    hr_patch: np.ndarray,
    rng: np.random.Generator,
    scale: int,
    config: DegradationConfig | None = None,
    strength: float | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One training example from an HR crop with ``hr_margin(scale)`` pixels of context per side.

    Args:
        hr_patch: (size + 2m, size + 2m, 3) uint8 RGB, m = ``hr_margin(scale)``, size % scale == 0.
        rng, scale, config, strength: as for ``degrade``.

    Returns:
        (network input Y, target Y, strength): the degraded crop's BT.601 Y bicubically upscaled by
        ``scale`` and cut to (size, size) float32 in 0..1 (16/255..235/255 for RGB in range), the
        clean (size, size) Y float32 in 0..1, and the strength s in 0..1.
    """
    margin = hr_margin(scale)
    size = hr_patch.shape[0] - 2 * margin
    degraded, params = degrade(hr_patch, rng, scale, config, strength)
    if degraded.ndim == 3:
        luminance = rgb_to_y(degraded.astype(np.float32)) * np.float32(1.0 / 255.0)
        clean = rgb_to_y(hr_patch[margin : margin + size, margin : margin + size].astype(np.float32))
    else:
        luminance = degraded.astype(np.float32) * np.float32(1.0 / 255.0)
        clean = hr_patch[margin : margin + size, margin : margin + size].astype(np.float32)
    upscaled = upsample(luminance, scale) if scale > 1 else luminance
    source = np.ascontiguousarray(upscaled[margin : margin + size, margin : margin + size])
    return source, clean * np.float32(1.0 / 255.0), float(params["strength"])


def crop_reflected(image: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """``image[top:top+size, left:left+size]`` with reflect-101 mirroring where it leaves the image."""
    rows = reflect_indices(top, top + size, image.shape[0])
    columns = reflect_indices(left, left + size, image.shape[1])
    if rows[0] == top and rows[-1] == top + size - 1 and columns[0] == left and columns[-1] == left + size - 1:
        return np.asarray(image[top : top + size, left : left + size])
    return np.asarray(image[rows[:, None], columns[None, :]])


@dataclass
class DegradingPatchSampler:
    """Degraded training batches from the HR arrays of ``train.prepare`` (LR arrays unused).

    Same interface as ``train.pipeline.PatchSampler`` (``config``, ``names``, ``batch(index)``),
    but inputs have ``input_channels`` = 2 channels: the degraded, bicubic-upscaled Y and a
    constant plane holding the strength. Scale 1 (restoration only) is allowed. A batch is a pure
    function of (config.seed, index).
    """

    pairs: Path
    config: Any  # train.pipeline.PatchConfig (patch_size, batch_size, scales, seed, target_crop)
    degradation: DegradationConfig = field(default_factory=DegradationConfig)
    input_channels: int = 2

    def __post_init__(self) -> None:
        self.pairs = Path(self.pairs)
        for scale in self.config.scales:
            if self.config.patch_size % scale:
                raise ValueError(f"patch size {self.config.patch_size} must divide by every scale ({scale})")
        self.names = sorted(path.stem for path in (self.pairs / "HR").glob("*.npy"))
        if not self.names:
            raise FileNotFoundError(f"no prepared HR arrays in {self.pairs / 'HR'}; run python -m train.prepare first")
        self._arrays: dict[str, np.ndarray] = {}

    def _array(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            self._arrays[name] = np.load(self.pairs / "HR" / f"{name}.npy", mmap_mode="r")
        return self._arrays[name]

    def patch(self, rng: np.random.Generator, scale: int) -> tuple[np.ndarray, np.ndarray, float]:
        """One (input Y, target Y, strength) example, (patch, patch) float32 in 0..1, rotated/flipped."""
        size = self.config.patch_size
        margin = hr_margin(scale)
        hr = self._array(self.names[int(rng.integers(len(self.names)))])
        top = int(rng.integers(0, max(1, hr.shape[0] - size + 1)))
        left = int(rng.integers(0, max(1, hr.shape[1] - size + 1)))
        crop = crop_reflected(hr, top - margin, left - margin, size + 2 * margin)
        crop = np.rot90(crop, int(rng.integers(4)))
        if rng.integers(2):
            crop = crop[:, ::-1]
        return degrade_patch(np.ascontiguousarray(crop), rng, scale, self.degradation)

    def batch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``index``: inputs (batch, patch, patch, 2) and targets (batch, patch - 2 crop, ..., 1), float32."""
        from train.pipeline import assemble_batch  # here: train.pipeline imports TensorFlow, this module does not

        def example(rng: np.random.Generator, scale: int) -> tuple[np.ndarray, np.ndarray]:
            source, target, strength = self.patch(rng, scale)
            return np.stack([source, np.full_like(source, np.float32(strength))], axis=2), target

        return assemble_batch(self.config, index, self.input_channels, example)
