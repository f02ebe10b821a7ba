"""Training scripts on tiny real data: prepare, fit, exact resume, export into a usable model."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from revive_core.resize import imresize
from tests.imaging import synthetic_rgb
from tests.jaxrun import JAX_MISSING, run_on_jax
from train import export, fit, prepare


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("photos")
    (source / "nested").mkdir()
    for index in range(3):
        Image.fromarray(synthetic_rgb(70 + 13 * index, 90, index)).save(source / ("nested" if index else ".") / f"p{index}.png")
    output = tmp_path_factory.mktemp("pairs")
    arguments = ["--source", str(source), "--output", str(output), "--scales", "2", "3", "--workers", "2"]
    assert prepare.main(prepare.parse_args(arguments)) == 0
    return output


def test_prepare_writes_exact_pairs_and_resumes(pairs: Path) -> None:
    names = sorted(path.stem for path in (pairs / "HR").glob("*.npy"))
    assert names == ["nested_p1", "nested_p2", "p0"]
    hr = np.load(pairs / "HR" / "p0.npy")
    assert hr.shape[0] % 12 == 0 and hr.shape[1] % 12 == 0
    assert np.array_equal(np.load(pairs / "x3" / "p0.npy"), imresize(hr, 1 / 3))
    before = {p: p.stat().st_mtime_ns for p in pairs.rglob("*.npy")}
    source = json.loads((pairs / "prepare.json").read_text())["source"]
    prepare.main(prepare.parse_args(["--source", source, "--output", str(pairs), "--scales", "2", "3"]))
    assert {p: p.stat().st_mtime_ns for p in pairs.rglob("*.npy")} == before


def test_prepare_in_one_process_writes_what_worker_processes_wrote(pairs: Path, tmp_path: Path) -> None:
    source = json.loads((pairs / "prepare.json").read_text())["source"]
    assert prepare.main(prepare.parse_args(["--source", source, "--output", str(tmp_path), "--scales", "2", "3",
                                            "--workers", "1"])) == 0
    written = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*.npy"))
    assert written == sorted(path.relative_to(pairs) for path in pairs.rglob("*.npy")) and len(written) == 9
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (pairs / relative).read_bytes()


def test_prepare_upscaled_inputs_are_added_later_and_give_the_same_batches(pairs: Path, tmp_path: Path) -> None:
    """``--upscaled`` on a finished folder adds the upscaled Y; the sampler then slices the same inputs."""
    from train.pipeline import PatchConfig, PatchSampler

    source = json.loads((pairs / "prepare.json").read_text())["source"]
    shutil.copytree(pairs, tmp_path / "pairs")
    before = {path: path.stat().st_mtime_ns for path in (tmp_path / "pairs").rglob("*.npy")}
    assert prepare.main(prepare.parse_args(["--source", source, "--output", str(tmp_path / "pairs"), "--scales", "2", "3",
                                            "--upscaled"])) == 0
    after = {path: path.stat().st_mtime_ns for path in (tmp_path / "pairs").rglob("*.npy")}
    assert {path: after[path] for path in before} == before  # nothing rewritten
    added = sorted(str(path.relative_to(tmp_path / "pairs")) for path in set(after) - set(before))
    assert added == [f"x{scale}_up/{name}.npy" for scale in (2, 3) for name in ("nested_p1", "nested_p2", "p0")]
    lr = np.load(pairs / "x3" / "p0.npy")
    upscaled = np.load(tmp_path / "pairs" / "x3_up" / "p0.npy")
    assert upscaled.dtype == np.float32 and upscaled.shape == np.load(pairs / "HR" / "p0.npy").shape[:2]
    np.testing.assert_array_equal(upscaled, prepare.upscaled_luminance(lr, 3))

    config = PatchConfig(patch_size=17, batch_size=6, scales=(2, 3), seed=4)
    per_patch, sliced = PatchSampler(pairs, config), PatchSampler(tmp_path / "pairs", config)
    for index in range(4):
        (inputs, targets), (sliced_inputs, sliced_targets) = per_patch.batch(index), sliced.batch(index)
        np.testing.assert_array_equal(sliced_targets, targets)
        np.testing.assert_allclose(sliced_inputs, inputs, rtol=0, atol=1e-6)  # BLAS summation order: <= 1 ulp
    for path in (tmp_path / "pairs").glob("x*_up/*.npy"):  # the sampler really reads them
        np.save(path, np.zeros_like(np.load(path)))
    assert not PatchSampler(tmp_path / "pairs", config).batch(0)[0].any()


def test_patches_larger_than_an_image_skip_it_and_no_image_large_enough_is_a_clear_error(pairs: Path,
                                                                                      tmp_path: Path) -> None:
    """p0 (60 HR pixels high after train.prepare's crop, 20 at x3) cannot hold a 72-pixel patch at x3 (24 LR
    pixels): the sampler draws exactly as it would from a set without p0."""
    from train.pipeline import PatchConfig, PatchSampler

    shutil.copytree(pairs, tmp_path / "pairs")
    for folder in ("HR", "x2", "x3"):
        (tmp_path / "pairs" / folder / "p0.npy").unlink()
    config = PatchConfig(patch_size=72, batch_size=5, scales=(3,), seed=9)
    full, without = PatchSampler(pairs, config), PatchSampler(tmp_path / "pairs", config)
    assert full.fitting(3) == ["nested_p1", "nested_p2"] == without.names
    for index in range(3):
        for got, expected in zip(full.batch(index), without.batch(index)):
            np.testing.assert_array_equal(got, expected)
    small = PatchSampler(pairs, PatchConfig(patch_size=24, batch_size=2, scales=(2, 3), seed=9))
    assert small.fitting(2) == small.fitting(3) == small.names  # nothing skipped: earlier runs draw as before
    with pytest.raises(ValueError, match="no prepared image holds a 120-pixel patch at x2"):
        PatchSampler(pairs, PatchConfig(patch_size=120, batch_size=2, scales=(2,), seed=9)).batch(0)


def fit_args(pairs: Path, run_dir: Path, steps: int) -> list[str]:
    return ["--arch", "srcnn", "--arch-args", '{"filters": [8, 4]}', "--padding", "valid", "--scales", "2", "3",
            "--pairs", str(pairs), "--run-dir", str(run_dir), "--patch-size", "24", "--batch-size", "4",
            "--steps", str(steps), "--chunk", "2", "--checkpoint-minutes", "0", "--warmup-steps", "1",
            "--learning-rate", "1e-3", "--validate", str(run_dir / "no-validation")]


def weights_of(run_dir: Path) -> list[np.ndarray]:
    import keras

    return keras.models.load_model(run_dir / "checkpoint.keras").get_weights()


def test_fit_resumes_exactly(pairs: Path, tmp_path: Path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert fit.main(fit.parse_args(fit_args(pairs, straight, 4))) == 0
    assert fit.main(fit.parse_args(fit_args(pairs, resumed, 4) + ["--stop-after-minutes", "0"])) == 0
    assert json.loads((resumed / "state.json").read_text())["step"] == 2
    assert fit.main(fit.parse_args(fit_args(pairs, resumed, 4))) == 0
    for first, second in zip(weights_of(straight), weights_of(resumed)):
        np.testing.assert_allclose(first, second, rtol=0, atol=1e-6)
    # Training must not be reset to the moving average between chunks: raw and EMA weights differ.
    import keras

    ema_model = keras.models.load_model(straight / "checkpoint.keras", compile=False)  # no optimizer to load into
    ema_model.load_weights(straight / "ema.weights.h5")
    raw, averaged = weights_of(straight), ema_model.get_weights()
    assert max(float(np.abs(a - b).max()) for a, b in zip(raw, averaged)) > 1e-4
    config = json.loads((straight / "config.json").read_text())
    assert config["arch"] == "srcnn" and config["steps"] == 4
    assert (straight / "ema.weights.h5").exists()
    # A finished run whose EMA file is gone (they are not tracked by default) gets it back, bit for bit.
    (straight / "ema.weights.h5").unlink()
    assert fit.main(fit.parse_args(fit_args(pairs, straight, 4))) == 0
    ema_model.load_weights(straight / "ema.weights.h5")
    for before, after in zip(averaged, ema_model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    logged = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in logged] == [2, 4] and all(np.isfinite(e["loss"]) for e in logged)
    assert list((straight / "logs").glob("events.out.tfevents.*"))


def test_fit_stops_at_steps_that_are_not_a_multiple_of_the_chunk(pairs: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert fit.main(fit.parse_args(fit_args(pairs, run_dir, 3))) == 0  # chunks of 2: used to run to step 4
    assert json.loads((run_dir / "state.json").read_text())["step"] == 3
    logged = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert logged == [2, 3] and (run_dir / "ema.weights.h5").exists()


def test_a_resumed_run_records_the_precision_its_checkpoint_computes_in(pairs: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert fit.main(fit.parse_args(fit_args(pairs, run_dir, 4) + ["--precision", "bf16", "--stop-after-minutes", "0"])) == 0
    assert json.loads((run_dir / "config.json").read_text())["resolved_precision"] == "bf16"
    # Resumed on a machine that would pick float32: the checkpoint's layers still compute in bf16.
    assert fit.main(fit.parse_args(fit_args(pairs, run_dir, 2) + ["--precision", "fp32"])) == 0
    assert json.loads((run_dir / "config.json").read_text())["resolved_precision"] == "bf16"


def test_exported_small_model_serves_the_cli(pairs: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    run_dir = tmp_path / "run"
    assert fit.main(fit.parse_args(fit_args(pairs, run_dir, 2))) == 0
    weights = tmp_path / "weights"
    monkeypatch.setenv("REVIVE_WEIGHTS_DIR", str(weights))
    assert export.main(export.parse_args(["--run-dir", str(run_dir), "--key", "tiny-x23", "--family", "tiny",
                                          "--description", "test", "--sets", "none"])) == 0
    manifest = json.loads((weights / "manifest.json").read_text())["models"]["tiny-x23"]
    assert manifest["scales"] == [2, 3] and manifest["recipe"]["steps_trained"] == 2
    assert manifest["arguments"] == {"filters": [8, 4]}
    from revive_core.cli import main
    from revive_core.models import list_models

    assert [(info.name, info.scales) for info in list_models()] == [("tiny", (2, 3))]
    photo = tmp_path / "photo.png"
    Image.fromarray(synthetic_rgb(20, 24)).save(photo)
    assert main(["upscale", str(photo), "-o", str(tmp_path / "out"), "--scale", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["model"] == "tiny" and report["output_size"] == [72, 60]


def test_fine_tune_from_shipped_weights_records_the_run_that_made_them(pairs: Path, tmp_path: Path,
                                                                       monkeypatch) -> None:
    """Started from ``weights/`` (which its export overwrites), a fine-tune's recipe names the run instead."""
    weights = tmp_path / "weights"
    monkeypatch.setenv("REVIVE_WEIGHTS_DIR", str(weights))
    first, second = tmp_path / "runs" / "first", tmp_path / "runs" / "second"
    command = ["--key", "tiny-x23", "--family", "tiny", "--sets", "none"]
    assert fit.main(fit.parse_args(fit_args(pairs, first, 2))) == 0
    assert export.main(export.parse_args(["--run-dir", str(first)] + command)) == 0
    shipped = weights / "tiny-x23.weights.h5"
    assert fit.main(fit.parse_args(fit_args(pairs, second, 2) + ["--init-weights", str(shipped)])) == 0
    from revive_core.weights import sha256_of

    assert json.loads((second / "config.json").read_text())["init_sha256"] == sha256_of(shipped)
    assert export.main(export.parse_args(["--run-dir", str(second)] + command)) == 0
    recipe = json.loads((weights / "manifest.json").read_text())["models"]["tiny-x23"]["recipe"]
    assert f"--init-weights {first / 'ema.weights.h5'}" in recipe["command"] and "sha256" not in recipe["command"]
    assert f"--run-dir {first}" in recipe["initialised_from"]["command"]
    assert recipe["initialised_from"]["steps_trained"] == 2

    third = tmp_path / "runs" / "third"  # from second's folder: the chain's middle link started from weights/
    assert fit.main(fit.parse_args(fit_args(pairs, third, 2) + ["--init-weights", str(second / "ema.weights.h5")])) == 0
    assert export.main(export.parse_args(["--run-dir", str(third)] + command)) == 0
    recipe = json.loads((weights / "manifest.json").read_text())["models"]["tiny-x23"]["recipe"]
    assert f"--run-dir {second}" in recipe["initialised_from"]["command"]
    assert f"--init-weights {first / 'ema.weights.h5'}" in recipe["initialised_from"]["command"]
    assert f"--run-dir {first}" in recipe["initialised_from"]["initialised_from"]["command"]


def test_export_keeps_shipped_weights_that_measure_better(pairs: Path, tmp_path: Path, monkeypatch) -> None:
    """A re-export that scores lower is refused and leaves file and entry as they were; --allow-worse ships it."""
    import keras

    benchmark = tmp_path / "shared" / "datasets" / "benchmark" / "Tiny"
    benchmark.mkdir(parents=True)
    for index in range(2):
        Image.fromarray(synthetic_rgb(36, 48, 10 + index)).save(benchmark / f"t{index}.png")
    monkeypatch.setenv("REVIVE_SHARED", str(tmp_path / "shared"))
    weights = tmp_path / "weights"
    monkeypatch.setenv("REVIVE_WEIGHTS_DIR", str(weights))
    run_dir = tmp_path / "run"
    assert fit.main(fit.parse_args(fit_args(pairs, run_dir, 2))) == 0
    command = ["--key", "tiny-x23", "--family", "tiny", "--sets", "Tiny"]
    assert export.main(export.parse_args(["--run-dir", str(run_dir)] + command)) == 0
    shipped_manifest = (weights / "manifest.json").read_bytes()
    shipped_weights = (weights / "tiny-x23.weights.h5").read_bytes()
    measured = json.loads(shipped_manifest)["models"]["tiny-x23"]["measured"]["Tiny"]
    assert set(measured) == {"x2", "x3"}

    broken = tmp_path / "broken"  # the same run with every weight zeroed: a black picture
    shutil.copytree(run_dir, broken)
    model = keras.models.load_model(run_dir / "checkpoint.keras", compile=False)
    model.set_weights([np.zeros_like(array) for array in model.get_weights()])
    model.save_weights(broken / "ema.weights.h5")
    assert export.main(export.parse_args(["--run-dir", str(broken)] + command)) == 1
    assert (weights / "manifest.json").read_bytes() == shipped_manifest
    assert (weights / "tiny-x23.weights.h5").read_bytes() == shipped_weights
    assert sorted(path.name for path in weights.iterdir()) == ["manifest.json", "tiny-x23.weights.h5"]
    # A new x2 specialist is judged against the model that serves x2 now, and left out when worse.
    specialist = tmp_path / "broken-x2"
    shutil.copytree(broken, specialist)
    config = json.loads((specialist / "config.json").read_text())
    (specialist / "config.json").write_text(json.dumps({**config, "scales": [2]}))
    assert export.main(export.parse_args(["--run-dir", str(specialist), "--key", "tiny-x2", "--family", "tiny",
                                          "--sets", "Tiny"])) == 1
    assert (weights / "manifest.json").read_bytes() == shipped_manifest
    assert sorted(path.name for path in weights.iterdir()) == ["manifest.json", "tiny-x23.weights.h5"]

    assert export.main(export.parse_args(["--run-dir", str(broken), "--allow-worse"] + command)) == 0
    entry = json.loads((weights / "manifest.json").read_text())["models"]["tiny-x23"]
    assert entry["measured"]["Tiny"]["x2"]["psnr"] < measured["x2"]["psnr"]
    assert (weights / "tiny-x23.weights.h5").read_bytes() != shipped_weights


def test_tiny_revive_trains_on_damage_exports_and_repairs_at_scale_1(pairs: Path, tmp_path: Path, monkeypatch,
                                                                    capsys) -> None:
    """--degrade: on-the-fly damage, scale 1, a 2-channel (Y + strength) input, then --scale 1 --strength."""
    run_dir = tmp_path / "revive"
    arguments = ["--arch", "revive", "--arch-args", '{"filters": 8, "blocks": 1}', "--degrade", "--scales", "1", "2",
                 "--pairs", str(pairs), "--run-dir", str(run_dir), "--patch-size", "24", "--batch-size", "2",
                 "--steps", "2", "--chunk", "1", "--checkpoint-minutes", "0", "--warmup-steps", "1",
                 "--loss", "l1", "--validate", str(run_dir / "no-validation")]
    assert fit.main(fit.parse_args(arguments)) == 0
    assert json.loads((run_dir / "config.json").read_text())["degrade"] == "{}"
    # Fine-tune on heavier damage from its EMA weights, then ship the fine-tune.
    tuned = tmp_path / "revive_heavy"
    tune_arguments = [value.replace(str(run_dir), str(tuned)) for value in arguments]
    tune_arguments[tune_arguments.index("--degrade") + 1:tune_arguments.index("--degrade") + 1] = ['{"severity_exponent": 0.5}']
    assert fit.main(fit.parse_args(tune_arguments + ["--init-weights", str(run_dir / "ema.weights.h5"), "--steps", "1"])) == 0
    # Grow the fine-tune by a residual block (layers copied by name; the new block starts near the
    # identity), then ship the grown network: the manifest records the whole chain of runs.
    grown = tmp_path / "revive_grown"
    grow_arguments = [value.replace(str(run_dir), str(grown)) for value in arguments]
    grow_arguments[grow_arguments.index("--arch-args") + 1] = '{"filters": 8, "blocks": 2}'
    assert fit.main(fit.parse_args(grow_arguments + ["--init-weights", str(tuned / "ema.weights.h5"), "--steps", "1"])) == 0
    from revive_core.architectures import build

    small, large = build("revive", filters=8, blocks=1), build("revive", filters=8, blocks=2)
    small.load_weights(tuned / "ema.weights.h5")
    large.load_weights(grown / "ema.weights.h5")
    for name in ("head", "block1_conv1", "block1_conv2", "tail"):  # one step at lr ~0 away from the copy
        for before, after in zip(small.get_layer(name).get_weights(), large.get_layer(name).get_weights()):
            np.testing.assert_allclose(after, before, atol=1e-3)
    weights = tmp_path / "weights"
    monkeypatch.setenv("REVIVE_WEIGHTS_DIR", str(weights))
    assert export.main(export.parse_args(["--run-dir", str(grown), "--key", "revive-tiny", "--family", "revive",
                                          "--description", "test", "--sets", "none"])) == 0
    entry = json.loads((weights / "manifest.json").read_text())["models"]["revive-tiny"]
    recipe = entry["recipe"]
    assert entry["arguments"] == {"filters": 8, "blocks": 2}
    assert recipe["steps_trained"] == 1 and "--init-weights" in recipe["command"]
    assert recipe["initialised_from"]["steps_trained"] == 1 and "severity_exponent" in recipe["initialised_from"]["command"]
    assert recipe["initialised_from"]["initialised_from"]["steps_trained"] == 2
    assert "--init-weights" not in recipe["initialised_from"]["initialised_from"]["command"]
    from revive_core.cli import main

    photo = tmp_path / "old.png"
    Image.fromarray(synthetic_rgb(30, 34)).save(photo)
    outputs = {}
    for strength in ("0", "1"):
        out = tmp_path / f"out{strength}.png"
        assert main(["upscale", str(photo), "-o", str(out), "--scale", "1", "--model", "revive",
                     "--strength", strength, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)[0]
        assert report["model"] == "revive" and report["output_size"] == [34, 30] and report["strength"] == float(strength)
        outputs[strength] = np.asarray(Image.open(out))
    assert not np.array_equal(outputs["0"], outputs["1"])  # the strength plane reaches the network
    assert main(["upscale", str(photo), "-o", str(tmp_path / "auto.png"), "--scale", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["model"] == "revive"  # Auto: the only model serving x1


@pytest.mark.parametrize("arch, small_args, wide_args", [
    ("revive", {"filters": 8, "blocks": 2}, {"filters": 12, "blocks": 2}),
    ("vdsr", {"filters": 6, "depth": 4}, {"filters": 10, "depth": 4}),
])
def test_widening_a_network_keeps_what_it_computes(tmp_path: Path, arch: str, small_args: dict, wide_args: dict) -> None:
    """--init-weights from a narrower run: the old channels in front, the new ones cannot change the output."""
    from revive_core.architectures import build

    small = build(arch, **small_args)
    rng = np.random.default_rng(3)  # non-trivial weights everywhere, biases included
    small.set_weights([rng.normal(0.0, 0.3, array.shape).astype(np.float32) for array in small.get_weights()])
    run = tmp_path / "narrow"
    run.mkdir()
    small.save_weights(run / "ema.weights.h5")
    (run / "config.json").write_text(json.dumps({"arch": arch, "arch_args": json.dumps(small_args)}))
    wide = build(arch, **wide_args)
    fit.initialise(wide, run / "ema.weights.h5", arch, wide_args)

    picture = rng.random((1, 20, 22, small.input_shape[-1]), dtype=np.float32)
    expected = small.predict(picture, verbose=0)
    # Float32 sums over the added (zero-weighted) channels round differently, by CPU kernel: up to 5e-5
    # on outputs of magnitude ~40 on an AVX2-only host. A wrong copy would be off by whole units.
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(wide.predict(picture, verbose=0), expected, rtol=1e-5, atol=1e-5 * scale)
    first = next(layer for layer in wide.layers if layer.weights)
    assert np.abs(first.get_weights()[0][..., small_args["filters"]:]).max() > 0  # the new channels are live
    with pytest.raises(ValueError, match="cannot grow"):  # narrowing would drop trained channels
        fit.initialise(build(arch, **{**small_args, "filters": 4}), run / "ema.weights.h5", arch,
                       {**small_args, "filters": 4})


def test_vdsr_baseline_trains_on_damage_and_runs_are_scored_side_by_side(pairs: Path, tmp_path: Path, capsys) -> None:
    """The VDSR-style baseline (conditioned VDSR) trains with --degrade; --runs scores runs on the damaged sets."""
    from revive_core.architectures.revive import macs_per_pixel
    from train import evaluate_degraded

    run_dir = tmp_path / "vdsr_baseline"
    assert fit.main(fit.parse_args([
        "--arch", "vdsr", "--arch-args", '{"conditioned": true, "depth": 3, "filters": 4}', "--degrade", "--scales", "1", "2",
        "--pairs", str(pairs), "--run-dir", str(run_dir), "--patch-size", "24", "--batch-size", "2", "--steps", "2",
        "--chunk", "1", "--checkpoint-minutes", "0", "--warmup-steps", "1", "--validate", str(tmp_path / "none")])) == 0
    benchmark = tmp_path / "benchmark"
    benchmark.mkdir()
    Image.fromarray(synthetic_rgb(48, 64, 7)).save(benchmark / "b.png")
    output = tmp_path / "runs.json"
    assert evaluate_degraded.main(evaluate_degraded.parse_args([
        "--runs", str(run_dir), "--sets", str(benchmark), "--cases", "a", "b", "d", "--json", str(output)])) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1].split("|")
    assert row[1].strip() == "vdsr_baseline" and row[2].strip().startswith("vdsr") and row[3].strip() == "2"
    assert row[4].strip() == f"{macs_per_pixel('vdsr', depth=3, filters=4, conditioned=True) / 1000:.0f}"
    scores = json.loads(output.read_text())["vdsr_baseline"]["psnr"]
    assert set(scores) == {"a/benchmark", "b/benchmark"} and all(15 < value < 60 for value in scores.values())
    assert row[-2].strip() == "n/a"  # case (d) is x4, which this run was not trained for
    assert evaluate_degraded.main(evaluate_degraded.parse_args([
        "--runs", str(run_dir), "--sets", str(benchmark), "--cases", "a", "b", "--raw-weights", "--json", str(output)])) == 0
    trained = json.loads(output.read_text())["vdsr_baseline"]
    assert trained["raw_weights"] and set(trained["psnr"]) == set(scores) and trained["psnr"] != scores

    # --grid: the same runs over clean-to-heavy damage; a copy of a run scores the same, change +0.000.
    shutil.copytree(run_dir, tmp_path / "copy")
    assert evaluate_degraded.main(evaluate_degraded.parse_args([
        "--runs", str(run_dir), str(tmp_path / "copy"), "--sets", str(benchmark), "--grid", "--json", str(output)])) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    grid = json.loads(output.read_text())
    labels = [entry[0] for entry in evaluate_degraded.DAMAGE_GRID]
    assert list(grid) == ["vdsr_baseline", "copy"] and grid["copy"] == grid["vdsr_baseline"]
    assert list(grid["copy"]) == [f"benchmark/{label}" for label in labels]
    assert all(10 < value < 60 for value in grid["copy"].values())
    image = synthetic_rgb(49, 64, 7)  # the grid's inputs: cropped to the scale, fixed, and damaged as labelled
    clean, undamaged = evaluate_degraded.grid_damage(image, "b.png", 2, 0.0, None)
    assert clean.shape == (48, 64, 3) and np.array_equal(undamaged, imresize(clean, 1 / 2))
    heavy = evaluate_degraded.grid_damage(image, "b.png", 2, 15.0, 25)[1]
    assert np.array_equal(heavy, evaluate_degraded.grid_damage(image, "b.png", 2, 15.0, 25)[1])
    assert np.abs(heavy.astype(float) - undamaged).mean() > 5
    assert lines[-len(labels) - 2].startswith("| set | damage (x2) | vdsr_baseline | copy | change |")
    assert all(line.endswith("| +0.000 |") for line in lines[-len(labels):])
    with pytest.raises(SystemExit):
        evaluate_degraded.parse_args(["--grid"])


def test_throughput_counts_flops_from_real_shapes(capsys) -> None:
    from revive_core.architectures import build
    from revive_core.architectures.revive import macs_per_pixel
    from train import throughput

    vdsr = build("vdsr", depth=5, filters=16)
    assert throughput.forward_flops(vdsr, 41, 1) == 2 * macs_per_pixel("vdsr", depth=5, filters=16) * 41 * 41
    revive = build("revive", filters=8, blocks=1)
    assert throughput.forward_flops(revive, 40, 2) == 2 * macs_per_pixel("revive", filters=8, blocks=1) * 40 * 40
    args = throughput.parse_args(["--arch", "srcnn", "--arch-args", '{"filters": [8, 4]}', "--patch-size", "24",
                                  "--batch-size", "2", "--steps", "2", "--warmup-steps", "1", "--precisions", "fp32"])
    assert throughput.main(args) == 0
    row = capsys.readouterr().out.splitlines()[-1].split("|")
    assert row[1].strip() == "srcnn" and row[4].strip() == "fp32" and float(row[5]) > 0


@pytest.mark.skipif(JAX_MISSING, reason="no jax (pip install jax, or REVIVE_JAX_SITE=folder; .ci/run sets it up)")
def test_fit_runs_on_jax_resumes_exactly_and_its_weights_run_the_same_on_tensorflow(pairs: Path, tmp_path: Path) -> None:
    """The GPU machines have JAX and no TensorFlow: the same fit must train there, resume exactly (and
    the same from batches made in processes or threads), and write weights that the TensorFlow
    backend (the app) loads and runs to the same output."""
    import keras

    from revive_core.architectures import build

    repository = Path(__file__).resolve().parent.parent
    validation = tmp_path / "validation"
    validation.mkdir()
    Image.fromarray(synthetic_rgb(48, 64, 5)).save(validation / "v.png")
    arch_args = '{"filters": 8, "blocks": 1}'
    blocker = tmp_path / "no_tensorflow"

    def fit_on_jax(run_dir: Path, *extra: str) -> None:
        run_on_jax(["-m", "train.fit", "--arch", "revive", "--arch-args", arch_args, "--degrade", "--scales", "1", "2",
                    "--pairs", str(pairs), "--run-dir", str(run_dir), "--patch-size", "24", "--batch-size", "4",
                    "--steps", "4", "--chunk", "2", "--checkpoint-minutes", "0", "--warmup-steps", "1",
                    "--learning-rate", "1e-3", "--precision", "fp32", "--validate", str(validation), *extra], repository,
                   blocker)

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    fit_on_jax(straight, "--loader", "processes")  # worker processes; the resumed run's threads make the same batches
    fit_on_jax(resumed, "--stop-after-minutes", "0")
    assert json.loads((resumed / "state.json").read_text())["step"] == 2
    fit_on_jax(resumed)
    for first, second in zip(weights_of(straight), weights_of(resumed)):
        np.testing.assert_allclose(first, second, rtol=0, atol=1e-6)
    logged = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in logged if "loss" in entry] == [2, 4]
    assert all(np.isfinite(entry["psnr_validation_a"]) for entry in logged if "psnr_validation_a" in entry)

    rng = np.random.default_rng(0)
    blocks = np.concatenate([rng.random((1, 40, 44, 1)), np.full((1, 40, 44, 1), 0.7)], axis=3).astype(np.float32)
    np.save(tmp_path / "blocks.npy", blocks)
    script = ("import sys, numpy as np\nfrom revive_core.architectures import build\n"
              f"model = build('revive', padding='valid', **{arch_args})\n"
              "model.load_weights(sys.argv[1])\n"
              "np.save(sys.argv[3], np.asarray(model.predict_on_batch(np.load(sys.argv[2]))))\n")
    run_on_jax(["-c", script, str(straight / "ema.weights.h5"), str(tmp_path / "blocks.npy"), str(tmp_path / "jax.npy")],
               repository, blocker)
    model = build("revive", padding="valid", **json.loads(arch_args))
    model.load_weights(straight / "ema.weights.h5")
    assert keras.backend.backend() == "tensorflow"
    on_tensorflow = np.asarray(model.predict_on_batch(blocks))
    on_jax = np.load(tmp_path / "jax.npy")
    assert on_jax.shape == on_tensorflow.shape == (1, 40 - 2 * 8, 44 - 2 * 8, 1)
    np.testing.assert_allclose(on_jax, on_tensorflow, rtol=0, atol=1e-5)
    assert float(np.abs(on_tensorflow - blocks[..., 8:-8, 8:-8, :1]).max()) > 1e-4  # it learned a residual
