"""Command line: ``python -m revive_core upscale INPUT... -o OUT`` (also installed as ``revive``).

Exit status: 0 when every input succeeded (or was skipped because its output exists), 1 when any
failed (one ``path: reason`` line each on stderr; the others are still processed), 2 for usage
errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


@dataclass
class Job:
    source: Path
    destination: Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="revive", description="Revive: upscale and restore photos.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upscale", help="upscale images or folders of images")
    up.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders (searched recursively)")
    up.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (or file, for one input file)")
    up.add_argument("--scale", type=int, default=2, choices=[1, 2, 3, 4], help="1: restore only (revive)")
    up.add_argument("--model", default="auto", help="auto or an installed model (see `revive models`)")
    up.add_argument("--strength", type=float, default=None, metavar="0..1",
                    help="revive only: how much damage to remove (default: from the damage estimate)")
    up.add_argument("--ensemble", action="store_true",
                    help="best quality: average 8 mirrored/rotated passes (8x slower, a little sharper and cleaner)")
    up.add_argument("--tile", type=int, default=None, help="tile size in output pixels; 0 disables tiling")
    up.add_argument("--format", choices=["png", "jpg", "webp", "tiff", "bmp"], help="output format (default: the input's)")
    up.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    up.add_argument("--json", action="store_true", help="print a JSON report per file on stdout")
    up.add_argument("--precision", choices=["auto", "bf16", "fp32"], default=None, help="default: $REVIVE_PRECISION, then the CPU")
    commands.add_parser("models", help="list installed models and their scales")
    return parser


def collect_jobs(inputs: list[str], output: str, suffix_for) -> tuple[list[Job], list[tuple[str, str]]]:
    """Pair every input image with its output path; returns (jobs, [(input, problem)])."""
    problems: list[tuple[str, str]] = []
    out = Path(output)
    single_file = len(inputs) == 1 and Path(inputs[0]).is_file()
    file_output = single_file and not out.is_dir() and out.suffix.lower() in IMAGE_SUFFIXES
    jobs: list[Job] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for root, folders, files in os.walk(path):
                folders[:] = sorted(folder for folder in folders if not folder.startswith("."))
                for name in sorted(files):
                    source = Path(root) / name
                    if source.suffix.lower() in IMAGE_SUFFIXES and not name.startswith("."):
                        relative = source.relative_to(path)
                        jobs.append(Job(source, out / relative.parent / (relative.stem + suffix_for(source))))
        elif path.is_file():
            destination = out if file_output else out / (path.stem + suffix_for(path))
            jobs.append(Job(path, destination))
        else:
            problems.append((item, "no such file or folder"))
    return jobs, problems


def _same_file(first: Path, second: Path) -> bool:
    try:
        return first.exists() and second.exists() and os.path.samefile(first, second)
    except OSError:
        return False


def run_upscale(args: argparse.Namespace) -> int:
    from revive_core import imageio
    from revive_core.api import upscale_picture, validate_settings
    from revive_core.errors import ReviveError, UsageError
    from revive_core.models import entry_for, list_models

    try:
        validate_settings(args.scale, args.tile, args.model, args.strength)
        if not list_models():
            raise UsageError("no trained weights are installed (weights/manifest.json lists none)")
        if args.model != "auto":
            entry_for(args.model, args.scale)
    except ReviveError as error:
        print(f"revive: {error}", file=sys.stderr)
        return 2

    def suffix_for(source: Path) -> str:
        if args.format:
            return imageio.SUFFIXES[imageio.FORMATS[args.format]]
        suffix = source.suffix.lower()
        return ".png" if suffix == ".gif" else (suffix if suffix in IMAGE_SUFFIXES else ".png")

    jobs, problems = collect_jobs(args.inputs, args.output, suffix_for)
    failures = 0
    for item, problem in problems:
        print(f"{item}: {problem}", file=sys.stderr)
        failures += 1
    inputs = [job.source for job in jobs]
    show_progress = sys.stderr.isatty() and not args.json
    reports = []
    for number, job in enumerate(jobs, 1):
        record = {"input": str(job.source), "output": str(job.destination)}
        try:
            if any(_same_file(job.destination, source) for source in inputs) or job.destination.resolve() in {
                source.resolve() for source in inputs
            }:
                raise UsageError("the output path is an input; refusing to overwrite it")
            if job.destination.exists() and not args.overwrite:
                record["status"] = "skipped: output exists (use --overwrite)"
                reports.append(record)
                continue
            picture = imageio.load(job.source)
            bar = _progress_bar(f"[{number}/{len(jobs)}] {job.source.name}") if show_progress else None
            output, report = upscale_picture(
                picture, args.scale, args.model, args.tile,
                progress=(lambda done, total, bar=bar: _advance(bar, done, total)) if bar else None,
                precision=args.precision, strength=args.strength, ensemble=args.ensemble,
            )
            if bar:
                bar.close()
            image_format = imageio.output_format(args.format, picture, job.destination)
            imageio.save(output, job.destination, image_format)
            for warning in output.warnings:
                print(f"{job.source}: warning: {warning}", file=sys.stderr)
            record.update(
                status="ok", model=report.model, reason=report.reason, scale=report.scale,
                input_size=list(report.input_size), output_size=list(report.output_size),
                seconds=round(report.seconds, 3), precision=report.precision, warnings=output.warnings,
                strength=report.strength, damage=report.damage, ensemble=report.ensemble,
                jpeg_quality=report.jpeg_quality,
            )
        except ReviveError as error:
            failures += 1
            record.update(status="failed", error=str(error))
            print(f"{job.source}: {error}", file=sys.stderr)
        except MemoryError:
            failures += 1
            record.update(status="failed", error="out of memory; try a smaller --tile")
            print(f"{job.source}: out of memory; try a smaller --tile", file=sys.stderr)
        reports.append(record)
    if args.json:
        print(json.dumps(reports, indent=2))
    return 1 if failures else 0


def _progress_bar(description: str):
    from tqdm import tqdm

    return tqdm(total=0, desc=description, unit="tile", leave=False)


def _advance(bar, done: int, total: int) -> None:
    bar.total = total
    bar.n = done
    bar.refresh()


def run_models() -> int:
    from revive_core.models import list_models

    models = list_models()
    if not models:
        print("no trained weights are installed (weights/manifest.json lists none)", file=sys.stderr)
        return 1
    for info in models:
        print(f"{info.name:8s} scales {', '.join(f'x{s}' for s in info.scales):12s} {info.description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.command == "models":
        return run_models()
    return run_upscale(args)


if __name__ == "__main__":
    sys.exit(main())
