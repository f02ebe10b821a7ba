"""Make training pairs: HR crops and MATLAB-exact bicubic LR copies at x2, x3 and x4.

    python -m train.prepare --source ../shared/datasets/train --output ~/.cache/revive/pairs

Any folder of photos works (searched recursively; LSDIR's and DIV2K's layouts included). Each
image becomes uint8 ``.npy`` files (memory-mapped by the training pipeline, so the set never has
to fit in RAM): ``HR/<name>.npy`` cropped so both sides divide by 12, and ``x{s}/<name>.npy`` =
``imresize(HR, 1/s)``. ``--augment-scales`` adds downscaled copies of every HR (VDSR's scale
augmentation). Finished images are skipped, so an interrupted run resumes; ``--lsdir`` first
fetches LSDIR with huggingface_hub.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

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
    temporary = path.with_name(path.name + ".tmp.npy")
    np.save(temporary, array)
    os.replace(temporary, path)


def prepare_image(source: Path, name: str, output: Path, scales: tuple[int, ...], augment_scales: tuple[float, ...]) -> int:
    """Write the HR and LR arrays of one image (and its downscaled copies); returns files written."""
    with Image.open(source) as image:
        rgb = np.asarray(image.convert("RGB"))
    written = 0
    for factor in augment_scales:
        variant = name if factor == 1.0 else f"{name}_s{int(round(factor * 100))}"
        done = output / "HR" / f"{variant}.npy"
        if done.exists():
            continue
        hr = rgb if factor == 1.0 else imresize(rgb, factor)
        height, width = (hr.shape[0] // MODULO) * MODULO, (hr.shape[1] // MODULO) * MODULO
        if min(height, width) < 48:
            continue
        hr = np.ascontiguousarray(hr[:height, :width])
        for scale in scales:
            _save_atomic(output / f"x{scale}" / f"{variant}.npy", imresize(hr, 1.0 / scale))
        _save_atomic(done, hr)  # written last: its presence marks the variant complete
        written += 1
    return written


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    source = Path(args.source).expanduser()
    if args.lsdir:
        source = fetch_lsdir(source, args.lsdir, args.endpoint)
    output = Path(args.output).expanduser()
    for folder in ["HR"] + [f"x{scale}" for scale in args.scales]:
        (output / folder).mkdir(parents=True, exist_ok=True)
    images = find_images(source)
    if not images:
        LOGGER.error("no images found under %s", source)
        return 1
    from tqdm import tqdm

    total = 0
    for path in tqdm(images, desc="prepare", unit="image", disable=not sys.stderr.isatty()):
        name = "_".join(path.relative_to(source).with_suffix("").parts)
        total += prepare_image(path, name, output, tuple(args.scales), tuple(args.augment_scales))
    (output / "prepare.json").write_text(json.dumps({
        "source": str(source), "images": len(images), "scales": args.scales,
        "augment_scales": args.augment_scales, "modulo": MODULO,
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
    parser.add_argument("--endpoint", help="Hugging Face endpoint (default: HF_ENDPOINT or the Hub)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
