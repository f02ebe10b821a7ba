"""Ship a trained run: copy its EMA weights into weights/, add the manifest entry, measure PSNR.

    python -m train.export --run-dir runs/vdsr_x234 --key vdsr-x234 --family vdsr \
        --description "VDSR, 20 layers, one model for x2/x3/x4"

The entry records the architecture and arguments, scales, sha256, the training config and
command, the steps trained, and Set5/Set14 PSNR/SSIM measured through ``revive_core``. Files are
replaced atomically. When the key is already shipped with measured PSNR, the new weights must
score at least as well on the same sets and scales (mean PSNR); a new key (a per-scale specialist)
must score at least as well as the family's model that serves those scales now. Otherwise the
shipped file and entry are put back (a new key is left out) and the command exits with 1, unless
``--allow-worse``.
"""

from __future__ import annotations

import argparse
import shlex
import json
import logging
import shutil
import sys
from pathlib import Path

LOGGER = logging.getLogger("train.export")


def write_manifest(path: Path, manifest: dict) -> None:
    from revive_core.paths import write_text_atomic

    write_text_atomic(path, json.dumps(manifest, indent=2, sort_keys=False) + "\n")


def scores_of(entry: dict | None) -> dict[str, float]:
    """The PSNRs a manifest entry is judged by: for the revive family its damaged-benchmark rows at
    the suggested strength ("a/revive auto s/Set5", ...), for the others the clean ones ("Set5 x2")."""
    if not entry:
        return {}
    if entry.get("family") == "revive" and entry.get("measured_degraded"):
        return {key: value["psnr"] for key, value in entry["measured_degraded"].items()
                if "/revive auto s/" in key and value}
    return {f"{name} {scale}": value["psnr"] for name, scales in entry.get("measured", {}).items()
            for scale, value in scales.items()}


def incumbent_scores(manifest: dict, family: str, scales: list[int]) -> dict[str, float]:
    """The clean PSNRs ("Set5 x2", ...) of what serves each of ``scales`` in ``family`` now: per scale
    the entry with the fewest scales, as ``revive_core.models.entry_for`` picks. A new key (say a x3
    specialist beside a multi-scale model) is judged against the model it would take over from."""
    scores: dict[str, float] = {}
    for scale in scales:
        serving = [entry for entry in manifest["models"].values() if entry.get("family") == family
                   and scale in entry.get("scales", ())]
        if serving:
            incumbent = min(serving, key=lambda entry: len(entry["scales"]))
            scores.update({name: value for name, value in scores_of({"measured": incumbent.get("measured", {})}).items()
                           if name.endswith(f" x{scale}")})
    return scores


def install(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically."""
    from revive_core.paths import replacing

    with replacing(target) as temporary:
        shutil.copyfile(source, temporary)


def fit_flags(config: dict) -> str:
    """The ``train.fit`` command-line flags that reproduce a run's saved ``config.json``."""
    words: list[str] = []
    for name, value in config.items():
        if value is None or name in {"resolved_precision", "config", "init_sha256"}:
            continue
        words.append(f"--{name.replace('_', '-')}")
        words.extend(map(str, value) if isinstance(value, list) else [str(value)])
    return shlex.join(words)


def reproducible_init(config: dict, run_dir: Path) -> dict:
    """``config`` with ``init_weights`` pointing at a run's EMA file when it named other bytes.

    A fine-tune started from the shipped ``weights/`` file records that path, which this export
    overwrites, so neither the recorded command nor the chain of runs would reproduce it. The
    run beside ``run_dir`` whose ``ema.weights.h5`` has the sha256 ``train.fit`` recorded at the
    start (``init_sha256``) made those bytes; its path replaces the shipped one.
    """
    init, digest = config.get("init_weights"), config.get("init_sha256")
    if not init or (Path(init).parent / "config.json").exists():
        return config  # no fine-tune, or one from a run folder: the chain is already explicit
    from revive_core.weights import sha256_of

    if digest:
        for candidate in sorted(run_dir.parent.glob("*/ema.weights.h5")):
            if candidate.parent.resolve() != run_dir.resolve() and sha256_of(candidate) == digest:
                LOGGER.info("%s started from %s, the weights of %s", run_dir, init, candidate.parent)
                return {**config, "init_weights": str(candidate)}
    LOGGER.warning("%s started from %s, which no run beside it made; its recorded command needs that file",
                   run_dir, init)
    return config


def initialised_from(config: dict, depth: int = 0) -> dict | None:
    """The run a fine-tune started from (``--init-weights``), recursively, or None.

    Each level holds that run's ``command``, ``steps_trained`` and ``steps_planned`` and, if it was
    a fine-tune too, its own ``initialised_from``; runs whose folder is gone end the chain. A level
    that started from the shipped file names the run that made those bytes (``reproducible_init``).
    """
    init_dir = Path(config["init_weights"]).parent if config.get("init_weights") else None
    if init_dir is None or depth > 16 or not (init_dir / "config.json").exists() or not (init_dir / "state.json").exists():
        return None
    init_config = reproducible_init(json.loads((init_dir / "config.json").read_text()), init_dir)
    origin = {
        "command": f"python -m train.fit {fit_flags(init_config)}",
        "steps_trained": json.loads((init_dir / "state.json").read_text())["step"],
        "steps_planned": init_config["steps"],
    }
    earlier = initialised_from(init_config, depth + 1)
    if earlier:
        origin["initialised_from"] = earlier
    return origin


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from revive_core.paths import shared_root
    from revive_core.weights import MANIFEST_NAME, sha256_of, weights_dir
    from train.evaluate import score_images

    run_dir = Path(args.run_dir)
    config = reproducible_init(json.loads((run_dir / "config.json").read_text()), run_dir)
    state = json.loads((run_dir / "state.json").read_text())
    directory = weights_dir()
    directory.mkdir(parents=True, exist_ok=True)
    file_name = f"{args.key}.weights.h5"
    manifest_path = directory / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"format": 1, "models": {}}
    shipped = manifest["models"].get(args.key)
    old_scores = scores_of(shipped) if shipped else incumbent_scores(manifest, args.family, config["scales"])
    shipped_file = directory / shipped["file"] if shipped else None
    shipped_bytes = shipped_file.read_bytes() if shipped_file is not None and shipped_file.exists() else None
    install(run_dir / "ema.weights.h5", directory / file_name)
    flags = fit_flags(config)
    entry = {
        "family": args.family,
        "file": file_name,
        "architecture": config["arch"],
        "arguments": json.loads(config.get("arch_args", "{}")),
        "scales": config["scales"],
        "sha256": sha256_of(directory / file_name),
        "description": args.description,
        "recipe": {
            "command": f"python -m train.prepare --source ../shared/datasets/train --output {config['pairs']} "
                       f"--augment-scales 1.0 0.8 0.6 && python -m train.fit {flags}",
            "data": args.data,
            "steps_trained": state["step"],
            "steps_planned": config["steps"],
            "precision": config.get("resolved_precision"),
            "config": config,
        },
    }
    origin = initialised_from(config)
    if origin:  # a fine-tune: record the runs it started from, so the whole chain can be rerun
        entry["recipe"]["initialised_from"] = origin
    manifest["models"][args.key] = entry
    write_manifest(manifest_path, manifest)
    benchmark = shared_root() / "datasets" / "benchmark"
    scores = {}
    for name in args.sets:
        folder = benchmark / name
        if not folder.is_dir():
            continue
        for scale in (scale for scale in config["scales"] if scale > 1):  # x1 (repair only) has no clean score
            psnr, ssim = score_images(folder, scale, args.family)
            scores.setdefault(name, {})[f"x{scale}"] = {"psnr": round(psnr, 3), "ssim": round(ssim, 4)}
            LOGGER.info("%s x%d %s: %.3f / %.4f", args.key, scale, name, psnr, ssim)
    entry["measured"] = scores
    degraded_folders = [benchmark / name for name in args.sets if (benchmark / name).is_dir()]
    if args.family == "revive" and degraded_folders:  # the damaged benchmark (train.evaluate_degraded)
        from train.evaluate_degraded import benchmark as degraded_benchmark

        cases = [case for case, spec in (("a", 2), ("b", 1), ("c", 1), ("d", 4)) if spec in config["scales"]]
        _, raw = degraded_benchmark(degraded_folders, cases, None, with_vdsr=False)
        entry["measured_degraded"] = {key: {name: None if value is None else round(value, 4) for name, value in item.items()}
                                      for key, item in raw.items() if "/revive" in key}
    new_scores = scores_of(entry)
    compared = sorted(set(new_scores) & set(old_scores))
    if compared:
        new = sum(new_scores[key] for key in compared) / len(compared)
        old = sum(old_scores[key] for key in compared) / len(compared)
        LOGGER.info("%s: %.3f dB against %.3f for the %s (mean over %s)", args.key, new, old,
                    "shipped weights" if shipped else f"{args.family} model serving those scales now",
                    ", ".join(compared))
        if new < old and not args.allow_worse:
            if shipped_bytes is not None:
                from revive_core.paths import write_bytes_atomic

                write_bytes_atomic(shipped_file, shipped_bytes)
            if shipped_bytes is None or shipped_file != directory / file_name:  # shipped from the Hub only
                (directory / file_name).unlink(missing_ok=True)
            if shipped is None:
                del manifest["models"][args.key]
            else:
                manifest["models"][args.key] = shipped
            write_manifest(manifest_path, manifest)
            LOGGER.error("%s: the run scores %.3f dB, below the %.3f of the shipped weights; kept those "
                         "(pass --allow-worse to replace them)", args.key, new, old)
            return 1
    write_manifest(manifest_path, manifest)
    LOGGER.info("exported %s (%d steps) to %s", args.key, state["step"], directory / file_name)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--key", required=True, help="manifest key, e.g. srcnn-x2")
    parser.add_argument("--family", required=True, help="what users pick: srcnn, vdsr, revive")
    parser.add_argument("--description", default="")
    parser.add_argument("--data", default="T91 + BSD200 + General100 (../shared/datasets/train), scale augmentation 1.0/0.8/0.6")
    parser.add_argument("--sets", nargs="+", default=["Set5", "Set14"])
    parser.add_argument("--allow-worse", action="store_true",
                        help="replace shipped weights even when the run measures a lower mean PSNR")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
