"""Streaming training patches from the arrays ``train.prepare`` writes.

Each batch is a pure function of (seed, batch index): resuming at batch N gives exactly the batches
an uninterrupted run would have seen. Arrays are memory-mapped, so resident memory stays bounded
by the pages the current batches touch, whatever the size of the set. ``dataset`` streams them
through ``tf.data`` on the TensorFlow backend and through a ``keras.utils.PyDataset`` (worker
threads, in order) on the others, e.g. JAX on a GPU machine that has no TensorFlow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from revive_core._quiet import import_backend_quietly

import_backend_quietly()

import keras  # noqa: E402

from revive_core.colour import rgb_to_y
from revive_core.resize import imresize

LOGGER = logging.getLogger("train.pipeline")

LR_MARGIN = 3  # LR pixels of context so a cropped bicubic upscale equals the full-image one


@dataclass(frozen=True)
class PatchConfig:
    """What one batch holds: ``batch_size`` square patches of ``patch_size`` HR pixels."""

    patch_size: int
    batch_size: int
    scales: tuple[int, ...]
    seed: int = 0
    target_crop: int = 0  # for "valid" networks: target pixels shaved from every side


class PatchSampler:
    """Random (input, target) patch pairs of bicubic-upscaled LR Y and HR Y, both float32 in 0..1.

    Inputs are upscaled per patch from an LR crop with ``LR_MARGIN`` pixels of context, or sliced
    from the whole upscaled image where ``train.prepare --upscaled`` stored it: the same values to
    float32 rounding (the BLAS summation order differs with the array's size).
    """

    def __init__(self, pairs: Path, config: PatchConfig) -> None:
        self.pairs = Path(pairs)
        self.config = config
        names = sorted(path.stem for path in (self.pairs / "HR").glob("*.npy"))
        if not names:
            raise FileNotFoundError(f"no prepared pairs in {self.pairs / 'HR'}; run python -m train.prepare first")
        for scale in config.scales:
            missing = [name for name in names if not (self.pairs / f"x{scale}" / f"{name}.npy").exists()]
            if missing:
                raise FileNotFoundError(f"x{scale} arrays missing for {len(missing)} images, e.g. {missing[0]}")
        self.names = names
        self._arrays: dict[tuple[str, str], np.ndarray | None] = {}
        self._fitting: dict[int, list[str]] = {}

    def lr_patch_size(self, scale: int) -> int:
        """LR pixels a patch spans at ``scale``: the patch size divided by ``scale``, rounded up."""
        return -(-self.config.patch_size // scale)

    def fitting(self, scale: int) -> list[str]:
        """The names whose LR array holds a whole patch at ``scale``, in ``self.names`` order (the HR
        array is exactly ``scale`` times the LR one: ``train.prepare`` crops it to a multiple of 12).

        All of them unless some image is smaller than the patch, so a run's batches do not change
        when its set has none that small. Raises ValueError when no image is large enough.
        """
        if scale not in self._fitting:
            size, lr_size = self.config.patch_size, self.lr_patch_size(scale)
            fitting = [name for name in self.names if min(self._array(f"x{scale}", name).shape[:2]) >= lr_size]
            if not fitting:
                raise ValueError(f"no prepared image holds a {size}-pixel patch at x{scale}; use a smaller --patch-size")
            if len(fitting) < len(self.names):
                LOGGER.info("x%d: %d of %d images are too small for %d-pixel patches and are skipped",
                            scale, len(self.names) - len(fitting), len(self.names), size)
            self._fitting[scale] = fitting
        return self._fitting[scale]

    def _array(self, folder: str, name: str) -> np.ndarray:
        key = (folder, name)
        if key not in self._arrays:
            self._arrays[key] = np.load(self.pairs / folder / f"{name}.npy", mmap_mode="r")
        return self._arrays[key]

    def _upscaled(self, scale: int, name: str) -> np.ndarray | None:
        """The whole bicubic-upscaled LR Y of ``name`` that ``train.prepare --upscaled`` stored, or None."""
        key = (f"x{scale}_up", name)
        if key not in self._arrays:  # looked up once per image and scale, found or not
            path = self.pairs / key[0] / f"{name}.npy"
            self._arrays[key] = np.load(path, mmap_mode="r") if path.exists() else None
        return self._arrays[key]

    def patch(self, rng: np.random.Generator, scale: int) -> tuple[np.ndarray, np.ndarray]:
        """One (input, target) pair, each (patch, patch) float32 in 0..1, randomly flipped/rotated."""
        size = self.config.patch_size
        names = self.fitting(scale)
        name = names[rng.integers(len(names))]
        hr = self._array("HR", name)
        lr = self._array(f"x{scale}", name)
        lr_height, lr_width = lr.shape[:2]
        # Top-left corner on the LR grid so HR and LR stay aligned.
        lr_size = self.lr_patch_size(scale)
        top = int(rng.integers(0, lr_height - lr_size + 1)) * scale
        left = int(rng.integers(0, lr_width - lr_size + 1)) * scale
        upscaled_image = self._upscaled(scale, name)
        if upscaled_image is not None:  # train.prepare --upscaled: the same values (to rounding), sliced
            source = np.asarray(upscaled_image[top : top + size, left : left + size])
        else:
            lr_top, lr_left = top // scale, left // scale
            crop_top, crop_left = max(0, lr_top - LR_MARGIN), max(0, lr_left - LR_MARGIN)
            crop_bottom = min(lr_height, lr_top + lr_size + LR_MARGIN)
            crop_right = min(lr_width, lr_left + lr_size + LR_MARGIN)
            lr_y = rgb_to_y(np.asarray(lr[crop_top:crop_bottom, crop_left:crop_right], dtype=np.float32))
            upscaled = imresize(lr_y / np.float32(255.0), scale)
            offset_y, offset_x = (lr_top - crop_top) * scale, (lr_left - crop_left) * scale
            source = upscaled[offset_y : offset_y + size, offset_x : offset_x + size]
        target = rgb_to_y(np.asarray(hr[top : top + size, left : left + size], dtype=np.float32)) / np.float32(255.0)
        rotations = int(rng.integers(4))
        flip = bool(rng.integers(2))
        source, target = np.rot90(source, rotations), np.rot90(target, rotations)
        if flip:
            source, target = source[:, ::-1], target[:, ::-1]
        return np.ascontiguousarray(source), np.ascontiguousarray(target)

    def batch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``index``: two (batch, patch, patch, 1) float32 arrays; scales mixed per patch."""
        return assemble_batch(self.config, index, 1, self.patch)


def assemble_batch(
    config: PatchConfig,
    index: int,
    channels: int,
    example: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Batch ``index`` of ``config``: a pure function of (config.seed, index).

    ``example(rng, scale)`` draws one training pair at a scale drawn per patch from
    ``config.scales``: the input (patch, patch) or (patch, patch, channels) and the target
    (patch, patch), float32. Returns inputs (batch, patch, patch, channels) and targets
    (batch, patch - 2 crop, patch - 2 crop, 1), crop = ``config.target_crop``.
    """
    rng = np.random.default_rng([config.seed, index])
    size, count, crop = config.patch_size, config.batch_size, config.target_crop
    inputs = np.empty((count, size, size, channels), np.float32)
    targets = np.empty((count, size - 2 * crop, size - 2 * crop, 1), np.float32)
    for item in range(count):
        scale = config.scales[int(rng.integers(len(config.scales)))]
        source, target = example(rng, scale)
        inputs[item] = source.reshape(size, size, channels)
        targets[item, ..., 0] = target[crop : size - crop, crop : size - crop]
    return inputs, targets


class BatchStream(keras.utils.PyDataset):
    """Batches ``start_batch``, ``start_batch + 1``, ... of ``sampler`` made by ``workers`` threads, or
    (``processes``) forked worker processes, which the GIL does not hold back; in order either way."""

    def __init__(self, sampler: PatchSampler, start_batch: int, workers: int, prefetch: int,
                 processes: bool = False) -> None:
        super().__init__(workers=workers, use_multiprocessing=processes, max_queue_size=prefetch)
        self.sampler, self.start_batch = sampler, start_batch

    @property
    def num_batches(self) -> None:
        return None  # endless: fit() stops by its steps

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.sampler.batch(self.start_batch + index)


def dataset(sampler: PatchSampler, start_batch: int = 0, prefetch: int = 4, workers: int = 2, processes: bool = False):
    """Endless stream of ``sampler`` batches from ``start_batch`` on, prefetched.

    TensorFlow backend: a ``tf.data.Dataset`` (one generator thread). Other backends: a
    ``BatchStream`` whose ``workers`` threads (cv2 and numpy release the GIL, Python does not) or,
    with ``processes``, forked processes make batches ahead; the batches are the same.
    """
    if keras.backend.backend() != "tensorflow":
        if processes:
            import cv2

            cv2.setNumThreads(0)  # OpenCV's thread pool does not survive fork(): children could hang
        return BatchStream(sampler, start_batch, workers, max(prefetch, 2 * workers) if processes else prefetch, processes)
    import tensorflow as tf

    size, crop = sampler.config.patch_size, sampler.config.target_crop
    channels = getattr(sampler, "input_channels", 1)  # 2 for train.degrade.DegradingPatchSampler: Y + strength
    signature = (
        tf.TensorSpec((None, size, size, channels), tf.float32),
        tf.TensorSpec((None, size - 2 * crop, size - 2 * crop, 1), tf.float32),
    )

    def generate():
        index = start_batch
        while True:
            yield sampler.batch(index)
            index += 1

    return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(prefetch)
