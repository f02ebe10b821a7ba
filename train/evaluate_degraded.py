"""The revive benchmark: fixed, seeded damage on Set5/Set14, scored against the clean originals.

    python -m train.evaluate_degraded                         # table for the README (cases a-c)
    python -m train.evaluate_degraded --cases a b c d --sets Set5 Set14 --output table.md
    python -m train.evaluate_degraded --damage                # damage-estimator numbers instead
    python -m train.evaluate_degraded --sweep                 # revive strength sweep (monotonicity)
    python -m train.evaluate_degraded --calibrate --sets ../shared/datasets/train/General100   # strength gains
    python -m train.evaluate_degraded --runs runs/A runs/B --grid  # runs side by side over a damage grid

Cases (``train.degrade.BENCHMARK_CASES``): (a) x2 MATLAB-bicubic down + Gaussian colour noise
sigma 8 + JPEG q40; (b) x1 JPEG q30; (c) x1 Gaussian colour noise sigma 15; (d) like (a) at x4.
The noise seed of every image is CRC-32("case/name"), so the inputs never change.

Methods: "bicubic" (x1: the damaged input itself), "classical" (the best OpenCV chain per case:
non-local means on colour or on luma only, bilateral (once or twice), Gaussian or median
denoising before or after the bicubic upscale, 38 settings searched on Set5 only and then applied
unchanged to every set), "vdsr" (the clean model through
``revive_core.api.upscale_picture``; scale > 1 only) and "revive" (when the manifest has a
"revive" family; at strength 1 and at the strength ``revive_core.damage`` suggests). PSNR/SSIM
on BT.601 Y (grey images on grey), border shaved by the scale, as ``train.evaluate``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

LOGGER = logging.getLogger("train.evaluate_degraded")
IMAGE_SUFFIXES = {".png", ".bmp", ".jpg", ".tif", ".tiff"}
SWEEP_STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
# (label, Gaussian colour noise sigma in 8-bit levels, JPEG quality or None, strength): damage from none
# to heavy around the fixed cases, so that a run is judged across damage and not on one case alone.
DAMAGE_GRID: tuple[tuple[str, float, int | None, float], ...] = (
    ("clean, s=0", 0.0, None, 0.0), ("clean, s=1", 0.0, None, 1.0), ("noise 3 + q80", 3.0, 80, 1.0),
    ("noise 8 + q40", 8.0, 40, 1.0), ("noise 15 + q25", 15.0, 25, 1.0), ("q50", 0.0, 50, 1.0),
    ("noise 12", 12.0, None, 1.0), ("noise 5 + q60, s=0.6", 5.0, 60, 0.6),
)

Chain = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class Sample:
    """One benchmark image: name, clean reference and damaged input (uint8, grey 2-D or RGB)."""

    name: str
    clean: np.ndarray
    degraded: np.ndarray


def load_samples(folder: Path, case: str) -> list[Sample]:
    """The damaged versions of every image in ``folder`` for ``case`` (deterministic)."""
    from train.degrade import benchmark_pair
    from train.evaluate import load_hr

    samples = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        clean, degraded = benchmark_pair(load_hr(path), path.name, case)
        samples.append(Sample(path.name, clean, degraded))
    return samples


def score(output: np.ndarray, clean: np.ndarray, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) on Y (grey on grey), ``scale`` pixels shaved from every side."""
    from revive_core.metrics import calculate_psnr, calculate_ssim

    return (calculate_psnr(output, clean, crop_border=scale, test_y_channel=True),
            calculate_ssim(output, clean, crop_border=scale, test_y_channel=True))


def rgb_psnr(output: np.ndarray, clean: np.ndarray, scale: int) -> float:
    """PSNR over R, G and B together, ``scale`` pixels shaved (colour images)."""
    from revive_core.metrics import calculate_psnr

    return calculate_psnr(output, clean, crop_border=scale)


# ----------------------------------------------------------------------------------------------
# Classical chains
# ----------------------------------------------------------------------------------------------


def bicubic(image: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB bicubic upscale by ``scale`` (a copy at x1); uint8 in and out."""
    from revive_core.resize import imresize

    return image.copy() if scale == 1 else imresize(image, float(scale))


def non_local_means(image: np.ndarray, strength: float) -> np.ndarray:
    """OpenCV fast non-local means (7x7 patches, 21x21 search); colour images via CIELAB."""
    import cv2

    if image.ndim == 2:
        return cv2.fastNlMeansDenoising(image, None, strength, 7, 21)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(cv2.fastNlMeansDenoisingColored(bgr, None, strength, strength, 7, 21), cv2.COLOR_BGR2RGB)


def non_local_means_luma(image: np.ndarray, strength: float) -> np.ndarray:
    """OpenCV fast non-local means on luma only (YCrCb; chroma untouched): what the Y score sees."""
    import cv2

    if image.ndim == 2:
        return cv2.fastNlMeansDenoising(image, None, strength, 7, 21)
    ycc = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
    ycc[..., 0] = cv2.fastNlMeansDenoising(np.ascontiguousarray(ycc[..., 0]), None, strength, 7, 21)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def median(image: np.ndarray) -> np.ndarray:
    """OpenCV 3x3 median filter."""
    import cv2

    return cv2.medianBlur(image, 3).reshape(image.shape)


def bilateral(image: np.ndarray, sigma_colour: float, sigma_space: float) -> np.ndarray:
    """OpenCV bilateral filter, neighbourhood from ``sigma_space``."""
    import cv2

    return cv2.bilateralFilter(image, -1, sigma_colour, sigma_space).reshape(image.shape)


def gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    """OpenCV Gaussian blur with mirrored edges."""
    import cv2

    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101).reshape(image.shape)


def classical_chains(scale: int) -> dict[str, Chain]:
    """Candidate OpenCV restorations by name: denoise then upscale, and (x > 1) upscale then denoise."""
    filters: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for h in (3, 5, 7, 10, 13, 16):
        filters[f"NLM h={h}"] = lambda image, h=h: non_local_means(image, h)
        filters[f"NLM-luma h={h}"] = lambda image, h=h: non_local_means_luma(image, h)
    for sigma_colour in (15, 30, 50, 75, 100):
        for sigma_space in (1, 1.5, 2, 3):
            filters[f"bilateral {sigma_colour}/{sigma_space}"] = lambda image, c=sigma_colour, s=sigma_space: bilateral(image, c, s)
    for sigma_colour in (20, 35):
        filters[f"bilateral {sigma_colour}/2 twice"] = lambda image, c=sigma_colour: bilateral(bilateral(image, c, 2), c, 2)
    for sigma in (0.6, 1.0, 1.5):
        filters[f"Gaussian {sigma}"] = lambda image, s=sigma: gaussian(image, s)
    filters["median 3x3"] = median
    chains: dict[str, Chain] = {}
    for name, apply in filters.items():
        if scale == 1:
            chains[name] = lambda image, s, apply=apply: apply(image)
        else:
            chains[f"{name} → bicubic"] = lambda image, s, apply=apply: bicubic(apply(image), s)
            chains[f"bicubic → {name}"] = lambda image, s, apply=apply: apply(bicubic(image, s))
    return chains


def best_chain(samples: list[Sample], scale: int) -> tuple[str, Chain, float]:
    """The classical chain with the best mean PSNR on ``samples``: (name, chain, PSNR)."""
    results = {}
    for name, chain in classical_chains(scale).items():
        results[name] = float(np.mean([score(chain(sample.degraded, scale), sample.clean, scale)[0] for sample in samples]))
        LOGGER.debug("classical %s: %.3f dB", name, results[name])
    name = max(results, key=results.get)
    return name, classical_chains(scale)[name], results[name]


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------


def run_model(image: np.ndarray, scale: int, model: str, strength: float | None = None, precision: str | None = None,
              ensemble: bool = False) -> np.ndarray:
    """``model`` through ``revive_core.api.upscale_picture``; grey 2-D in, grey 2-D out."""
    from revive_core.api import upscale_picture
    from revive_core.imageio import Picture

    picture = Picture(image if image.ndim == 3 else image[..., None])
    keyword = {} if strength is None else {"strength": strength}
    output = upscale_picture(picture, scale, model, precision=precision, ensemble=ensemble, **keyword)[0].pixels
    return output if image.ndim == 3 else output[..., 0]


def revive_network_input(luminance: np.ndarray, scale: int, strength: float) -> np.ndarray:
    """(h, w) float32 Y in 0..1 -> (scale h, scale w, 2): bicubic-upscaled Y and the strength plane."""
    from revive_core.resize import upsample

    upscaled = upsample(luminance, scale) if scale > 1 else luminance.astype(np.float32)
    return np.stack([upscaled, np.full_like(upscaled, np.float32(strength))], axis=2)


def apply_revive(image: np.ndarray, network: Callable[[np.ndarray], np.ndarray], context: int, scale: int,
                 strength: float, tile: int | None = 512) -> np.ndarray:
    """Restore uint8 ``image`` (grey 2-D or RGB) with a "valid" revive network; uint8 (scale H, scale W[, 3]).

    The same recipe as the product: the network runs on BT.601 Y in 0..1 with the strength plane,
    Cb/Cr are upscaled bicubically, tiles carry ``context`` pixels of mirrored context.
    """
    from revive_core.colour import rgb_to_ycbcr, ycbcr_to_rgb
    from revive_core.resize import upsample
    from revive_core.tiling import tiled_apply

    values = image.astype(np.float32)
    if image.ndim == 3:
        ycbcr = rgb_to_ycbcr(values)
        luminance, chroma = ycbcr[..., 0], ycbcr[..., 1:]
    else:
        luminance, chroma = values, None
    blocks = revive_network_input(luminance / np.float32(255.0), scale, strength)
    restored = tiled_apply(blocks, network, context, 1, tile)[..., 0] * np.float32(255.0)
    if chroma is None:
        return np.clip(restored + 0.5, 0, 255).astype(np.uint8)
    chroma_up = upsample(chroma, scale) if scale > 1 else chroma
    rgb = ycbcr_to_rgb(np.concatenate([restored[..., None], chroma_up], axis=2))
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def run_revive(image: np.ndarray, scale: int, strength: float, precision: str | None = None,
               ensemble: bool = False) -> np.ndarray:
    """The installed revive model at ``strength``, through the product path (``upscale_picture``)."""
    return run_model(image, scale, "revive", strength, precision, ensemble)


def revive_scales() -> tuple[int, ...]:
    """Scales the installed revive family serves (empty when it has no weights)."""
    from revive_core.models import list_models

    return next((info.scales for info in list_models() if info.name == "revive"), ())


# ----------------------------------------------------------------------------------------------
# Training-time validation (for train.fit)
# ----------------------------------------------------------------------------------------------

VALIDATION_CASES = {1: ("b", "c"), 2: ("a",), 4: ("d",)}


def validate_degraded(model, context: int, folder: Path, scales: list[int], strength: float = 1.0,
                      cases: tuple[str, ...] | None = None) -> dict[str, float]:
    """Mean Y-PSNR of a "valid" 2-channel revive ``model`` on the damaged ``folder`` per case.

    Cases by scale: x1 -> (b) and (c), x2 -> (a), x4 -> (d); other scales are skipped, and with
    ``cases`` every case not in it. Keys are "a".."d". The model runs untiled with ``context``
    pixels of mirrored context, at ``strength``.
    """
    results = {}
    for scale in scales:
        for case in (case for case in VALIDATION_CASES.get(scale, ()) if cases is None or case in cases):
            scores = [score(apply_revive(sample.degraded, model.predict_on_batch, context, scale, strength, tile=None),
                            sample.clean, scale)[0] for sample in load_samples(folder, case)]
            results[case] = float(np.mean(scores))
    return results


# ----------------------------------------------------------------------------------------------
# Reports
# ----------------------------------------------------------------------------------------------


def benchmark(folders: list[Path], cases: list[str], precision: str | None, with_vdsr: bool,
              with_ensemble: bool = False) -> tuple[str, dict]:
    """Score every method on every (case, set); returns (markdown, raw numbers)."""
    from revive_core.damage import estimate_damage, suggest_strength
    from revive_core.models import list_models
    from train.degrade import BENCHMARK_CASES

    installed = {info.name: info.scales for info in list_models()}
    revive = installed.get("revive", ())
    methods = ["bicubic", "classical", "vdsr", "revive s=1", "revive auto s", "revive auto s, 8-pass ensemble"]
    results: dict[tuple[str, str, str], tuple[float, float] | None] = {}
    chosen: dict[str, str] = {}
    notes: list[str] = []
    for case in cases:
        spec = BENCHMARK_CASES[case]
        scale = spec.scale
        samples_by_set = {folder.name: load_samples(folder, case) for folder in folders}
        selection_set = samples_by_set.get("Set5") or next(iter(samples_by_set.values()))
        name, chain, selection_psnr = best_chain(selection_set, scale)
        chosen[case] = name
        LOGGER.info("(%s) best classical chain on %s: %s (%.3f dB)", case,
                    "Set5" if "Set5" in samples_by_set else folders[0].name, name, selection_psnr)
        for set_name, samples in samples_by_set.items():
            def mean_score(method: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float, float | None]:
                """(Y-PSNR, Y-SSIM, RGB-PSNR over the colour images or None) of ``method`` on the set."""
                outputs = [method(sample.degraded) for sample in samples]
                pairs = [score(output, sample.clean, scale) for output, sample in zip(outputs, samples)]
                colour = [rgb_psnr(output, sample.clean, scale) for output, sample in zip(outputs, samples)
                          if sample.clean.ndim == 3]
                return (float(np.mean([p for p, _ in pairs])), float(np.mean([s for _, s in pairs])),
                        float(np.mean(colour)) if colour else None)

            results[(case, "bicubic", set_name)] = mean_score(lambda image: bicubic(image, scale))
            results[(case, "classical", set_name)] = mean_score(lambda image: chain(image, scale))
            if with_vdsr and scale > 1 and scale in installed.get("vdsr", ()):
                results[(case, "vdsr", set_name)] = mean_score(lambda image: run_model(image, scale, "vdsr", None, precision))
            if scale in revive:
                results[(case, "revive s=1", set_name)] = mean_score(lambda image: run_revive(image, scale, 1.0, precision))
                results[(case, "revive auto s", set_name)] = mean_score(
                    lambda image: run_revive(image, scale, suggest_strength(estimate_damage(image)), precision))
                if with_ensemble:
                    results[(case, "revive auto s, 8-pass ensemble", set_name)] = mean_score(
                        lambda image: run_revive(image, scale, suggest_strength(estimate_damage(image)), precision, True))
            for method in methods:
                if (case, method, set_name) in results:
                    LOGGER.info("(%s) %s %s: %.3f / %.4f", case, method, set_name, *results[(case, method, set_name)][:2])
    if "vdsr" not in installed:
        notes.append("vdsr: no weights installed.")
    if not revive:
        notes.append("revive: no weights in weights/manifest.json yet (family \"revive\"); rows skipped.")
    set_names = [folder.name for folder in folders]
    header = "| method | " + " | ".join(f"({case}) {set_name}" for case in cases for set_name in set_names) + " |"
    lines = [header, "|---|" + "---|" * (len(cases) * len(set_names))]
    for method in methods:
        cells = []
        for case in cases:
            for set_name in set_names:
                value = results.get((case, method, set_name))
                cells.append("n/a" if value is None else f"{value[0]:.2f} / {value[1]:.4f}")
        if any(cell != "n/a" for cell in cells):
            label = "bicubic (x1: the damaged input)" if method == "bicubic" else method
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "RGB PSNR over the colour images (the colour planes too: Y-only restoration leaves colour noise):", "",
              header, lines[1]]
    for method in methods:
        cells = [f"{results[(case, method, set_name)][2]:.2f}"
                 if results.get((case, method, set_name)) and results[(case, method, set_name)][2] is not None else "n/a"
                 for case in cases for set_name in set_names]
        if any(cell != "n/a" for cell in cells):
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines.append("")
    for case in cases:
        lines.append(f"- ({case}) {BENCHMARK_CASES[case].description}; classical = {chosen[case]} (best on Set5)")
    lines.extend(f"- {note}" for note in notes)
    raw = {f"{case}/{method}/{set_name}": {"psnr": value[0], "ssim": value[1], "rgb_psnr": value[2]}
           for (case, method, set_name), value in results.items() if value is not None}
    raw["classical_chains"] = chosen
    return "\n".join(lines), raw


def damage_report(folders: list[Path], cases: list[str]) -> tuple[str, dict]:
    """Damage estimates (mean and range) on the clean and damaged sets, and how often each is flagged."""
    from revive_core.damage import estimate_damage

    rows = ["| input | noise sigma mean [min–max] | blockiness mean [min–max] | JPEG quality guess mean [min–max] | flagged damaged |",
            "|---|---|---|---|---|"]
    raw: dict[str, list[dict]] = {}
    for case in ["clean"] + cases:
        estimates = []
        for folder in folders:
            for sample in load_samples(folder, cases[0] if case == "clean" else case):
                image = sample.clean if case == "clean" else sample.degraded
                estimate = estimate_damage(image)
                estimates.append({"set": folder.name, "name": sample.name, **estimate.__dict__})
        raw[case] = estimates
        noise = np.array([item["noise_sigma"] for item in estimates])
        blocks = np.array([item["blockiness"] for item in estimates])
        qualities = [item["jpeg_quality_guess"] for item in estimates if item["jpeg_quality_guess"] is not None]
        flagged = [item["name"] for item in estimates if item["damaged"]]
        quality_cell = (f"{np.mean(qualities):.0f} [{min(qualities):.0f}–{max(qualities):.0f}] ({len(qualities)} images)"
                        if qualities else "–")
        flagged_cell = f"{len(flagged)}/{len(estimates)}" + (f" ({', '.join(flagged)})" if case == "clean" and flagged else "")
        rows.append(f"| {case} | {noise.mean():.1f} [{noise.min():.1f}–{noise.max():.1f}] | "
                    f"{blocks.mean():.2f} [{blocks.min():.2f}–{blocks.max():.2f}] | {quality_cell} | {flagged_cell} |")
    return "\n".join(rows), raw


def strength_sweep(folders: list[Path], cases: list[str], precision: str | None, strengths: tuple[float, ...]) -> tuple[str, dict]:
    """Per strength: PSNR, Δ = mean |output - bicubic| and R = mean |output - output at the first
    strength| (Y levels), and residual noise. Monotonic: R never falls as the strength rises (the
    repair the strength adds to plain super-resolution; Δ also counts the sharpening that the
    network does at strength 0, which repair can partly undo at x4)."""
    from revive_core.colour import rgb_to_y
    from revive_core.damage import estimate_noise

    def luminance(image: np.ndarray) -> np.ndarray:
        return image.astype(np.float64) if image.ndim == 2 else rgb_to_y(image.astype(np.float64))

    scales = revive_scales()
    rows = ["| case | set | " + " | ".join(f"s={s:g}" for s in strengths) + " | monotonic repair |",
            "|---|---|" + "---|" * len(strengths) + "---|"]
    raw = {}
    from train.degrade import BENCHMARK_CASES

    for case in cases:
        scale = BENCHMARK_CASES[case].scale
        if scale not in scales:
            continue
        for folder in folders:
            samples = load_samples(folder, case)
            psnrs, changes, repairs, noises = [], [], [], []
            first: list[np.ndarray] = []
            for strength in strengths:
                outputs = [run_revive(sample.degraded, scale, strength, precision) for sample in samples]
                lumas = [luminance(output) for output in outputs]
                first = first or lumas
                psnrs.append(float(np.mean([score(o, s.clean, scale)[0] for o, s in zip(outputs, samples)])))
                changes.append(float(np.mean([np.abs(y - luminance(bicubic(s.degraded, scale))).mean()
                                              for y, s in zip(lumas, samples)])))
                repairs.append(float(np.mean([np.abs(y - base).mean() for y, base in zip(lumas, first)])))
                noises.append(float(np.mean([estimate_noise(o) for o in outputs])))
            monotonic = all(later >= earlier for earlier, later in zip(repairs, repairs[1:]))
            cells = [f"{p:.2f} dB, Δ{c:.2f}, R{r:.2f}, σ{n:.1f}" for p, c, r, n in zip(psnrs, changes, repairs, noises)]
            rows.append(f"| ({case}) | {folder.name} | " + " | ".join(cells) + f" | {'yes' if monotonic else 'NO'} |")
            raw[f"{case}/{folder.name}"] = {"strengths": list(strengths), "psnr": psnrs, "change": changes,
                                            "repair": repairs, "noise": noises, "monotonic": monotonic}
    if not raw:
        rows.append("| – | – | no revive weights installed | |")
    return "\n".join(rows), raw


NOISE_GAINS = (0.5, 0.7, 0.9, 1.1, 1.4, 1.75, 2.2)
JPEG_GAINS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5)


def calibrate_strength(folders: list[Path], cases: list[str], precision: str | None) -> tuple[str, dict]:
    """Fit ``revive_core.damage``'s two strength gains: the pair whose suggested strengths give the
    best mean PSNR over ``cases`` on ``folders`` (use photos that are not the benchmark sets)."""
    import itertools

    from revive_core import damage
    from train.degrade import BENCHMARK_CASES

    samples = {case: [sample for folder in folders for sample in load_samples(folder, case)] for case in cases}
    estimates = {case: [damage.estimate_damage(sample.degraded) for sample in items] for case, items in samples.items()}
    cache: dict[tuple[str, int, float], float] = {}

    def psnr(case: str, index: int, strength: float) -> float:
        key = (case, index, round(strength, 4))
        if key not in cache:
            scale = BENCHMARK_CASES[case].scale
            sample = samples[case][index]
            cache[key] = score(run_revive(sample.degraded, scale, strength, precision), sample.clean, scale)[0]
        return cache[key]

    defaults = (damage.NOISE_STRENGTH_GAIN, damage.JPEG_STRENGTH_GAIN)
    results: dict[tuple[float, float], dict[str, float]] = {}
    try:
        for gains in itertools.product(NOISE_GAINS, JPEG_GAINS):
            damage.NOISE_STRENGTH_GAIN, damage.JPEG_STRENGTH_GAIN = gains
            results[gains] = {case: float(np.mean([psnr(case, index, damage.suggest_strength(estimate))
                                                   for index, estimate in enumerate(estimates[case])]))
                              for case in cases}
    finally:
        damage.NOISE_STRENGTH_GAIN, damage.JPEG_STRENGTH_GAIN = defaults
    ranked = sorted(results, key=lambda gains: -np.mean(list(results[gains].values())))
    rows = ["| noise gain | JPEG gain | " + " | ".join(f"({case})" for case in cases) + " | mean |",
            "|---|---|" + "---|" * (len(cases) + 1)]
    for gains in ranked[:5] + ([defaults] if defaults in results and defaults not in ranked[:5] else []):
        values = results[gains]
        rows.append(f"| {gains[0]:g} | {gains[1]:g} | " + " | ".join(f"{values[case]:.3f}" for case in cases)
                    + f" | {np.mean(list(values.values())):.3f} |")
    rows.append(f"\nBest: NOISE_STRENGTH_GAIN = {ranked[0][0]:g}, JPEG_STRENGTH_GAIN = {ranked[0][1]:g} "
                f"(in use: {defaults[0]:g}, {defaults[1]:g}).")
    return "\n".join(rows), {f"{noise}/{jpeg}": values for (noise, jpeg), values in results.items()}


def load_run(run: Path, raw_weights: bool = False) -> tuple[object, int, dict, int]:
    """(valid-padded model with the run's EMA or raw weights, context pixels, config, steps) of a run."""
    import keras

    from revive_core.architectures import ARCHITECTURES, build

    config = json.loads((run / "config.json").read_text())
    arch_args = json.loads(config.get("arch_args", "{}"))
    model = build(config["arch"], padding="valid", **arch_args)
    if raw_weights:
        model.set_weights(keras.models.load_model(run / "checkpoint.keras", compile=False).get_weights())
    else:
        model.load_weights(run / "ema.weights.h5")
    context = ARCHITECTURES[config["arch"]].receptive_radius(**arch_args)
    return model, context, config, int(json.loads((run / "state.json").read_text())["step"])


def run_report(folders: list[Path], cases: list[str], runs: list[Path], raw_weights: bool = False) -> tuple[str, dict]:
    """Y-PSNR of training runs' EMA weights (``train.fit --degrade``) on the damaged sets at strength 1.

    Each run's ``config.json`` names its architecture; the network runs untiled in float32 on the
    cases of the scales it was trained for. For comparing architectures trained the same way.
    ``raw_weights``: the trained weights of ``checkpoint.keras`` instead of their moving average,
    which after a short run still holds much of the initialisation (0.999**1000 = 37 %).
    """
    from revive_core.architectures.revive import macs_per_pixel
    from train.degrade import BENCHMARK_CASES

    header = "| run | architecture | steps | k MACs / pixel | " + " | ".join(
        f"({case}) {folder.name}" for case in cases for folder in folders) + " |"
    rows, raw = [header, "|---|---|---|---|" + "---|" * (len(cases) * len(folders))], {}
    for run in runs:
        model, context, config, steps = load_run(run, raw_weights)
        arch_args = json.loads(config.get("arch_args", "{}"))
        macs = macs_per_pixel(config["arch"], **arch_args)
        scales = sorted({BENCHMARK_CASES[case].scale for case in cases} & set(config["scales"]))
        scores = {f"{case}/{folder.name}": value for folder in folders
                  for case, value in validate_degraded(model, context, folder, scales, cases=tuple(cases)).items()}
        raw[run.name] = {"arch": config["arch"], "arch_args": arch_args, "steps": steps, "raw_weights": raw_weights,
                         "macs_per_pixel": macs, "psnr": scores}
        cells = [f"{scores[key]:.3f}" if key in scores else "n/a"
                 for key in (f"{case}/{folder.name}" for case in cases for folder in folders)]
        rows.append(f"| {run.name} | {config['arch']} {config.get('arch_args', '{}')} | {steps} | "
                    f"{macs / 1000:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(rows), raw


def grid_damage(image: np.ndarray, name: str, scale: int, sigma: float, quality: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(clean, damaged) uint8 for ``DAMAGE_GRID``: MATLAB-bicubic 1/``scale``, then colour noise, then JPEG.

    The noise seed is CRC-32 of ("grid/<sigma>", ``name``), so every input is fixed; sides are cropped
    to multiples of ``scale``.
    """
    from train.degrade import add_gaussian_noise, downscale, image_seed, jpeg

    clean = np.ascontiguousarray(image[: image.shape[0] - image.shape[0] % scale, : image.shape[1] - image.shape[1] % scale])
    damaged = downscale(clean, scale, "bicubic") if scale > 1 else clean.copy()
    if sigma:
        damaged = add_gaussian_noise(damaged, float(sigma), np.random.default_rng(image_seed(name, f"grid/{sigma:g}")))
    if quality is not None:
        damaged = jpeg(damaged, quality)
    return clean, damaged


def grid_report(folders: list[Path], runs: list[Path], scale: int, raw_weights: bool = False) -> tuple[str, dict]:
    """Mean Y-PSNR of runs' weights at ``scale`` over ``DAMAGE_GRID`` per set: one row per set and damage.

    With several runs the last column is the last run minus the first (positive: the last is better).
    Runs not trained for ``scale`` are left out.
    """
    from train.evaluate import load_hr

    inputs: dict[str, tuple[float, list[tuple[np.ndarray, np.ndarray]]]] = {}  # made once, scored per run
    for folder in folders:
        images = [(path.name, load_hr(path)) for path in sorted(folder.iterdir()) if path.suffix.lower() in IMAGE_SUFFIXES]
        for label, sigma, quality, strength in DAMAGE_GRID:
            inputs[f"{folder.name}/{label}"] = (
                strength, [grid_damage(image, name, scale, sigma, quality) for name, image in images])
    raw: dict[str, dict[str, float]] = {}
    for run in runs:
        model, context, config, _ = load_run(run, raw_weights)
        if scale not in config["scales"]:
            LOGGER.warning("%s was not trained for x%d; left out", run.name, scale)
            continue
        raw[run.name] = {
            key: float(np.mean([score(apply_revive(damaged, model.predict_on_batch, context, scale, strength, tile=None),
                                      clean, scale)[0] for clean, damaged in pairs]))
            for key, (strength, pairs) in inputs.items()}
    names = list(raw)
    change = len(names) > 1
    rows = [f"| set | damage (x{scale}) | " + " | ".join(names) + (" | change |" if change else " |"),
            "|---|---|" + "---|" * (len(names) + change)]
    for folder in folders:
        for label, *_ in DAMAGE_GRID:
            key = f"{folder.name}/{label}"
            cells = [f"{raw[name][key]:.3f}" for name in names]
            if change:
                cells.append(f"{raw[names[-1]][key] - raw[names[0]][key]:+.3f}")
            rows.append(f"| {folder.name} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows), raw


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from revive_core.paths import shared_root, write_reports

    benchmark_root = shared_root() / "datasets" / "benchmark"
    folders = [Path(item) if Path(item).is_dir() else benchmark_root / item for item in args.sets]
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing:
        LOGGER.error("no such folder: %s", ", ".join(missing))
        return 2
    if args.runs and args.grid:
        markdown, raw = grid_report(folders, [Path(run) for run in args.runs], args.grid_scale, args.raw_weights)
    elif args.runs:
        markdown, raw = run_report(folders, args.cases, [Path(run) for run in args.runs], args.raw_weights)
    elif args.damage:
        markdown, raw = damage_report(folders, args.cases)
    elif args.calibrate:
        markdown, raw = calibrate_strength(folders, args.cases, args.precision)
    elif args.sweep:
        markdown, raw = strength_sweep(folders, args.cases, args.precision, tuple(args.strengths))
    else:
        markdown, raw = benchmark(folders, args.cases, args.precision, not args.no_vdsr, args.ensemble)
    print(markdown)
    write_reports(markdown, raw, args.output, args.json)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["Set5", "Set14"], help="benchmark names under ../shared or folders")
    parser.add_argument("--cases", nargs="+", default=["a", "b", "c"], choices=["a", "b", "c", "d"])
    parser.add_argument("--precision", default=None, help="auto | bf16 | fp32")
    parser.add_argument("--no-vdsr", action="store_true", help="leave out the clean VDSR rows")
    parser.add_argument("--ensemble", action="store_true", help="add a revive row averaged over 8 mirrored/rotated passes")
    parser.add_argument("--damage", action="store_true", help="report revive_core.damage estimates instead")
    parser.add_argument("--calibrate", action="store_true",
                        help="fit revive_core.damage's strength gains on --sets (not the benchmark: e.g. General100)")
    parser.add_argument("--sweep", action="store_true", help="revive strength sweep: PSNR, change and noise per strength")
    parser.add_argument("--runs", nargs="+", metavar="RUN_DIR",
                        help="score these train.fit --degrade runs' EMA weights instead (architecture comparisons)")
    parser.add_argument("--raw-weights", action="store_true",
                        help="with --runs: the trained weights (checkpoint.keras), not their moving average")
    parser.add_argument("--grid", action="store_true",
                        help="with --runs: score over DAMAGE_GRID (clean to heavy noise and JPEG) instead of the cases")
    parser.add_argument("--grid-scale", type=int, default=2, help="with --grid: the scale to damage and restore at")
    parser.add_argument("--strengths", type=float, nargs="+", default=list(SWEEP_STRENGTHS))
    parser.add_argument("--output", help="also write the markdown table here")
    parser.add_argument("--json", help="also write the raw numbers here")
    args = parser.parse_args(argv)
    if args.grid and not args.runs:
        parser.error("--grid scores training runs: give them with --runs")
    return args


if __name__ == "__main__":
    sys.exit(main(parse_args()))
