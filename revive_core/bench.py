"""Benchmark: speed, peak memory and quality of Revive's models beside bicubic and OpenCV's peers.

    python -m revive_core.bench                                    # Set14, x2 x3 x4, bf16 and fp32
    python -m revive_core.bench --limit 2 --scales 2 --output bench.md --json bench.json
    python -m revive_core.bench --folder photos/ --models vdsr --precision bf16

Quality follows the standard protocol of ``train.evaluate``: HR cropped so both sides divide by
the scale, LR = MATLAB-exact bicubic ``imresize``, PSNR/SSIM on BT.601 Y (grey images on grey)
with ``scale`` pixels shaved. Every method gets the same LR uint8 image and returns the same
layout: Revive models through ``revive_core.upscale`` (colour conversion, pre-upsampling, tiling
and stitching included), bicubic as MATLAB ``imresize`` and OpenCV ``cv2.resize(INTER_CUBIC)``,
and the OpenCV ``dnn_superres`` models in ``<shared>/peers/opencv_dnn_superres`` (these need
``opencv-contrib-python-headless``; without it they are skipped with a note).

Speed is output megapixels per second of wall time, each image timed once after the method was
loaded and warmed up on a small image (so a new image size's first-call costs are included). The
"bare network" column times the compiled network alone on the whole pre-upsampled image (at most
``BARE_MAX_SIDE`` pixels a side) with its mirrored context, and "e2e/bare" divides the two.
Peak RSS is each (method, scale, folder) run's own high-water mark (``VmHWM``): by default every
run is a fresh worker process (``--isolation process``; the figure includes the Python + TensorFlow
import, reported as the baseline); ``--isolation none`` runs in this process and resets the
high-water mark before each run (Linux ``clear_refs``), or reports the running maximum if it cannot.

Sections: the main table (``--folder``, default Set14); bf16 against fp32 PSNR and speed per model
on ``--precision-folders`` (default Set5 and Set14; the PSNR cost must be at most 0.02 dB);
end-to-end against bare network throughput on one ``--throughput-size`` photo at x2 (must be at
least 0.8); and a ``--large-size`` photo at x2 (12 megapixels out; peak RSS must stay under 2 GB).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

LOGGER = logging.getLogger("revive_core.bench")

IMAGE_SUFFIXES = {".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff"}
# OpenCV dnn_superres files: <file stem prefix> -> setModel() algorithm name.
PEERS = {"ESPCN": "espcn", "FSRCNN": "fsrcnn", "FSRCNN-small": "fsrcnn", "LapSRN": "lapsrn"}
BARE_MAX_SIDE = 2048  # bare-network timing crops larger pre-upsampled images to this (memory)
PSNR_COST_LIMIT_DB = 0.02
RATIO_TARGET = 0.8
PEAK_RSS_LIMIT_MB = 2048.0
WORKER_FLAG = "--worker"


@dataclasses.dataclass(frozen=True)
class Method:
    """One way to upscale: ``kind`` is "model", "bicubic-matlab", "bicubic-opencv" or "peer"."""

    kind: str
    name: str  # shown in the tables
    family: str | None = None  # model family (kind "model")
    precision: str | None = None  # "bf16" | "fp32" (kind "model")
    path: str | None = None  # model file (kind "peer")
    algorithm: str | None = None  # dnn_superres algorithm name (kind "peer")


# ----------------------------------------------------------------------------- measuring memory


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (``VmHWM``; ``ru_maxrss`` where /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """This process's resident set size now, in MB (``VmRSS``; 0 where /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0: ``echo 5 > /proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# ----------------------------------------------------------------------------- data and methods


def image_paths(folder: Path, limit: int | None = None) -> list[Path]:
    """Image files of ``folder`` in name order, at most ``limit``."""
    paths = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
    return paths[:limit] if limit else paths


def load_pair(path: Path, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) uint8 by the standard protocol: HR (h, w) grey or (h, w, 3) RGB cropped to a multiple
    of ``scale``; LR = MATLAB-exact bicubic ``imresize(HR, 1/scale)``."""
    from PIL import Image

    from revive_core.resize import imresize

    with Image.open(path) as image:
        hr = np.asarray(image) if image.mode == "L" else np.asarray(image.convert("RGB"))
    hr = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
    return hr, imresize(hr, 1.0 / scale)


def synthetic_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """(height, width, 3) uint8 smooth random colour field with edges (speed only; content is irrelevant)."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = (rng.random((max(2, height // 16), max(2, width // 16), 3)) * 255).astype(np.uint8)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(smooth)


def peers_available() -> tuple[bool, str]:
    """(True, "") when ``cv2.dnn_superres`` exists, else (False, the one-line reason)."""
    try:
        import cv2
    except ImportError as error:  # pragma: no cover - cv2 is a dependency
        return False, f"cv2 cannot be imported ({error})"
    if not hasattr(cv2, "dnn_superres"):
        return False, (f"cv2.dnn_superres is missing: pip install opencv-contrib-python-headless=={cv2.__version__}"
                       " (it replaces opencv-python-headless's cv2 with a superset)")
    return True, ""


def peer_methods(folder: Path, scale: int) -> list[Method]:
    """The dnn_superres model files in ``folder`` for ``scale`` (names from ``PEERS``)."""
    methods = []
    for prefix, algorithm in PEERS.items():
        path = folder / f"{prefix}_x{scale}.pb"
        if path.is_file():
            methods.append(Method("peer", f"{prefix} (OpenCV dnn_superres)", path=str(path), algorithm=algorithm))
    return methods


def model_methods(families: list[str], scale: int, precisions: list[str]) -> list[Method]:
    """Installed model families (manifest order of names) serving ``scale``, at each precision."""
    from revive_core.models import list_models

    installed = {info.name: info.scales for info in list_models()}
    methods = []
    for family in families:
        if scale not in installed.get(family, ()):
            continue
        for precision in precisions:
            methods.append(Method("model", f"{family.upper()} (Revive)", family=family, precision=precision))
    return methods


def make_upscaler(method: Method, scale: int, tile: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A function LR uint8 (h, w) or (h, w, 3) RGB -> SR uint8 of the same layout, ``scale`` times larger."""
    import cv2

    if method.kind == "bicubic-matlab":
        from revive_core.resize import imresize

        return lambda lr: imresize(lr, scale)
    if method.kind == "bicubic-opencv":
        return lambda lr: cv2.resize(lr, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if method.kind == "peer":
        network = cv2.dnn_superres.DnnSuperResImpl_create()
        network.readModel(method.path)
        network.setModel(method.algorithm, scale)

        def run_peer(lr: np.ndarray) -> np.ndarray:
            if lr.ndim == 2:  # grey in, grey out: R=G=B, so BT.601 luma is the grey value back
                return cv2.cvtColor(network.upsample(cv2.cvtColor(lr, cv2.COLOR_GRAY2BGR)), cv2.COLOR_BGR2GRAY)
            return cv2.cvtColor(network.upsample(cv2.cvtColor(lr, cv2.COLOR_RGB2BGR)), cv2.COLOR_BGR2RGB)

        return run_peer
    if method.kind == "model":
        from revive_core.api import upscale

        return lambda lr: upscale(lr, scale, model=method.family, tile=tile, precision=method.precision)
    raise ValueError(f"unknown method kind {method.kind!r}")


def make_bare_timer(method: Method, scale: int) -> Callable[[np.ndarray], tuple[float, int]]:
    """A function LR uint8 -> (seconds, output pixels) of the network alone on the whole
    pre-upsampled luminance (cropped to ``BARE_MAX_SIDE``) with its mirrored context."""
    from revive_core.colour import rgb_to_ycbcr
    from revive_core.models import get_runner
    from revive_core.resize import upsample
    from revive_core.tiling import Tile, extract

    runner = get_runner(method.family, scale, method.precision)

    def time_bare(lr: np.ndarray) -> tuple[float, int]:
        pixels = lr.astype(np.float32)
        luminance = pixels if pixels.ndim == 2 else rgb_to_ycbcr(pixels)[..., 0]
        upscaled = upsample(luminance / np.float32(255.0), scale)[:BARE_MAX_SIDE, :BARE_MAX_SIDE, None]
        if runner.channels > 1:  # extra conditioning planes (e.g. strength) at 0: same cost
            upscaled = np.concatenate([upscaled, np.zeros(upscaled.shape[:2] + (runner.channels - 1,), np.float32)], axis=2)
        height, width = upscaled.shape[:2]
        block = extract(upscaled, Tile(0, 0, height, width), runner.context)[None]
        started = time.perf_counter()
        runner(block)
        return time.perf_counter() - started, height * width

    return time_bare


def warm_up(upscaler: Callable[[np.ndarray], np.ndarray], bare_timer: Callable[[np.ndarray], tuple[float, int]] | None) -> float:
    """Run a loaded method (and its bare network) once on a small image; returns the seconds taken."""
    started = time.perf_counter()
    upscaler(synthetic_photo(24, 20))
    if bare_timer is not None:
        bare_timer(synthetic_photo(24, 20))
    return time.perf_counter() - started


# ----------------------------------------------------------------------------- one run


def run_folder(upscaler: Callable[[np.ndarray], np.ndarray], bare_timer: Callable[[np.ndarray], tuple[float, int]] | None,
               scale: int, folder: Path, limit: int | None, repeat: int = 1) -> dict[str, Any]:
    """Time and score one method on every image of ``folder``; the per-image and mean numbers."""
    from revive_core.metrics import calculate_psnr, calculate_ssim

    images = []
    for path in image_paths(folder, limit):
        hr, lr = load_pair(path, scale)
        seconds, timings = [], []
        for _ in range(max(1, repeat)):  # end-to-end and bare interleaved: drift on a shared machine hits both
            started = time.perf_counter()
            sr = upscaler(lr)
            seconds.append(time.perf_counter() - started)
            if bare_timer is not None:
                timings.append(bare_timer(lr))
        if sr.shape != hr.shape:
            raise RuntimeError(f"the method returned {sr.shape} for {path.name}, expected {hr.shape}")
        record: dict[str, Any] = {
            "image": path.name, "seconds": min(seconds), "output_pixels": int(hr.shape[0] * hr.shape[1]),
            "psnr": calculate_psnr(sr, hr, crop_border=scale, test_y_channel=True),
            "ssim": calculate_ssim(sr, hr, crop_border=scale, test_y_channel=True),
        }
        if timings:
            record["bare_seconds"] = min(seconds for seconds, _ in timings)
            record["bare_pixels"] = timings[0][1]
        images.append(record)
    if not images:
        raise RuntimeError(f"no images in {folder}")
    result: dict[str, Any] = {
        "images": images,
        "psnr": statistics.fmean(record["psnr"] for record in images),
        "ssim": statistics.fmean(record["ssim"] for record in images),
        "seconds_per_image": statistics.fmean(record["seconds"] for record in images),
        "megapixels_per_second": sum(r["output_pixels"] for r in images) / sum(r["seconds"] for r in images) / 1e6,
    }
    if bare_timer is not None:
        result["bare_megapixels_per_second"] = (
            sum(r["bare_pixels"] for r in images) / sum(r["bare_seconds"] for r in images) / 1e6)
        result["ratio"] = result["megapixels_per_second"] / result["bare_megapixels_per_second"]
    return result


def run_synthetic(upscaler: Callable[[np.ndarray], np.ndarray], bare_timer: Callable[[np.ndarray], tuple[float, int]] | None,
                  width: int, height: int, repeat: int) -> dict[str, Any]:
    """Best-of-``repeat`` end-to-end (and bare) seconds on one synthetic ``width`` x ``height`` photo."""
    lr = synthetic_photo(width, height)
    seconds, timings = [], []
    for _ in range(max(1, repeat)):  # interleaved, as in ``run_folder``
        started = time.perf_counter()
        sr = upscaler(lr)
        seconds.append(time.perf_counter() - started)
        output_pixels = int(sr.shape[0] * sr.shape[1])
        del sr
        if bare_timer is not None:
            timings.append(bare_timer(lr))
    result: dict[str, Any] = {"seconds": min(seconds), "all_seconds": seconds, "output_pixels": output_pixels,
                              "megapixels_per_second": output_pixels / min(seconds) / 1e6,
                              "input_size": [width, height]}
    if timings:
        result["bare_seconds"] = min(seconds for seconds, _ in timings)
        result["bare_megapixels_per_second"] = timings[0][1] / result["bare_seconds"] / 1e6
        result["ratio"] = result["megapixels_per_second"] / result["bare_megapixels_per_second"]
    return result


def run_spec(spec: dict[str, Any], reset_peak: bool = True) -> dict[str, Any]:
    """Run one benchmark job described by ``spec`` in this process; its numbers, peak RSS included.

    ``spec``: {"method": Method fields, "scale", "tile", "repeat", "bare", and either "folder" (+ "limit")
    or "synthetic": [width, height]}.
    """
    method = Method(**spec["method"])
    scale, tile = int(spec["scale"]), spec.get("tile")
    repeat = int(spec.get("repeat", 1))
    baseline = current_rss_mb()
    reset = reset_peak and reset_peak_rss()
    started = time.perf_counter()
    upscaler = make_upscaler(method, scale, tile)
    bare_timer = make_bare_timer(method, scale) if spec.get("bare") and method.kind == "model" else None
    load_seconds = time.perf_counter() - started
    warmup_seconds = warm_up(upscaler, bare_timer)
    if "synthetic" in spec:
        width, height = spec["synthetic"]
        result = run_synthetic(upscaler, bare_timer, width, height, repeat)
    else:
        result = run_folder(upscaler, bare_timer, scale, Path(spec["folder"]), spec.get("limit"), repeat)
    result.update(peak_rss_mb=peak_rss_mb(), baseline_rss_mb=baseline, load_seconds=load_seconds,
                  warmup_seconds=warmup_seconds, peak_rss_reset=reset)
    if method.kind == "model":
        from revive_core.models import get_runner

        result["tracing_count"] = get_runner(method.family, scale, method.precision).tracing_count
    return result


def worker_main() -> int:
    """``python -m revive_core.bench --worker``: read one spec as JSON on stdin, print the result as
    the last line of stdout. The process is fresh, so its VmHWM is this job's peak RSS."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s", stream=sys.stderr)
    spec = json.loads(sys.stdin.read())
    result = run_spec(spec, reset_peak=False)
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


def run_job(spec: dict[str, Any], isolation: str) -> dict[str, Any]:
    """Run ``spec`` in a fresh worker process (``isolation`` "process") or here ("none").

    Returns the job's numbers plus "method", "scale", "isolation"; on failure "error" (one line).
    """
    header = {"method": spec["method"], "scale": spec["scale"], "folder": spec.get("folder"),
              "synthetic": spec.get("synthetic"), "isolation": isolation}
    started = time.perf_counter()
    if isolation == "none":
        try:
            result = run_spec(spec)
        except Exception as error:  # a failing method is reported in the table, the others still run
            LOGGER.exception("%s x%d failed", spec["method"]["name"], spec["scale"])
            return {**header, "error": f"{type(error).__name__}: {error}".splitlines()[0]}
        if not result["peak_rss_reset"]:
            header["isolation"] = "none (VmHWM could not be reset: running maximum)"
        return {**header, **result, "wall_seconds": time.perf_counter() - started}
    completed = subprocess.run(
        [sys.executable, "-m", "revive_core.bench", WORKER_FLAG], input=json.dumps(spec),
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        reason = (completed.stderr.strip().splitlines() or [f"exit status {completed.returncode}"])[-1]
        LOGGER.error("%s x%d failed: %s", spec["method"]["name"], spec["scale"], reason)
        return {**header, "error": reason}
    return {**header, **json.loads(lines[-1]), "wall_seconds": time.perf_counter() - started}


# ----------------------------------------------------------------------------- tables


def _cell(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ratio_cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}" + ("" if value >= RATIO_TARGET else " (< 0.8)")


MAIN_COLUMNS = ["method", "precision", "scale", "PSNR (dB)", "SSIM", "s/image", "MP/s", "bare MP/s", "e2e/bare",
                "peak RSS (MB)"]


def main_table(results: list[dict[str, Any]]) -> str:
    """Markdown: one row per (method, precision, scale) of the main folder, in run order."""
    lines = ["| " + " | ".join(MAIN_COLUMNS) + " |", "|" + "---|" * len(MAIN_COLUMNS)]
    for result in results:
        method = result["method"]
        prefix = f"| {method['name']} | {method.get('precision') or '–'} | ×{result['scale']} | "
        if "error" in result:
            lines.append(prefix + f"failed: {result['error']} |" + " |" * (len(MAIN_COLUMNS) - 4))
            continue
        cells = [_cell(result["psnr"], 2), _cell(result["ssim"], 4), _cell(result["seconds_per_image"], 3),
                 _cell(result["megapixels_per_second"], 2), _cell(result.get("bare_megapixels_per_second"), 2),
                 _ratio_cell(result.get("ratio")), _cell(result["peak_rss_mb"], 0)]
        lines.append(prefix + " | ".join(cells) + " |")
    return "\n".join(lines)


def precision_table(runs: dict[tuple[str, int, str, str], dict[str, Any]]) -> str:
    """Markdown: bf16 against fp32 per (model, scale, folder): PSNR, its cost, speed and speed-up."""
    lines = ["| model | scale | set | PSNR bf16 | PSNR fp32 | bf16 cost (dB) | ≤ 0.02 dB | MP/s bf16 | MP/s fp32 | bf16 speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(family, scale, folder) for family, scale, folder, _ in runs})
    for family, scale, folder in keys:
        bf16, fp32 = runs.get((family, scale, folder, "bf16")), runs.get((family, scale, folder, "fp32"))
        if not bf16 or not fp32 or "error" in bf16 or "error" in fp32:
            continue
        cost = fp32["psnr"] - bf16["psnr"]
        lines.append(
            f"| {family.upper()} | ×{scale} | {folder} | {bf16['psnr']:.3f} | {fp32['psnr']:.3f} | {cost:+.3f} | "
            f"{'yes' if cost <= PSNR_COST_LIMIT_DB else 'NO'} | {bf16['megapixels_per_second']:.2f} | "
            f"{fp32['megapixels_per_second']:.2f} | {bf16['megapixels_per_second'] / fp32['megapixels_per_second']:.1f}× |")
    return "\n".join(lines)


def _synthetic_size(result: dict[str, Any]) -> str:
    """"W×H → sW×sH" for a synthetic-photo result."""
    width, height = result["synthetic"]
    return f"{width}×{height} → {width * result['scale']}×{height * result['scale']}"


def _failed_row(result: dict[str, Any], size: str) -> str:
    """A seven-column table row saying which synthetic-photo job failed and why."""
    method = result["method"]
    return f"| {method['name']} | {method['precision']} | {size} | failed: {result['error']} | | | |"


def throughput_table(results: list[dict[str, Any]]) -> str:
    """Markdown: end-to-end against bare-network throughput on one synthetic photo per model."""
    lines = ["| model | precision | input → output | bare MP/s | e2e MP/s | e2e/bare | ≥ 0.8 |", "|---|---|---|---|---|---|---|"]
    for result in results:
        method = result["method"]
        size = _synthetic_size(result)
        if "error" in result:
            lines.append(_failed_row(result, size))
            continue
        ratio = result.get("ratio")
        lines.append(f"| {method['name']} | {method['precision']} | {size} | {_cell(result.get('bare_megapixels_per_second'), 2)} | "
                     f"{result['megapixels_per_second']:.2f} | {_cell(ratio, 2)} | "
                     f"{'–' if ratio is None else ('yes' if ratio >= RATIO_TARGET else 'NO')} |")
    return "\n".join(lines)


def large_table(results: list[dict[str, Any]]) -> str:
    """Markdown: time and peak RSS for one large synthetic photo per model."""
    lines = ["| model | precision | input → output | seconds | MP/s | peak RSS (MB) | < 2 GB |", "|---|---|---|---|---|---|---|"]
    for result in results:
        method = result["method"]
        size = _synthetic_size(result)
        if "error" in result:
            lines.append(_failed_row(result, size))
            continue
        lines.append(f"| {method['name']} | {method['precision']} | {size} | {result['seconds']:.1f} | "
                     f"{result['megapixels_per_second']:.2f} | {result['peak_rss_mb']:.0f} | "
                     f"{'yes' if result['peak_rss_mb'] < PEAK_RSS_LIMIT_MB else 'NO'} |")
    return "\n".join(lines)


def machine_line() -> str:
    """One line: CPU cores, bf16 support, thread settings, library versions."""
    import cv2
    import tensorflow as tf

    from revive_core.models import INTER_OP_THREADS
    from revive_core.precision import cpu_has_bf16, usable_cores

    inter = os.environ.get("REVIVE_INTER_OP_THREADS", INTER_OP_THREADS)
    return (f"{usable_cores()} cores ({platform.processor() or platform.machine()}), bf16 hardware: "
            f"{'yes' if cpu_has_bf16() else 'no'}; TensorFlow {tf.__version__} (intra-op = cores, inter-op {inter}), "
            f"OpenCV {cv2.__version__}, Python {platform.python_version()}")


# ----------------------------------------------------------------------------- main


def resolve_folder(value: str | None, default: str) -> Path:
    """A folder given as a path, or a benchmark name under ``<shared>/datasets/benchmark``."""
    from revive_core.paths import shared_root

    name = value or default
    path = Path(name)
    return path if path.is_dir() else shared_root() / "datasets" / "benchmark" / name


def precisions_for(choice: str) -> list[str]:
    """``both`` -> ["bf16", "fp32"] ("fp32" alone where the CPU has no bf16 unit and none was asked)."""
    from revive_core.precision import cpu_has_bf16, resolve_precision

    if choice == "both":
        return ["bf16", "fp32"]
    if choice == "default":
        return ["bf16", "fp32"] if cpu_has_bf16() else ["fp32"]
    return [resolve_precision(choice)]


def main(args: argparse.Namespace) -> int:
    """Run every section, print the markdown, write ``--output``/``--json``; 0, or 2 for bad arguments."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from revive_core.models import list_models
    from revive_core.paths import shared_root, write_reports
    from revive_core.precision import resolve_precision

    if args.inter_op:
        os.environ["REVIVE_INTER_OP_THREADS"] = str(args.inter_op)  # read when the first model loads

    folder = resolve_folder(args.folder, "Set14")
    if not folder.is_dir() or not image_paths(folder):
        LOGGER.error("no images in %s (give --folder, or set REVIVE_SHARED)", folder)
        return 2
    installed = [info.name for info in list_models()]
    families = args.models if args.models is not None else installed
    unknown = [family for family in families if family not in installed]
    if unknown:
        LOGGER.error("not installed: %s (installed: %s)", ", ".join(unknown), ", ".join(installed) or "none")
        return 2
    precisions = precisions_for(args.precision)
    peers_folder = Path(args.peers) if args.peers else shared_root() / "peers" / "opencv_dnn_superres"
    notes: list[str] = []
    use_peers, reason = peers_available()
    if args.no_peers:
        use_peers, reason = False, "--no-peers"
    elif use_peers and not peers_folder.is_dir():
        use_peers, reason = False, f"{peers_folder} is absent"
    if not use_peers:
        notes.append(f"OpenCV dnn_superres peers skipped: {reason}.")
    base = {"tile": args.tile, "repeat": args.repeat}

    def job(method: Method, scale: int, **extra: Any) -> dict[str, Any]:
        spec = {**base, "method": dataclasses.asdict(method), "scale": scale, **extra}
        result = run_job(spec, args.isolation)
        if "error" not in result:
            LOGGER.info("%s %s x%d: %s", method.name, method.precision or "", scale, ", ".join(
                f"{key} {result[key]:.3f}" for key in ("psnr", "megapixels_per_second", "ratio", "peak_rss_mb") if key in result))
        return result

    main_results: list[dict[str, Any]] = []
    precision_runs: dict[tuple[str, int, str, str], dict[str, Any]] = {}
    for scale in args.scales:
        methods = [Method("bicubic-matlab", "Bicubic (MATLAB imresize)"), Method("bicubic-opencv", "Bicubic (OpenCV INTER_CUBIC)")]
        methods += peer_methods(peers_folder, scale) if use_peers else []
        methods += model_methods(families, scale, precisions)
        for method in methods:
            result = job(method, scale, folder=str(folder), limit=args.limit, bare=not args.no_bare)
            main_results.append(result)
            if method.kind == "model":
                precision_runs[(method.family, scale, folder.name, method.precision)] = result
    sections = set(args.sections)
    if "precision" in sections and len(precisions) > 1:
        for name in args.precision_folders:
            other = resolve_folder(name, name)
            if other.resolve() == folder.resolve():
                continue
            if not other.is_dir():
                notes.append(f"bf16 vs fp32 on {name} skipped: {other} is absent.")
                continue
            for scale in args.scales:
                for method in model_methods(families, scale, precisions):
                    precision_runs[(method.family, scale, other.name, method.precision)] = job(
                        method, scale, folder=str(other), limit=args.limit, bare=False)
    throughput_results, large_results = [], []
    synthetic_scale = 2 if 2 in args.scales else args.scales[0]
    if "throughput" in sections:
        for method in model_methods(families, synthetic_scale, precisions):
            throughput_results.append(job(method, synthetic_scale, synthetic=list(args.throughput_size), bare=True,
                                          repeat=max(3, args.repeat)))
    if "large" in sections:
        large_precision = precisions[0] if len(precisions) == 1 else resolve_precision(None)
        for method in model_methods(families, synthetic_scale, [large_precision]):
            large_results.append(job(method, synthetic_scale, synthetic=list(args.large_size), bare=False, repeat=1))

    baselines = [r["baseline_rss_mb"] for r in main_results if "baseline_rss_mb" in r]
    isolation = ("each run in a fresh process; peak RSS includes Python and what the method imports "
                 "(TensorFlow for the networks; bicubic and the OpenCV peers do not load it)"
                 if args.isolation == "process" else
                 "all runs in one process; peak RSS is each run's VmHWM after a reset (everything already loaded included)")
    notes.append(f"Peak RSS: {isolation} (resident at the start: {min(baselines):.0f}–{max(baselines):.0f} MB)."
                 if baselines else f"Peak RSS: {isolation}.")
    notes.append(f"Speed: wall time per image after a warm-up on a small image, best of {args.repeat}; MP/s = output "
                 "megapixels per second. bare = the compiled network alone on the whole pre-upsampled image with its context; "
                 "on small images e2e/bare also pays for tile sides rounded up to 64 px and fixed per-image work, so the "
                 f"{RATIO_TARGET} target is read from the end-to-end section.")
    count = len(image_paths(folder, args.limit))
    parts = [f"## Revive benchmark: {folder.name} ({count} images), {datetime.date.today().isoformat()}",
             "", f"Machine: {machine_line()}.", "", main_table(main_results)]
    if "precision" in sections and len(precisions) > 1:
        parts += ["", "### bf16 against fp32", "", precision_table(precision_runs)]
    if throughput_results:
        parts += ["", "### End-to-end `revive_core.upscale` against the bare network (best of "
                  f"{max(3, args.repeat)})", "", throughput_table(throughput_results)]
    if large_results:
        parts += ["", "### Large photo (memory)", "", large_table(large_results)]
    parts += [""] + [f"- {note}" for note in notes]
    markdown = "\n".join(parts)
    print(markdown)
    write_reports(markdown, {
        "folder": str(folder), "machine": machine_line(), "notes": notes, "main": main_results,
        "precision": [{"family": f, "scale": s, "folder": n, "precision": p, **r} for (f, s, n, p), r in precision_runs.items()
                      if n != folder.name],
        "throughput": throughput_results, "large": large_results}, args.output, args.json)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", help="HR images: a folder or a benchmark name under <shared>/datasets/benchmark (default Set14)")
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--models", nargs="*", help="model families (default: every one in weights/manifest.json)")
    parser.add_argument("--precision", default="default", choices=["default", "both", "bf16", "fp32", "auto"],
                        help="default: both where the CPU has bf16 hardware, else fp32")
    parser.add_argument("--limit", type=int, help="at most this many images per folder")
    parser.add_argument("--repeat", type=int, default=1, help="time each image this many times, keep the best")
    parser.add_argument("--tile", type=int, default=None, help="tile side passed to upscale (default: its own)")
    parser.add_argument("--peers", help="folder of OpenCV dnn_superres .pb files (default <shared>/peers/opencv_dnn_superres)")
    parser.add_argument("--no-peers", action="store_true", help="skip the OpenCV dnn_superres peers")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-network timing in the main table")
    parser.add_argument("--precision-folders", nargs="*", default=["Set5", "Set14"],
                        help="where bf16 and fp32 PSNR are compared (folders or benchmark names)")
    parser.add_argument("--sections", nargs="*", default=["precision", "throughput", "large"],
                        choices=["precision", "throughput", "large"], help="extra sections after the main table")
    parser.add_argument("--throughput-size", type=int, nargs=2, default=[512, 384], metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--large-size", type=int, nargs=2, default=[2000, 1500], metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--inter-op", type=int, help="TensorFlow inter-op threads (sets $REVIVE_INTER_OP_THREADS; default 1)")
    parser.add_argument("--isolation", choices=["process", "none"], default="process",
                        help="process: each run in a fresh worker (honest peak RSS); none: all in this process")
    parser.add_argument("--output", help="also write the markdown here")
    parser.add_argument("--json", help="also write every number here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    if WORKER_FLAG in sys.argv[1:]:
        sys.exit(worker_main())
    sys.exit(main(parse_args()))
