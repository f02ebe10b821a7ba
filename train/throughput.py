"""Training throughput of an architecture in fp32 and mixed bf16: patches/s and TFLOP/s.

    python -m train.throughput --arch vdsr --patch-size 41 --batch-size 64
    python -m train.throughput --arch revive --arch-args '{}' --channels 2 --patch-size 96 --batch-size 16

The model, optimiser and loss are the ones ``train.fit`` uses (``build_optimizer``), fed with
random batches already in memory, so the figure is the network's, not the input pipeline's.
FLOPs are counted from the convolutions' real output shapes (2 per multiply-add) and a training
step is taken as 3 forward passes (forward, gradient to the input, gradient to the weights).
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np

LOGGER = logging.getLogger("train.throughput")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="vdsr")
    parser.add_argument("--arch-args", default="{}", help="JSON keyword arguments for the builder")
    parser.add_argument("--channels", type=int, default=1, help="input channels (2 for a conditioned revive model)")
    parser.add_argument("--patch-size", type=int, default=41)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--warmup-steps", type=int, default=5, help="untimed steps (tracing, first allocations)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0 = all cores)")
    parser.add_argument("--json", help="also write the numbers here")
    return parser.parse_args(argv)


def forward_flops(model, patch_size: int, channels: int) -> float:
    """FLOPs (2 per multiply-add) of the convolutions of ``model`` on one (patch, patch, channels) input."""
    import keras

    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    probe = keras.Model(model.inputs, [layer.output for layer in convolutions])
    outputs = probe.predict_on_batch(np.zeros((1, patch_size, patch_size, channels), np.float32))
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    total = 0.0
    for layer, output in zip(convolutions, outputs):
        kernel_height, kernel_width, in_channels, out_channels = layer.kernel.shape
        total += 2.0 * kernel_height * kernel_width * in_channels * out_channels * output.shape[1] * output.shape[2]
    return total


def measure(args: argparse.Namespace, precision: str) -> dict[str, float]:
    """Patches/s and TFLOP/s of ``args.steps`` timed training steps at ``precision``."""
    import keras
    import tensorflow as tf

    from revive_core.architectures import build
    from revive_core.precision import dtype_policy
    from train.fit import build_optimizer

    keras.utils.set_random_seed(0)
    model = build(args.arch, dtype_policy=dtype_policy(precision), **json.loads(args.arch_args))
    fit_defaults = argparse.Namespace(learning_rate=1e-4, final_learning_rate=1e-6, warmup_steps=0,
                                      steps=args.warmup_steps + args.steps, clipnorm=0.4, ema=0.999)
    model.compile(optimizer=build_optimizer(fit_defaults), loss="mse", jit_compile=False)
    rng = np.random.default_rng(0)
    shape = (args.batch_size, args.patch_size, args.patch_size, args.channels)
    inputs = tf.constant(rng.random(shape, dtype=np.float32))
    targets = tf.constant(rng.random(shape[:3] + (1,), dtype=np.float32))
    for _ in range(args.warmup_steps):
        model.train_on_batch(inputs, targets)
    started = time.perf_counter()
    for _ in range(args.steps):
        model.train_on_batch(inputs, targets)
    seconds = time.perf_counter() - started
    patches_per_second = args.steps * args.batch_size / seconds
    flops = 3.0 * forward_flops(model, args.patch_size, args.channels)
    return {"patches_per_second": patches_per_second, "tflops": patches_per_second * flops / 1e12,
            "gflop_per_patch": flops / 1e9}


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from revive_core.models import configure_threads
    from revive_core.precision import resolve_precision

    configure_threads(args.threads or None)
    results = {}
    for requested in args.precisions:
        precision = resolve_precision(requested)
        results[precision] = measure(args, precision)
        LOGGER.info("%s %s: %.1f patches/s of %dx%d, %.2f TFLOP/s", args.arch, precision,
                    results[precision]["patches_per_second"], args.patch_size, args.patch_size, results[precision]["tflops"])
    rows = ["| architecture | patch | batch | precision | patches/s | TFLOP/s |", "|---|---|---|---|---|---|"]
    rows += [f"| {args.arch} | {args.patch_size}×{args.patch_size} | {args.batch_size} | {precision} | "
             f"{values['patches_per_second']:.1f} | {values['tflops']:.2f} |" for precision, values in results.items()]
    print("\n".join(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(parse_args()))
