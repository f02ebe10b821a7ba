"""Trained models, built and loaded once per process and cached.

A ``Runner`` wraps a model built with "valid" padding for tiled inference: it maps a float32
(batch, h + 2 context, w + 2 context, channels) block in 0..1 to the network's (batch, h, w,
channels) output through one compiled ``tf.function`` whose signature has free batch, height and
width, so new image sizes never re-trace it (``Runner.tracing_count`` stays 1). Before the first
model is built, TensorFlow is given one intra-op thread per usable core and ``INTER_OP_THREADS``
inter-op threads (the graph is a chain of convolutions: more would only oversubscribe the cores).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

import numpy as np

from revive_core.architectures import ARCHITECTURES
from revive_core.errors import UsageError, WeightsError
from revive_core.precision import dtype_policy, resolve_precision, usable_cores
from revive_core.weights import WeightsEntry, locate, read_manifest

LOGGER = logging.getLogger(__name__)
_LOCK = threading.Lock()
_RUNNERS: dict[tuple[str, str, str], "Runner"] = {}  # (key, sha256, precision)
INTER_OP_THREADS = 1  # the graph is a chain; compare with `python -m revive_core.bench --inter-op 2`
PREFERRED_BATCH = 1  # tiles per call: 1, 2 and 4 measured the same CPU time; 1 needs the least memory


@dataclass(frozen=True)
class ModelInfo:
    """What ``list_models`` reports for one user-facing model family."""

    name: str
    scales: tuple[int, ...]
    description: str
    entries: tuple[str, ...]


def configure_threads(intra_op: int | None = None, inter_op: int | None = None) -> bool:
    """Set TensorFlow's thread pools (default: one intra-op thread per core, ``INTER_OP_THREADS``).

    Only possible before TensorFlow's runtime starts; returns False (and changes nothing) after.
    ``$REVIVE_INTER_OP_THREADS`` overrides the inter-op default (used by the benchmark).
    """
    import tensorflow as tf

    intra = intra_op or usable_cores()
    inter = inter_op or int(os.environ.get("REVIVE_INTER_OP_THREADS", INTER_OP_THREADS))
    if (tf.config.threading.get_intra_op_parallelism_threads() == intra
            and tf.config.threading.get_inter_op_parallelism_threads() == inter):
        return True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # the runtime already started (a model was built before): keep its pools
        LOGGER.debug("TensorFlow already initialised; thread pools left as they are")
        return False
    LOGGER.debug("TensorFlow threads: intra-op %d, inter-op %d", intra, inter)
    return True


class Runner:
    """A loaded network ready for ``revive_core.tiling.tiled_apply``.

    ``runner(blocks)``: (batch, h + 2 context, w + 2 context, channels) float32 in 0..1 ->
    (batch, h, w, channels) float32 numpy. ``batch`` is the number of same-shape tiles per call
    that measured fastest for ``tiled_apply``.
    """

    batch = PREFERRED_BATCH

    def __init__(self, entry: WeightsEntry, precision: str) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        architecture = ARCHITECTURES.get(entry.architecture)
        if architecture is None:
            raise WeightsError(f"manifest entry {entry.key} names unknown architecture {entry.architecture!r}")
        configure_threads()
        self.entry = entry
        self.precision = precision
        self.context = architecture.receptive_radius(**entry.arguments)
        self.pre_upsampled = architecture.pre_upsampled
        self.alignment = architecture.alignment(**entry.arguments)  # revive: its pixel-unshuffle factor
        path = locate(entry)
        self.model = architecture.build(padding="valid", dtype_policy=dtype_policy(precision), **entry.arguments)
        try:
            self.model.load_weights(path)
        except Exception as error:
            raise WeightsError(f"{path.name} does not fit architecture {entry.architecture} ({error})") from error
        self.channels = self.model.input_shape[-1]
        model = self.model
        self._function = tf.function(
            lambda blocks: model(blocks, training=False),
            input_signature=[tf.TensorSpec((None, None, None, self.channels), tf.float32)],
            jit_compile=False,
        )
        LOGGER.info("loaded %s (%s, %s)", entry.key, path.name, precision)

    @property
    def tracing_count(self) -> int:
        """How many times the inference function was traced (1 after the first call, ever after)."""
        return int(self._function.experimental_get_tracing_count())

    def __call__(self, blocks: np.ndarray) -> np.ndarray:
        if blocks.dtype != np.float32:
            blocks = blocks.astype(np.float32)
        return self._function(blocks).numpy()


ENSEMBLE_PASSES = 8  # the dihedral group of the square: 4 rotations x optional mirror


def _geometry(blocks: np.ndarray, index: int, inverse: bool = False) -> np.ndarray:
    """(batch, h, w, c) mirrored (bit 0: left-right, bit 1: top-bottom) and transposed (bit 2)
    for ``index`` in 0..7; ``inverse`` undoes it (transpose first)."""
    steps = [(lambda a: a[:, :, ::-1]) if index & 1 else None, (lambda a: a[:, ::-1]) if index & 2 else None,
             (lambda a: a.transpose(0, 2, 1, 3)) if index & 4 else None]
    for step in (reversed(steps) if inverse else steps):
        if step is not None:
            blocks = step(blocks)
    return blocks


class SelfEnsemble:
    """A Runner averaged over the 8 mirrored and rotated copies of each block ("geometric
    self-ensemble", Timofte et al. 2016, EDSR+): the same network, 8x the time, a little more
    PSNR because the errors of the 8 passes are partly independent. Same interface as Runner."""

    def __init__(self, runner: "Runner") -> None:
        self.runner = runner

    def __getattr__(self, name: str):
        """Everything else (entry, precision, context, alignment, channels, batch...) is the Runner's."""
        if name == "runner":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self.runner, name)

    def __call__(self, blocks: np.ndarray) -> np.ndarray:
        total = None
        for index in range(ENSEMBLE_PASSES):
            output = _geometry(self.runner(np.ascontiguousarray(_geometry(blocks, index))), index, inverse=True)
            total = output.astype(np.float32) if total is None else total + output
        return total / np.float32(ENSEMBLE_PASSES)


def list_models() -> list[ModelInfo]:
    """Every model family with trained weights in the manifest, and the scales it serves."""
    families: dict[str, list[WeightsEntry]] = {}
    for entry in read_manifest().values():
        families.setdefault(entry.family, []).append(entry)
    return [
        ModelInfo(
            name=family,
            scales=tuple(sorted({scale for entry in entries for scale in entry.scales})),
            description=entries[0].description,
            entries=tuple(entry.key for entry in entries),
        )
        for family, entries in sorted(families.items())
    ]


def entry_for(family: str, scale: int) -> WeightsEntry:
    """The manifest entry of ``family`` that serves ``scale`` (single-scale entries preferred)."""
    candidates = [entry for entry in read_manifest().values() if entry.family == family and scale in entry.scales]
    if not candidates:
        served = sorted({s for e in read_manifest().values() if e.family == family for s in e.scales})
        if not served:
            known = ", ".join(info.name for info in list_models()) or "none: no trained weights are installed"
            raise UsageError(f"no trained model {family!r}; available: {known}")
        raise UsageError(f"model {family} has no weights for x{scale}; it serves " + ", ".join(f"x{s}" for s in served))
    return min(candidates, key=lambda entry: len(entry.scales))


def get_runner(family: str, scale: int, precision: str | None = None) -> Runner:
    """The cached Runner for ``family`` at ``scale``; built and loaded on first use, and again
    when the manifest names new weights for it (another sha256, e.g. after ``train.export``)."""
    entry = entry_for(family, scale)
    resolved = resolve_precision(precision)
    key = (entry.key, entry.sha256, resolved)
    with _LOCK:
        runner = _RUNNERS.get(key)
        if runner is None:
            for stale in [old for old in _RUNNERS if (old[0], old[2]) == (entry.key, resolved)]:
                del _RUNNERS[stale]  # weights replaced since: free them
            runner = _RUNNERS[key] = Runner(entry, resolved)
    return runner
