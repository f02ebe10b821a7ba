"""Make training pairs: HR crops and MATLAB-exact bicubic LR copies at x2, x3 and x4.

    python -m train.prepare --source ../shared/datasets/train --output ~/.cache/revive/pairs

Any folder of photos works (searched recursively; LSDIR's and DIV2K's layouts included). Each
image becomes uint8 ``.npy`` files (memory-mapped by the training pipeline, so the set never has
to fit in RAM): ``HR/<name>.npy`` cropped so both sides divide by 12, and ``x{s}/<name>.npy`` =
``imresize(HR, 1/s)``. ``--augment-scales`` adds downscaled copies of every HR (VDSR's scale
augmentation). Finished images are skipped, so an interrupted run resumes; ``--lsdir`` first
fetches LSDIR with huggingface_hub. ``--upscaled`` also stores ``x{s}_up/<name>.npy``, the LR's
BT.601 Y bicubically upscaled back to HR size (float32 in 0..1, 4 bytes per HR pixel and scale): the
training pipeline then slices network inputs instead of upscaling every patch (3.6 times the
patches per second, for GPUs that outrun the CPU), equal to the per-patch ones to float32 rounding.
``--workers`` processes (default: one per usable core) work on different images, each holding one
image at a time, so memory stays bounded.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from revive_core.colour import rgb_to_y
from revive_core.paths import replacing, write_text_atomic
from revive_core.precision import usable_cores
from revive_core.resize import imresize

LOGGER = logging.getLogger("train.prepare")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
MODULO = 12  # lcm(2, 3, 4): one HR crop serves every scale


def find_images(source: Path) -> list[Path]:
    """Every image file below ``source``, sorted, hidden folders skipped."""
    found = []
    for root, folders, files in os.walk(source):
        folders[:] = sorted(folder for folder in folders if not folder.startswith("."))
        found.extend(Path(root) / name for name in sorted(files) if Path(name).suffix.lower() in IMAGE_SUFFIXES)
    return found


def fetch_lsdir(destination: Path, repo_id: str, endpoint: str | None = None) -> Path:
    """Download an LSDIR-style dataset repository with huggingface_hub; returns the local folder."""
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(repo_id=repo_id, repo_type="dataset", local_dir=destination, endpoint=endpoint)
    )


def _save_atomic(path: Path, array: np.ndarray) -> None:
    with replacing(path) as temporary:
        np.save(temporary, array)


def upscaled_luminance(lr: np.ndarray, scale: int) -> np.ndarray:
    """(h, w, 3) uint8 LR -> (scale h, scale w) float32 in 0..1: its BT.601 Y upscaled by MATLAB bicubic,
    the same values ``train.pipeline.PatchSampler`` computes per patch."""
    return imresize(rgb_to_y(np.asarray(lr, dtype=np.float32)) / np.float32(255.0), scale)


def prepare_image(source: Path, name: str, output: Path, scales: tuple[int, ...], augment_scales: tuple[float, ...],
                  upscaled: bool = False) -> int:
    """Write the HR and LR arrays of one image (and its downscaled copies); returns HR variants written.

    With ``upscaled``, also the ``x{s}_up`` arrays (``upscaled_luminance``), added to variants
    an earlier run finished without them.
    """
    with Image.open(source) as image:
        rgb = np.asarray(image.convert("RGB"))
    written = 0
    for factor in augment_scales:
        variant = name if factor == 1.0 else f"{name}_s{int(round(factor * 100))}"
        done = output / "HR" / f"{variant}.npy"
        if done.exists():
            for scale in scales if upscaled else ():
                target = output / f"x{scale}_up" / f"{variant}.npy"
                if not target.exists():
                    _save_atomic(target, upscaled_luminance(np.load(output / f"x{scale}" / f"{variant}.npy"), scale))
            continue
        hr = rgb if factor == 1.0 else imresize(rgb, factor)
        height, width = (hr.shape[0] // MODULO) * MODULO, (hr.shape[1] // MODULO) * MODULO
        if min(height, width) < 48:
            continue
        hr = np.ascontiguousarray(hr[:height, :width])
        for scale in scales:
            lr = imresize(hr, 1.0 / scale)
            _save_atomic(output / f"x{scale}" / f"{variant}.npy", lr)
            if upscaled:
                _save_atomic(output / f"x{scale}_up" / f"{variant}.npy", upscaled_luminance(lr, scale))
        _save_atomic(done, hr)  # written last: its presence marks the variant complete
        written += 1
    return written


def _prepare_named(item: tuple[Path, str], output: Path, scales: tuple[int, ...], augment_scales: tuple[float, ...],
                   upscaled: bool) -> int:
    """``prepare_image`` of one (source path, name) pair; top-level so worker processes can run it."""
    return prepare_image(item[0], item[1], output, scales, augment_scales, upscaled)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    source = Path(args.source).expanduser()
    if args.lsdir:
        source = fetch_lsdir(source, args.lsdir, args.endpoint)
    output = Path(args.output).expanduser()
    upscaled_folders = [f"x{scale}_up" for scale in args.scales] if args.upscaled else []
    for folder in ["HR"] + [f"x{scale}" for scale in args.scales] + upscaled_folders:
        (output / folder).mkdir(parents=True, exist_ok=True)
    images = find_images(source)
    if not images:
        LOGGER.error("no images found under %s", source)
        return 1
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    names = ["_".join(path.relative_to(source).with_suffix("").parts) for path in images]
    work = functools.partial(_prepare_named, output=output, scales=tuple(args.scales),
                             augment_scales=tuple(args.augment_scales), upscaled=args.upscaled)
    workers = max(1, min(args.workers or usable_cores(), len(images)))
    progress = functools.partial(tqdm, total=len(images), desc="prepare", unit="image", disable=not sys.stderr.isatty())
    if workers == 1:
        total = sum(progress(map(work, zip(images, names))))
    else:
        with ProcessPoolExecutor(workers) as pool:
            total = sum(progress(pool.map(work, zip(images, names), chunksize=4)))
    write_text_atomic(output / "prepare.json", json.dumps({
        "source": str(source), "images": len(images), "scales": args.scales,
        "augment_scales": args.augment_scales, "modulo": MODULO, "upscaled": args.upscaled,
    }, indent=2))
    LOGGER.info("%d source images, %d new HR variants in %s", len(images), total, output)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="folder of photos (recursive), or LSDIR's download folder")
    parser.add_argument("--output", required=True, help="cache folder for the pairs")
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--augment-scales", type=float, nargs="+", default=[1.0], help="HR downscale factors, e.g. 1.0 0.8 0.6")
    parser.add_argument("--lsdir", metavar="REPO_ID", help="first download this dataset repository (e.g. LSDIR) into --source")
    parser.add_argument("--upscaled", action="store_true",
                        help="also store the bicubic-upscaled LR Y (float32, 4 bytes per HR pixel and scale) for fast patches")
    parser.add_argument("--workers", type=int, default=0, help="processes (default 0: one per usable core)")
    parser.add_argument("--endpoint", help="Hugging Face endpoint (default: HF_ENDPOINT or the Hub)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
