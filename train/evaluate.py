"""The standard super-resolution table: PSNR/SSIM on Y, border shaved, MATLAB-bicubic LR.

    python -m train.evaluate                       # Set5 and Set14 from ../shared, x2 x3 x4
    python -m train.evaluate --sets path/to/B100 --models vdsr --scales 4

Every model runs through ``revive_core.upscale_picture`` (the product's own path, tiling
included), so the table measures what users get. Grey images are scored on their grey values,
colour images on BT.601 Y, as in the published tables (``benchmark/PUBLISHED.md``).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

import numpy as np

ENSEMBLE_LABEL = "8-pass ensemble"
LOGGER = logging.getLogger("train.evaluate")


def load_hr(path: Path) -> np.ndarray:
    """HR pixels (height, width) grey or (height, width, 3) RGB uint8."""
    from PIL import Image

    with Image.open(path) as image:
        if image.mode == "L":
            return np.asarray(image)
        return np.asarray(image.convert("RGB"))


def score_images(folder: Path, scale: int, method: str, precision: str | None = None, tile: int | None = None,
                 ensemble: bool = False) -> tuple[float, float]:
    """Mean (PSNR, SSIM) of ``method`` ("bicubic" or a model family) over ``folder`` at ``scale``."""
    from revive_core.api import upscale_picture
    from revive_core.imageio import Picture
    from revive_core.metrics import calculate_psnr, calculate_ssim
    from revive_core.resize import imresize

    psnrs, ssims = [], []
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".bmp", ".jpg", ".tif", ".tiff"})
    for path in paths:
        hr = load_hr(path)
        hr = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
        lr = imresize(hr, 1.0 / scale)
        if method == "bicubic":
            sr = imresize(lr, scale)
        else:
            picture = Picture(lr if lr.ndim == 3 else lr[..., None])
            sr = upscale_picture(picture, scale, method, tile=tile, precision=precision, ensemble=ensemble)[0].pixels
            sr = sr if hr.ndim == 3 else sr[..., 0]
        psnrs.append(calculate_psnr(sr, hr, crop_border=scale, test_y_channel=True))
        ssims.append(calculate_ssim(sr, hr, crop_border=scale, test_y_channel=True))
    return float(np.mean(psnrs)), float(np.mean(ssims))


def published(path: Path) -> dict[tuple[int, str, str], str]:
    """(scale, method, set) -> "PSNR/SSIM" from PUBLISHED.md's tables."""
    values: dict[tuple[int, str, str], str] = {}
    if not path.exists():
        return values
    scale, sets = None, []
    for line in path.read_text().splitlines():
        header = re.match(r"\|\s*×(\d)\s*\|(.*)\|\s*$", line)
        if header:
            scale = int(header.group(1))
            sets = [cell.strip() for cell in header.group(2).split("|")]
            continue
        row = re.match(r"\|\s*([A-Za-z]+)\s*\|(.*)\|\s*$", line)
        if row and scale is not None and not line.startswith("|---"):
            for name, cell in zip(sets, row.group(2).split("|")):
                values[(scale, row.group(1).lower(), name)] = cell.strip()
    return values


def table(results: dict, sets: list[str], methods: list[str], scales: list[int], reference: dict) -> str:
    """Markdown: one row per method and scale, ours beside the published value per set."""
    lines = ["| scale | method | " + " | ".join(f"{name} ours | {name} published" for name in sets) + " |",
             "|---|---|" + "---|---|" * len(sets)]
    for scale in scales:
        for method in methods:
            cells = []
            for name in sets:
                psnr, ssim = results[(scale, method, name)]
                cells.append(f"{psnr:.2f}/{ssim:.4f}")
                cells.append(reference.get((scale, method, name), "–"))
            lines.append(f"| ×{scale} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from revive_core.models import list_models
    from revive_core.paths import shared_root, write_reports

    benchmark = shared_root() / "datasets" / "benchmark"
    folders = [Path(item) if Path(item).is_dir() else benchmark / item for item in args.sets]
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing:
        LOGGER.error("no such folder: %s", ", ".join(missing))
        return 2
    installed = {info.name: info.scales for info in list_models()}
    methods = ["bicubic"] + (args.models or sorted(installed))
    results: dict[tuple[int, str, str], tuple[float, float]] = {}
    for scale in args.scales:
        for method in methods:
            if method != "bicubic" and scale not in installed.get(method, ()):
                LOGGER.warning("%s has no x%d weights; skipped", method, scale)
                continue
            passes = [False, True] if args.ensemble and method != "bicubic" else [False]
            for ensemble in passes:
                label = f"{method} {ENSEMBLE_LABEL}" if ensemble else method
                for folder in folders:
                    key = (scale, label, folder.name)
                    results[key] = score_images(folder, scale, method, args.precision, args.tile, ensemble)
                    LOGGER.info("x%d %s %s: %.3f / %.4f", scale, label, folder.name, *results[key])
    labels = [label for method in methods for label in (method, f"{method} {ENSEMBLE_LABEL}")]
    shown = [m for m in labels if all((s, m, f.name) in results for s in args.scales for f in folders)]
    markdown = table(results, [f.name for f in folders], shown, args.scales, published(benchmark / "PUBLISHED.md"))
    print(markdown)
    write_reports(markdown, {f"x{s}/{m}/{n}": {"psnr": p, "ssim": q} for (s, m, n), (p, q) in results.items()},
                  args.output, args.json)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["Set5", "Set14"], help="benchmark names under ../shared or folders of HR images")
    parser.add_argument("--models", nargs="*", help="model families (default: every installed one)")
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--precision", default=None, help="auto | bf16 | fp32")
    parser.add_argument("--tile", type=int, default=None)
    parser.add_argument("--ensemble", action="store_true",
                        help=f"add a '<model> {ENSEMBLE_LABEL}' row per model: the 8-pass self-ensemble (best "
                             "quality; not the papers' protocol, so no published value beside it)")
    parser.add_argument("--output", help="also write the markdown table here")
    parser.add_argument("--json", help="also write the raw numbers here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
