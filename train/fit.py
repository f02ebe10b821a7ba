"""Train any registered architecture on prepared pairs, with checkpoints and exact resume.

    python -m train.fit --arch vdsr --scales 2 3 4 --run-dir runs/vdsr --steps 60000

Running the same command again resumes from ``<run-dir>/checkpoint.keras`` (model, optimizer,
EMA weights and step; batches are a pure function of the step, so the stream continues exactly);
on a finished run it only rewrites a missing ``ema.weights.h5`` from the checkpoint.
Writes ``config.json``, TensorBoard logs in ``logs/``, and the EMA weights ``ema.weights.h5``
at every checkpoint; ``python -m train.export`` turns those into a shipped model.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from revive_core._quiet import import_backend_quietly
from revive_core.paths import replacing, write_text_atomic

import_backend_quietly()

import keras  # noqa: E402
import numpy as np  # noqa: E402

LOGGER = logging.getLogger("train.fit")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="JSON file of defaults for any flag below (flags win)")
    parser.add_argument("--arch", default="vdsr")
    parser.add_argument("--arch-args", default="{}", help="JSON keyword arguments for the builder")
    parser.add_argument("--padding", choices=["same", "valid"], default="same",
                        help="valid: no zero padding, the loss sees only pixels with full context (SRCNN's recipe)")
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--pairs", default="~/.cache/revive/pairs", help="output folder of train.prepare")
    parser.add_argument("--run-dir", required=False)
    parser.add_argument("--patch-size", type=int, default=41)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60000, help="total optimiser steps (the LR schedule's length)")
    parser.add_argument("--stop-after-minutes", type=float, default=None, help="checkpoint and stop after this long")
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--final-learning-rate", type=float, default=1e-6)
    parser.add_argument("--warmup-steps", type=int, default=500)
    parser.add_argument("--clipnorm", type=float, default=None, help="gradient clipping (VDSR: 0.4 x 0.1/lr in the paper)")
    parser.add_argument("--loss", choices=["mse", "l1"], default="mse")
    parser.add_argument("--ema", type=float, default=0.999, help="EMA momentum of the exported weights (0 = off)")
    parser.add_argument("--precision", default="auto", help="auto | bf16 | fp32")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0 = all cores)")
    parser.add_argument("--loader", choices=["threads", "processes"], default="threads",
                        help="backends other than TensorFlow: make batches in threads or in forked processes "
                             "(a GPU outruns GIL-bound threads on --degrade patches)")
    parser.add_argument("--chunk", type=int, default=200, help="steps between logs")
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0)
    parser.add_argument("--validate", default=None, help="HR folder to report PSNR on at checkpoints (default: Set5 if present)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-weights", default=None, metavar="PATH",
                        help="start a new run from these .weights.h5 (e.g. another run's ema.weights.h5): fine-tuning")
    parser.add_argument("--degrade", nargs="?", const="{}", default=None, metavar="JSON",
                        help="train a revive model on random damage (train.degrade) made on the fly from the HR "
                             "arrays; optional JSON overrides of DegradationConfig; scale 1 allowed")
    args = parser.parse_args(argv)
    if args.config:
        defaults = json.loads(Path(args.config).read_text())
        parser.set_defaults(**defaults)
        args = parser.parse_args(argv)
    if not args.run_dir:
        parser.error("--run-dir is required")
    return args


def build_optimizer(args: argparse.Namespace) -> keras.optimizers.Optimizer:
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if args.warmup_steps else args.learning_rate,
        decay_steps=max(1, args.steps - args.warmup_steps),
        alpha=args.final_learning_rate / args.learning_rate,
        warmup_target=args.learning_rate if args.warmup_steps else None,
        warmup_steps=args.warmup_steps,
    )
    return keras.optimizers.Adam(
        learning_rate=schedule, clipnorm=args.clipnorm,
        use_ema=args.ema > 0, ema_momentum=args.ema or 0.99,
    )


def ema_weights(model, optimizer) -> list:
    """The model's weights with trainable ones replaced by their EMA (numpy, model order)."""
    averages = getattr(optimizer, "_model_variables_moving_average", None)
    if not averages:
        return model.get_weights()
    by_path = {variable.path: average for variable, average in zip(model.trainable_variables, averages)}
    return [keras.ops.convert_to_numpy(by_path.get(weight.path, weight)) for weight in model.weights]


def validate(model, context: int, folder: Path, scales: list[int]) -> dict[int, float]:
    """Mean Y-PSNR on ``folder`` (standard protocol) per scale; ``model`` is a "valid" network
    run the way inference runs it (mirrored context of ``context`` pixels, one tile)."""
    from PIL import Image

    from revive_core.colour import rgb_to_y
    from revive_core.metrics import calculate_psnr
    from revive_core.resize import imresize
    from revive_core.tiling import tiled_apply

    results = {}
    for scale in scales:
        scores = []
        for path in sorted(folder.glob("*.png")):
            with Image.open(path) as image:
                hr = np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)
            hr = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
            lr = imresize(hr, 1.0 / scale)
            to_y = (lambda a: rgb_to_y(a.astype(np.float32))) if hr.ndim == 3 else (lambda a: a.astype(np.float32))
            upscaled = imresize(to_y(lr) / np.float32(255.0), scale)
            output = tiled_apply(upscaled[..., None], model.predict_on_batch, context, tile=None)[..., 0]
            prediction = np.clip(np.round(output * 255.0), 0, 255)
            scores.append(calculate_psnr(prediction, to_y(hr), crop_border=scale))
        results[scale] = float(np.mean(scores))
    return results


def summary_writer(run_dir: Path):
    """A TensorBoard event-file writer for ``run_dir/logs`` on the TensorFlow backend; None on others."""
    if keras.backend.backend() != "tensorflow":
        LOGGER.info("backend %s: scalars go to metrics.jsonl only (TensorBoard event files need TensorFlow)",
                    keras.backend.backend())
        return None
    import tensorflow as tf

    return tf.summary.create_file_writer(str(run_dir / "logs"))


def log_scalars(writer, run_dir: Path, step: int, values: dict[str, float]) -> None:
    """Append ``values`` to ``metrics.jsonl`` and, given a ``writer``, to TensorBoard event files (scalars plugin)."""
    if writer is not None:
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        ).SerializeToString()
        with writer.as_default(step=step):
            for tag, value in values.items():
                tf.summary.write(tag, tf.constant(value, tf.float32), metadata=metadata)
        writer.flush()
    with open(run_dir / "metrics.jsonl", "a") as log:
        log.write(json.dumps({"step": step, "time": time.time(), **values}) + "\n")


def save_ema(model, optimizer, run_dir: Path) -> None:
    """Atomically replace ``ema.weights.h5`` with the EMA of ``model``'s weights (``ema_weights``)."""
    ema_model = model.__class__.from_config(model.get_config())
    ema_model.set_weights(ema_weights(model, optimizer))
    with replacing(run_dir / "ema.weights.h5") as temporary:
        ema_model.save_weights(temporary)


def save_checkpoint(model, optimizer, run_dir: Path, step: int) -> None:
    """Atomically replace ``checkpoint.keras`` and ``ema.weights.h5``."""
    with replacing(run_dir / "checkpoint.keras") as temporary:
        model.save(temporary)
    save_ema(model, optimizer, run_dir)
    state = {"step": step, "time": time.time()}
    write_text_atomic(run_dir / "state.json", json.dumps(state))


class Monitor(keras.callbacks.Callback):
    """Logs every chunk, checkpoints every few minutes, validates, stops on time or steps."""

    def __init__(self, args: argparse.Namespace, run_dir: Path, writer, optimizer, inference_model,
                 context: int, validation: Path) -> None:
        super().__init__()
        self.args, self.run_dir, self.writer = args, run_dir, writer
        self.optimizer, self.inference_model = optimizer, inference_model
        self.context, self.validation = context, validation
        self.started = self.last_checkpoint = time.time()
        self.chunk_start, self.chunk_first_step = self.started, 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.chunk_start, self.chunk_first_step = time.time(), int(keras.ops.convert_to_numpy(self.optimizer.iterations))

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        # --steps need not be a multiple of --chunk: end the last chunk early (on_epoch_end still runs).
        if self.chunk_first_step + batch + 1 >= self.args.steps:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        args = self.args
        step = int(keras.ops.convert_to_numpy(self.optimizer.iterations))
        seconds = time.time() - self.chunk_start
        learning_rate = float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))
        patches_per_second = (step - self.chunk_first_step) * args.batch_size / seconds
        loss_value = float((logs or {}).get("loss", float("nan")))
        LOGGER.info("step %d loss %.6f lr %.2e %.0f patches/s", step, loss_value, learning_rate, patches_per_second)
        log_scalars(self.writer, self.run_dir, step,
                    {"loss": loss_value, "learning_rate": learning_rate, "patches_per_second": patches_per_second})
        out_of_time = args.stop_after_minutes is not None and time.time() - self.started > 60 * args.stop_after_minutes
        finished = step >= args.steps
        if time.time() - self.last_checkpoint > 60 * args.checkpoint_minutes or finished or out_of_time:
            save_checkpoint(self.model, self.optimizer, self.run_dir, step)
            self.last_checkpoint = time.time()
            if self.validation.is_dir():
                self.inference_model.set_weights(ema_weights(self.model, self.optimizer))
                if args.degrade is not None:  # damaged benchmark cases (a)-(d), strength 1
                    from train.evaluate_degraded import validate_degraded

                    scores = validate_degraded(self.inference_model, self.context, self.validation, args.scales)
                else:
                    scores = {f"x{scale}": value for scale, value in
                              validate(self.inference_model, self.context, self.validation, args.scales).items()}
                LOGGER.info("checkpoint at step %d; %s PSNR (EMA): %s", step, self.validation.name,
                            ", ".join(f"{name} {value:.3f}" for name, value in scores.items()))
                log_scalars(self.writer, self.run_dir, step,
                            {f"psnr_{self.validation.name}_{name}": value for name, value in scores.items()})
        if out_of_time and not finished:
            LOGGER.info("stopping after %.1f minutes; run the same command to resume", args.stop_after_minutes)
        if finished or out_of_time:
            self.model.stop_training = True


def accelerator() -> str | None:
    """"gpu" when the JAX backend runs on a GPU (bf16 is native there), else None (the CPU decides)."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    return "gpu" if jax.default_backend() == "gpu" else None


def widen(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``new`` (a layer's freshly initialised array) holding ``old`` in its leading slice.

    For a convolution kernel (height, width, inputs, outputs) the added inputs feed the old outputs
    with zero weights, so the old channels compute what they did, whatever the new ones hold; the
    new outputs keep their initialisation (and the next layer ignores them until trained). Biases
    and other arrays just get the old values in front. Equal shapes return ``old``.

    Raises:
        ValueError: ``new`` is smaller in some dimension, or a kernel's spatial size differs.
    """
    if old.shape == new.shape:
        return old
    if old.ndim != new.ndim or any(before > after for before, after in zip(old.shape, new.shape)) or (
            old.ndim == 4 and old.shape[:2] != new.shape[:2]):
        raise ValueError(f"shape {old.shape} does not fit in {new.shape}")
    grown = np.array(new, copy=True)
    if old.ndim == 4:
        grown[..., : old.shape[3]] = 0.0
    grown[tuple(slice(0, size) for size in old.shape)] = old
    return grown


def initialise(model: keras.Model, weights: Path, arch: str, arch_args: dict[str, Any]) -> None:
    """Load ``weights`` (a run's ``.weights.h5``) into ``model`` before training.

    When the run that wrote them (``config.json`` beside the file) used other architecture
    arguments, e.g. fewer residual blocks or filters, the network is grown: layers are copied by
    name and the rest keep their initialisation (revive's new residual blocks start near the
    identity, so the grown network starts close to the old one). A wider layer gets the old
    weights in its leading channels (``widen``), so widening alone computes exactly what the old
    network did.
    """
    from revive_core.architectures import build

    source_config = weights.parent / "config.json"
    source_args = json.loads(json.loads(source_config.read_text()).get("arch_args", "{}")) if source_config.exists() else arch_args
    if source_args == arch_args:
        model.load_weights(weights)
        LOGGER.info("initialised from %s", weights)
        return
    source = build(arch, **source_args)
    source.load_weights(weights)
    source_layers = {layer.name: layer for layer in source.layers}
    copied, kept = [], []
    for layer in (layer for layer in model.layers if layer.weights):
        origin = source_layers.get(layer.name)
        if origin is None:
            kept.append(layer.name)
            continue
        try:
            layer.set_weights([widen(before, after) for before, after in
                               zip(origin.get_weights(), layer.get_weights(), strict=True)])
        except ValueError as error:
            raise ValueError(f"cannot grow {layer.name} from {source_args} to {arch_args}: {error}") from None
        copied.append(layer.name)
    LOGGER.info("initialised from %s (arguments %s): %d layers copied, new: %s", weights, source_args, len(copied),
                ", ".join(kept) or "none")


def model_precision(model: keras.Model) -> str:
    """"bf16" when any layer of ``model`` computes under mixed bfloat16, else "fp32"."""
    return "bf16" if any(layer.dtype_policy.name == "mixed_bfloat16" for layer in model.layers) else "fp32"


def init_digest(args: argparse.Namespace, run_dir: Path, resuming: bool) -> str | None:
    """sha256 of the ``--init-weights`` file as it was when the run started, or None.

    Recorded so that ``train.export`` can name the run that made those bytes when they were the
    shipped ``weights/`` file, which a later export replaces. A resumed run keeps its first record.
    """
    if not args.init_weights:
        return None
    previous = run_dir / "config.json"
    if resuming and previous.exists():
        return json.loads(previous.read_text()).get("init_sha256")
    from revive_core.weights import sha256_of

    return sha256_of(Path(args.init_weights))


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from revive_core.architectures import ARCHITECTURES, build
    from revive_core.paths import shared_root
    from revive_core.precision import dtype_policy, resolve_precision, usable_cores
    from train.pipeline import PatchConfig, PatchSampler, dataset

    backend = keras.backend.backend()
    if args.threads and backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = accelerator()
    precision = resolve_precision(args.precision, accelerator=device)
    checkpoint = run_dir / "checkpoint.keras"
    init_sha256 = init_digest(args, run_dir, resuming=checkpoint.exists())

    arch_args = json.loads(args.arch_args)
    keras.utils.set_random_seed(args.seed)  # initial weights are a function of the seed
    if checkpoint.exists():
        model = keras.models.load_model(checkpoint, compile=True)
        optimizer = model.optimizer
        step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        LOGGER.info("resumed %s at step %d", checkpoint, step)
    else:
        model = build(args.arch, dtype_policy=dtype_policy(precision), padding=args.padding, **arch_args)
        if args.init_weights:  # before the optimizer is built, so its moving average starts from them too
            initialise(model, Path(args.init_weights), args.arch, arch_args)
        optimizer = build_optimizer(args)
        step = 0
        loss = keras.losses.MeanSquaredError() if args.loss == "mse" else keras.losses.MeanAbsoluteError()
        model.compile(optimizer=optimizer, loss=loss)
    # A resumed run computes in the precision it was saved with, whatever this machine would pick.
    config = {key: value for key, value in vars(args).items() if key != "config"}
    config["resolved_precision"] = model_precision(model)
    config["init_sha256"] = init_sha256
    write_text_atomic(run_dir / "config.json", json.dumps(config, indent=2))
    # XLA: JAX needs it to be fast; TensorFlow on the CPU measured faster without it. Set after a
    # resume too, so a checkpoint written on one backend trains at full speed on the other.
    model.jit_compile = backend == "jax"
    keras.utils.set_random_seed(args.seed + step)

    context = ARCHITECTURES[args.arch].receptive_radius(**arch_args)
    target_crop = context if args.padding == "valid" else 0
    patch_config = PatchConfig(args.patch_size, args.batch_size, tuple(args.scales), args.seed, target_crop)
    if args.degrade is not None:
        from train.degrade import DegradationConfig, DegradingPatchSampler

        sampler = DegradingPatchSampler(Path(args.pairs).expanduser(), patch_config,
                                        DegradationConfig.from_dict(json.loads(args.degrade)))
    else:
        sampler = PatchSampler(Path(args.pairs).expanduser(), patch_config)
    inference_model = build(args.arch, padding="valid", **arch_args)
    validation = Path(args.validate) if args.validate else shared_root() / "datasets" / "benchmark" / "Set5"
    writer = summary_writer(run_dir)
    LOGGER.info("%s: %d parameters, backend %s%s, precision %s, %d HR images, step %d of %d", args.arch,
                model.count_params(), backend, f" on {device}" if device else "", config["resolved_precision"],
                len(sampler.names), step, args.steps)
    if step >= args.steps:
        if not (run_dir / "ema.weights.h5").exists():  # e.g. a fresh clone: EMA files are not tracked by default
            save_ema(model, optimizer, run_dir)
            LOGGER.info("run finished; wrote its EMA weights from %s", checkpoint)
        return 0
    monitor = Monitor(args, run_dir, writer, optimizer, inference_model, context, validation)
    # One fit() for the whole run: Keras swaps the EMA into the model at the end of every fit(),
    # so calling it per chunk would keep resetting training to the average.
    model.fit(
        dataset(sampler, start_batch=step, workers=max(2, min(16, usable_cores())), processes=args.loader == "processes"),
        steps_per_epoch=args.chunk,
        epochs=-(-(args.steps - step) // args.chunk), verbose=0, callbacks=[monitor],
        shuffle=False,  # batches are a pure function of (seed, index): nothing for Keras to shuffle
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
