"""One call of a lent GPU machine, prepared here: stage the tree, train there, bring the runs back.

    python -m train.device_session stage --photos ../shared/datasets/train \\
        --init weights/vdsr-x2.weights.h5 weights/vdsr-x3.weights.h5 weights/vdsr-x4.weights.h5
    # then the device tool's run, with the command and carry list that stage printed; on the machine:
    python3 -m train.device_session run --plan 2:200 3:130 4:130 --out "$OUT"
    # back here, with the folder the files came back to:
    python -m train.device_session unstage --results /work/.device/<call>/

A device call carries the working tree, at most 64 MiB, and returns at most 8 files of 16 MiB. The
tracked weights and checkpoints alone are over 100 MB, so ``stage`` moves every ``.h5`` and
``.keras`` file that would travel into a stash folder beside the checkout (``unstage`` puts them
back byte for byte), and copies what the run needs into the ignored ``.stage/`` folder: the
training photos, the ``--init`` weights and the keras wheels a machine without TensorFlow lacks
(in ``.whl/``). ``run`` itself needs only the standard library and ``revive_core.paths``; it calls
``train.prepare`` and ``train.fit`` in subprocesses: it prepares the pairs with ``--upscaled``,
measures the step rate and start-up cost once (a short calibration fit, thrown away), then gives
each ``scale:seconds`` entry of ``--plan`` a cosine schedule sized to its seconds, from
``.stage/init/<key>.weights.h5`` of that scale, and packs each run folder as one ``.tar`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from revive_core.paths import replacing, write_text_atomic  # standard library only: no Keras import

LOGGER = logging.getLogger("train.device_session")
REPOSITORY = Path(__file__).resolve().parent.parent
TREE_LIMIT_BYTES = 64 * 2**20  # what a device call carries at most
RETURN_LIMIT_BYTES = 16 * 2**20  # one file back from $OUT
HEAVY_SUFFIXES = (".h5", ".keras")
WHEELS = ("keras", "namex", "optree")  # what a JAX-only machine needs to run train.fit
PIP_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    stage = commands.add_parser("stage", help="here: make the tree fit one device call")
    stage.add_argument("--repo", default=str(REPOSITORY), help="the checkout that travels")
    stage.add_argument("--photos", required=True, help="training photos to carry (train.prepare --source there)")
    stage.add_argument("--init", nargs="*", default=[], help=".weights.h5 files the runs start from")
    stage.add_argument("--stash", default=None, help="where the heavy files wait (default: ../device-stash)")
    stage.add_argument("--python-version", default="3.12", help="the device machine's Python, for the wheels")
    stage.add_argument("--no-wheels", action="store_true", help="carry no keras wheels (the machine has keras)")

    unstage = commands.add_parser("unstage", help="here: put the heavy files back, unpack returned runs")
    unstage.add_argument("--repo", default=str(REPOSITORY))
    unstage.add_argument("--stash", default=None)
    unstage.add_argument("--results", default=None, help="folder holding the returned .tar files")

    run = commands.add_parser("run", help="on the device machine: prepare, calibrate, train the plan")
    run.add_argument("--plan", nargs="+", required=True, help="scale:seconds entries, trained in this order")
    run.add_argument("--out", default=os.environ.get("OUT", "device-out"), help="where the .tar files go")
    run.add_argument("--photos", default=".stage/photos")
    run.add_argument("--init-dir", default=".stage/init", help="holds <init-prefix><scale>.weights.h5")
    run.add_argument("--init-prefix", default="vdsr-x")
    run.add_argument("--runs-root", default="runs")
    run.add_argument("--run-prefix", default="vdsr_gpu_x", help="run folder = runs-root/<prefix><scale>")
    run.add_argument("--work", default="/tmp/revive-device", help="scratch: the pairs and the calibration run")
    run.add_argument("--calibrate-seconds", type=float, default=40.0)
    run.add_argument("--safety", type=float, default=0.92, help="fraction of the measured rate a schedule plans on")
    run.add_argument("--augment-scales", nargs="*", default=["1.0", "0.8", "0.6"])
    run.add_argument("--arch", default="vdsr")
    run.add_argument("--arch-args", default="{}")
    run.add_argument("--patch-size", type=int, default=96)
    run.add_argument("--batch-size", type=int, default=64)
    run.add_argument("--learning-rate", type=float, default=6e-5)
    run.add_argument("--final-learning-rate", type=float, default=1e-6)
    run.add_argument("--clipnorm", type=float, default=0.4)
    run.add_argument("--ema", type=float, default=0.999)
    run.add_argument("--chunk", type=int, default=100)
    run.add_argument("--seed", type=int, default=60)
    run.add_argument("--precision", default="auto")
    run.add_argument("--validate", default=None, help="HR folder for train.fit's checkpoint PSNR (default: none)")
    return parser.parse_args(argv)


def default_stash(repo: Path) -> Path:
    return repo.parent / "device-stash"


def travelling_files(repo: Path) -> list[Path]:
    """Tracked files and untracked ones git does not ignore (what a device call carries), relative."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                            check=True, capture_output=True).stdout.decode()
    return sorted({Path(name) for name in listed.split("\0") if name and (repo / name).is_file()})


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else 0


def download_wheels(target: Path, python_version: str) -> None:
    """The installed versions of ``WHEELS``, as wheels for the device machine's Python (x86-64)."""
    from importlib.metadata import version

    wanted = [f"{name}=={version(name)}" for name in WHEELS]
    present = {path.name.split("-")[0].lower() + "==" + path.name.split("-")[1] for path in target.glob("*.whl")}
    if all(item.lower() in present for item in wanted):
        return
    platforms = [argument for platform in PIP_PLATFORMS for argument in ("--platform", platform)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", python_version, "--implementation", "cp", *platforms, "-d", str(target),
                    *wanted], check=True)


def stage(args: argparse.Namespace) -> int:
    repo = Path(args.repo).resolve()
    stash = Path(args.stash).resolve() if args.stash else default_stash(repo)
    staged = repo / ".stage"
    checked = subprocess.run(["git", "check-ignore", "--no-index", ".stage/x", ".whl/x"], cwd=repo,
                             capture_output=True, text=True).stdout.split()
    if checked != [".stage/x", ".whl/x"]:
        raise SystemExit(".stage/ and .whl/ must be ignored by git (see .gitignore)")
    # Copy the inputs first: --init files usually sit among the heavy files moved below.
    if (staged / "photos").exists():
        shutil.rmtree(staged / "photos")
    shutil.copytree(Path(args.photos), staged / "photos")
    (staged / "init").mkdir(parents=True, exist_ok=True)
    for path in map(Path, args.init):
        shutil.copy2(path, staged / "init" / path.name)
    if not args.no_wheels:
        download_wheels(repo / ".whl", args.python_version)

    moved = [path for path in travelling_files(repo) if path.suffix in HEAVY_SUFFIXES]
    clashes = [str(stash / relative) for relative in moved if (stash / relative).exists()]
    if clashes:
        raise SystemExit(f"{clashes[0]} exists: unstage the last session first")
    # The listing first: if a move fails half-way, unstage still knows every file that may have left.
    listing = stash / "moved.txt"
    previous = listing.read_text().splitlines() if listing.exists() else []
    stash.mkdir(parents=True, exist_ok=True)
    write_text_atomic(listing, "".join(f"{name}\n" for name in sorted(set(previous) | {str(path) for path in moved})))
    for relative in moved:
        (stash / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(repo / relative, stash / relative)

    tree = sum((repo / path).stat().st_size for path in travelling_files(repo))
    carried = {name: folder_bytes(repo / name) for name in (".stage", ".whl") if (repo / name).is_dir()}
    total = tree + sum(carried.values())
    LOGGER.info("moved %d heavy files to %s; the call carries %.1f MiB (limit 64): tree %.1f, %s", len(moved), stash,
                total / 2**20, tree / 2**20, ", ".join(f"{name} {size / 2**20:.1f}" for name, size in carried.items()))
    if total > TREE_LIMIT_BYTES:
        LOGGER.error("over the device call's 64 MiB: carry fewer photos or --init files (unstage puts the moved "
                     "files back)")
        return 1
    install = ("python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "
               ".whl/*.whl && export PYTHONPATH=/tmp/site || exit; " if ".whl" in carried else "")
    LOGGER.info("carry %s; command: %sexport KERAS_BACKEND=jax PYTHONUNBUFFERED=1; python3 -m train.device_session "
                "run --plan 2:200 3:130 4:130 --out \"$OUT\" 2>&1 | tee \"$OUT/session.log\"", json.dumps(list(carried)), install)
    return 0


def unstage(args: argparse.Namespace) -> int:
    repo = Path(args.repo).resolve()
    stash = Path(args.stash).resolve() if args.stash else default_stash(repo)
    listing = stash / "moved.txt"
    for name in listing.read_text().splitlines() if listing.exists() else []:
        source, destination = stash / name, repo / name
        if not source.exists():
            continue
        if destination.exists():
            raise SystemExit(f"{destination} exists again: compare it with {source} and move one away")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, destination)
    if listing.exists():
        listing.unlink()
    for folder in sorted((path for path in stash.rglob("*") if path.is_dir()), reverse=True):  # deepest first
        if not any(folder.iterdir()):
            folder.rmdir()
    if stash.is_dir() and not any(stash.iterdir()):
        stash.rmdir()
    for archive in sorted(Path(args.results).glob("*.tar")) if args.results else []:
        with tarfile.open(archive) as bundle:
            names = bundle.getnames()
            if any(Path(name).is_absolute() or ".." in Path(name).parts for name in names):
                raise SystemExit(f"{archive}: a member leaves the runs folder")
            bundle.extractall(repo / "runs", filter="data")
        LOGGER.info("unpacked %s into runs/ (%s)", archive.name, ", ".join(names))
    return 0


def fit_command(args: argparse.Namespace, scale: int, run_dir: Path, pairs: Path, steps: int,
                stop_minutes: float, chunk: int) -> list[str]:
    command = [sys.executable, "-m", "train.fit", "--arch", args.arch, "--arch-args", args.arch_args,
               "--padding", "same", "--scales", str(scale), "--pairs", str(pairs), "--run-dir", str(run_dir),
               "--patch-size", str(args.patch_size), "--batch-size", str(args.batch_size), "--steps", str(steps),
               "--stop-after-minutes", f"{stop_minutes:.3f}", "--learning-rate", str(args.learning_rate),
               "--final-learning-rate", str(args.final_learning_rate),
               "--warmup-steps", str(max(1, min(200, steps // 20))), "--clipnorm", str(args.clipnorm), "--loss", "mse",
               "--ema", str(args.ema), "--precision", args.precision, "--chunk", str(chunk),
               "--checkpoint-minutes", "1000", "--seed", str(args.seed + scale),
               "--init-weights", str(Path(args.init_dir) / f"{args.init_prefix}{scale}.weights.h5")]
    return command + ["--validate", args.validate or str(Path(args.work) / "no-validation")]


def calibrate(metrics: Path, started: float) -> tuple[float, float]:
    """(steps per second, start-up seconds) from a fit's ``metrics.jsonl``: the rate between its first
    and last logged chunks, and what came before the first step."""
    logged = [entry for entry in map(json.loads, metrics.read_text().splitlines()) if "loss" in entry]
    if len(logged) < 2:
        raise RuntimeError(f"calibration logged {len(logged)} chunks: give it more seconds or a smaller --chunk")
    first, last = logged[0], logged[-1]
    rate = (last["step"] - first["step"]) / (last["time"] - first["time"])
    return rate, max(0.0, first["time"] - started - first["step"] / rate)


def pack(run_dir: Path, out: Path) -> Path:
    """``out/<run>.tar`` of the run folder (its TensorBoard logs left out)."""
    archive = out / f"{run_dir.name}.tar"
    with replacing(archive) as temporary, tarfile.open(temporary, "w") as bundle:  # a cut-off call leaves no half tar
        for path in sorted(run_dir.iterdir()):
            if path.is_file():
                bundle.add(path, arcname=f"{run_dir.name}/{path.name}")
    if archive.stat().st_size > RETURN_LIMIT_BYTES:
        LOGGER.warning("%s is %.1f MiB, over what a call returns", archive, archive.stat().st_size / 2**20)
    return archive


def run(args: argparse.Namespace) -> int:
    plan = [(int(scale), float(seconds)) for scale, seconds in (entry.split(":") for entry in args.plan)]
    out, work, runs_root = Path(args.out), Path(args.work), Path(args.runs_root)
    out.mkdir(parents=True, exist_ok=True)
    pairs = work / "pairs"
    scales = sorted({scale for scale, _ in plan})
    began = time.time()
    subprocess.run([sys.executable, "-m", "train.prepare", "--source", args.photos, "--output", str(pairs),
                    "--scales", *map(str, scales), "--augment-scales", *args.augment_scales, "--upscaled"], check=True)
    LOGGER.info("prepared the pairs in %.0f s", time.time() - began)

    calibration = work / "calibration"
    shutil.rmtree(calibration, ignore_errors=True)
    started = time.time()
    # Short chunks, so that even a slow machine logs a few of them after compiling.
    subprocess.run(fit_command(args, plan[0][0], calibration, pairs, 10**9, args.calibrate_seconds / 60,
                               max(2, args.chunk // 10)), check=True)
    rate, startup = calibrate(calibration / "metrics.jsonl", started)
    LOGGER.info("calibration: %.2f steps/s (%.0f patches/s), %.0f s before the first step", rate,
                rate * args.batch_size, startup)
    summary = {"steps_per_second": rate, "startup_seconds": startup, "patch_size": args.patch_size,
               "batch_size": args.batch_size, "runs": []}
    write_text_atomic(out / "session.json", json.dumps(summary, indent=2))

    for scale, seconds in plan:
        steps = int((seconds - startup) * rate * args.safety)
        if steps < 2 * args.chunk:
            LOGGER.warning("x%d: %.0f s buy only %d steps; skipped", scale, seconds, steps)
            continue
        steps -= steps % args.chunk  # whole chunks: the last log is the last step
        run_dir = runs_root / f"{args.run_prefix}{scale}"
        started = time.time()
        # The hard stop leaves the schedule unfinished only if the machine runs slower than measured.
        subprocess.run(fit_command(args, scale, run_dir, pairs, steps, 1.1 * seconds / 60, args.chunk), check=True)
        state = json.loads((run_dir / "state.json").read_text())
        archive = pack(run_dir, out)
        seconds_taken = time.time() - started
        LOGGER.info("x%d: %d of %d steps in %.0f s -> %s", scale, state["step"], steps, seconds_taken, archive)
        summary["runs"].append({"scale": scale, "run_dir": str(run_dir), "planned_steps": steps,
                                "trained_steps": state["step"], "seconds": seconds_taken})
        write_text_atomic(out / "session.json", json.dumps(summary, indent=2))  # after each run: a cut-off call keeps it
    LOGGER.info("session: %.0f s in all", time.time() - began)
    return 0


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return {"stage": stage, "unstage": unstage, "run": run}[args.command](args)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
