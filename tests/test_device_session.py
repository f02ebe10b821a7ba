"""train.device_session: staging a checkout for one GPU call and back, and the call's run on JAX."""

import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.imaging import synthetic_rgb
from tests.jaxrun import JAX_MISSING, run_on_jax
from train import device_session

REPOSITORY = Path(__file__).resolve().parent.parent


def session(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "train.device_session", *arguments], cwd=REPOSITORY,
                          capture_output=True, text=True, timeout=300)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git(repo: Path, *arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture()
def checkout(tmp_path: Path) -> Path:
    """A git checkout with tracked and untracked heavy files, small code and an ignored folder."""
    repo = tmp_path / "repo"
    (repo / "weights").mkdir(parents=True)
    (repo / "runs" / "old").mkdir(parents=True)
    (repo / ".gitignore").write_text("/.stage/\n/.whl/\nruns/*/ema.weights.h5\n")
    (repo / "code.py").write_text("print('hi')\n")
    rng = np.random.default_rng(0)
    (repo / "weights" / "m-x2.weights.h5").write_bytes(rng.bytes(5000))
    (repo / "runs" / "old" / "checkpoint.keras").write_bytes(rng.bytes(7000))
    git(repo, "init", "-q")
    git(repo, "add", ".gitignore", "code.py", "weights/m-x2.weights.h5")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "start")
    (repo / "runs" / "old" / "ema.weights.h5").write_bytes(rng.bytes(3000))  # ignored: never travels, never moved
    return repo


def test_stage_moves_every_travelling_heavy_file_out_and_unstage_puts_them_back(checkout: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(synthetic_rgb(30, 40)).save(photos / "a.png")
    stash = tmp_path / "stash"
    heavy = {name: digest(checkout / name) for name in ("weights/m-x2.weights.h5", "runs/old/checkpoint.keras")}

    staged = session("stage", "--repo", str(checkout), "--photos", str(photos), "--stash", str(stash), "--no-wheels",
                     "--init", str(checkout / "weights" / "m-x2.weights.h5"))
    assert staged.returncode == 0, staged.stderr
    assert "carries 0.0 MiB" in staged.stderr and '".stage"' in staged.stderr
    assert not any((checkout / name).exists() for name in heavy)
    assert {name: digest(stash / name) for name in heavy} == heavy
    assert digest(checkout / ".stage" / "init" / "m-x2.weights.h5") == heavy["weights/m-x2.weights.h5"]
    assert (checkout / ".stage" / "photos" / "a.png").read_bytes() == (photos / "a.png").read_bytes()
    assert (checkout / "runs" / "old" / "ema.weights.h5").exists()  # ignored files stay where they are
    assert device_session.travelling_files(checkout) == [Path(".gitignore"), Path("code.py")]

    # What a device call returns: one .tar per run; a member that leaves runs/ is refused.
    results = tmp_path / "results"
    results.mkdir()
    run_dir = tmp_path / "made" / "new_x2"
    run_dir.mkdir(parents=True)
    (run_dir / "state.json").write_text('{"step": 4}')
    (run_dir / "ema.weights.h5").write_bytes(b"weights")
    device_session.pack(run_dir, results)
    unstaged = session("unstage", "--repo", str(checkout), "--stash", str(stash), "--results", str(results))
    assert unstaged.returncode == 0, unstaged.stderr
    assert {name: digest(checkout / name) for name in heavy} == heavy
    assert not stash.exists()
    assert git(checkout, "status", "--porcelain").splitlines() == ["?? runs/"]  # old/checkpoint.keras, new_x2/
    assert json.loads((checkout / "runs" / "new_x2" / "state.json").read_text()) == {"step": 4}
    assert (checkout / "runs" / "new_x2" / "ema.weights.h5").read_bytes() == b"weights"

    with tarfile.open(results / "evil.tar", "w") as bundle:
        bundle.add(run_dir / "state.json", arcname="../escaped.json")
    (results / "new_x2.tar").unlink()
    refused = session("unstage", "--repo", str(checkout), "--stash", str(stash), "--results", str(results))
    assert refused.returncode != 0 and "leaves the runs folder" in refused.stderr
    assert not (checkout / "escaped.json").exists()


def test_stage_refuses_a_checkout_that_would_commit_the_staged_photos(checkout: Path, tmp_path: Path) -> None:
    (checkout / ".gitignore").write_text("/.whl/\n")
    refused = session("stage", "--repo", str(checkout), "--photos", str(tmp_path), "--no-wheels")
    assert refused.returncode != 0 and "must be ignored" in refused.stderr
    assert (checkout / "weights" / "m-x2.weights.h5").exists()


def test_calibration_reads_the_rate_between_logged_chunks_and_the_startup_before_them(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    entries = [{"step": 10, "time": 1030.0, "loss": 1.0}, {"step": 10, "time": 1031.0, "psnr_Set5_x2": 30.0},
               {"step": 20, "time": 1035.0, "loss": 0.5}, {"step": 30, "time": 1040.0, "loss": 0.4}]
    metrics.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    rate, startup = device_session.calibrate(metrics, started=1000.0)
    assert rate == pytest.approx(2.0) and startup == pytest.approx(25.0)  # 20 steps in 10 s; 30 s - 10 steps / 2
    metrics.write_text(json.dumps(entries[0]) + "\n")
    with pytest.raises(RuntimeError, match="logged 1 chunks"):
        device_session.calibrate(metrics, started=1000.0)


@pytest.mark.skipif(JAX_MISSING, reason="no jax (pip install jax, or REVIVE_JAX_SITE=folder; .ci/run sets it up)")
def test_run_prepares_calibrates_and_trains_the_plan_on_jax_into_one_tar_per_run(tmp_path: Path) -> None:
    """The device side, on the CPU: photos in, a sized schedule per plan entry, runs packed for the
    way back; the weights it trained load in the TensorFlow backend and differ from where they began."""
    import keras

    from revive_core.architectures import build

    photos, init, out = tmp_path / "photos", tmp_path / "init", tmp_path / "out"
    photos.mkdir()
    init.mkdir()
    for index in range(3):
        Image.fromarray(synthetic_rgb(60 + 12 * index, 72, index)).save(photos / f"p{index}.png")
    arch_args = {"depth": 3, "filters": 8}
    start = build("vdsr", **arch_args)
    start.save_weights(init / "tiny-x2.weights.h5")

    run_on_jax(["-m", "train.device_session", "run", "--plan", "2:30", "--out", str(out), "--photos", str(photos),
                "--init-dir", str(init), "--init-prefix", "tiny-x", "--runs-root", str(tmp_path / "runs"),
                "--run-prefix", "tiny_x", "--work", str(tmp_path / "work"), "--calibrate-seconds", "12",
                "--augment-scales", "1.0", "--arch-args", json.dumps(arch_args), "--patch-size", "24",
                "--batch-size", "2", "--chunk", "10", "--precision", "fp32", "--learning-rate", "1e-3"],
               REPOSITORY, tmp_path / "no_tensorflow")

    summary = json.loads((out / "session.json").read_text())
    assert summary["steps_per_second"] > 0 and len(summary["runs"]) == 1
    entry = summary["runs"][0]
    assert entry["trained_steps"] == entry["planned_steps"] >= 20 and entry["planned_steps"] % 10 == 0
    with tarfile.open(out / "tiny_x2.tar") as bundle:
        names = set(bundle.getnames())
        bundle.extractall(tmp_path / "back", filter="data")
    assert {"tiny_x2/ema.weights.h5", "tiny_x2/config.json", "tiny_x2/state.json", "tiny_x2/metrics.jsonl",
            "tiny_x2/checkpoint.keras"} <= names
    config = json.loads((tmp_path / "back" / "tiny_x2" / "config.json").read_text())
    assert config["steps"] == entry["planned_steps"] and config["scales"] == [2] and config["batch_size"] == 2
    assert config["init_sha256"] == digest(init / "tiny-x2.weights.h5")
    trained = build("vdsr", **arch_args)
    trained.load_weights(tmp_path / "back" / "tiny_x2" / "ema.weights.h5")
    assert keras.backend.backend() == "tensorflow"
    moved = max(float(np.abs(a - b).max()) for a, b in zip(trained.get_weights(), start.get_weights()))
    assert moved > 1e-5
