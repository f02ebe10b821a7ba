"""Revive: a strength-conditioned residual restoration network on pixel-unshuffled Y.

Input (batch, height, width, 2) float32: channel 0 is the bicubic-upscaled Y in 0..1 (as for
VDSR), channel 1 a constant plane holding the strength s in 0..1 ("remove damage up to s";
``train.degrade``). Output (batch, height, width, 1) float32 = Y + residual.

The body runs at 1/``factor`` resolution (FFDNet's trick, Zhang et al. 2018): the input is
pixel-unshuffled (space-to-depth) into ``2 * factor**2`` channels, a 3x3 head convolution,
``blocks`` EDSR-style residual blocks (conv-ReLU-conv plus skip, no batch norm) and a 3x3 tail to
``factor**2`` channels are applied, and the result is pixel-shuffled back and added to Y. At
factor 2 every low-resolution pixel stands for four output pixels, so the body costs a quarter
of the same layers at full resolution while each 3x3 layer sees twice as far: the default
(factor 2, 64 filters, 7 blocks = 16 convolutions) costs 131 k multiply-adds per output pixel
against VDSR's 665 k, with 0.55 M parameters against 0.67 M, and reads 32 pixels of context
against VDSR's 20 (a JPEG block is 8 pixels, 16 after x2 pre-upsampling).

Any height and width work: sides are edge-padded inside the network to a multiple of
``factor`` and the output cropped back. With ``padding="valid"`` the output is smaller by
``receptive_radius_revive`` pixels on every side, as the tiling expects. Tiled output equals
untiled output exactly when tile positions and the context are multiples of ``factor``
(``alignment_revive``); the context always is, and tiles at multiples of 64 are, except a
last tile moved back to end at the image edge (see the report's tiling note).
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "revive"


@keras.saving.register_keras_serializable(package=PACKAGE)
class PadToMultiple(keras.layers.Layer):
    """Pad (batch, H, W, C) at the bottom and right, repeating the edge, so H and W divide by ``factor``."""

    def __init__(self, factor: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, inputs):
        if self.factor == 1:
            return inputs
        height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
        pad_height = (self.factor - height % self.factor) % self.factor
        pad_width = (self.factor - width % self.factor) % self.factor
        # Edge replication (works for any size, unlike mirroring, which needs pad < side).
        x = ops.concatenate([inputs, ops.repeat(inputs[:, -1:], pad_height, axis=1)], axis=1)
        return ops.concatenate([x, ops.repeat(x[:, :, -1:], pad_width, axis=2)], axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, None, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpaceToDepth(keras.layers.Layer):
    """(batch, H, W, C) -> (batch, H/f, W/f, f*f*C), channel index (row phase, column phase, c)."""

    def __init__(self, factor: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, inputs):
        factor = self.factor
        channels = inputs.shape[-1]
        height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
        x = ops.reshape(inputs, (-1, height // factor, factor, width // factor, factor, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, height // factor, width // factor, factor * factor * channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, None, input_shape[3] * self.factor * self.factor)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package=PACKAGE)
class DepthToSpace(keras.layers.Layer):
    """(batch, h, w, f*f*C) -> (batch, h*f, w*f, C): the inverse of ``SpaceToDepth``."""

    def __init__(self, factor: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, inputs):
        factor = self.factor
        channels = inputs.shape[-1] // (factor * factor)
        height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
        x = ops.reshape(inputs, (-1, height, width, factor, factor, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, height * factor, width * factor, channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, None, input_shape[3] // (self.factor * self.factor))

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CropToInput(keras.layers.Layer):
    """``call([x, reference])``: x's top-left (H_ref - 2 margin, W_ref - 2 margin), all channels."""

    def __init__(self, margin: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.margin = int(margin)

    def call(self, inputs):
        x, reference = inputs
        height = ops.shape(reference)[1] - 2 * self.margin
        width = ops.shape(reference)[2] - 2 * self.margin
        return x[:, :height, :width, :]

    def compute_output_shape(self, input_shapes):
        return (input_shapes[0][0], None, None, input_shapes[0][3])

    def get_config(self) -> dict:
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package=PACKAGE)
class LuminanceSkip(keras.layers.Layer):
    """(batch, H, W, C) -> (batch, H - 2 margin, W - 2 margin, 1): channel 0 with the margin cut off."""

    def __init__(self, margin: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.margin = int(margin)

    def call(self, inputs):
        margin = self.margin
        height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
        return inputs[:, margin : height - margin, margin : width - margin, 0:1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, None, 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "margin": self.margin}


def _convolutions(blocks: int) -> int:
    """3x3 convolutions on the low-resolution path: head, two per block, tail."""
    return 2 * blocks + 2


def build_revive(
    factor: int = 2,
    filters: int = 64,
    blocks: int = 7,
    conditioned: bool = True,
    padding: str = "same",
    dtype_policy: str | None = None,
) -> keras.Model:
    """The revive network on (batch, height, width, 2 if ``conditioned`` else 1) float32 in 0..1.

    Args:
        factor: pixel-unshuffle factor (1 = full resolution, 2 = default, 4 for x4 models).
        filters: channels of the low-resolution body.
        blocks: residual blocks (2 convolutions each) between the head and tail convolutions.
        conditioned: True: channel 1 is the strength plane; False: Y only.
        padding: "same" (training) or "valid" (tiled inference; output smaller by the radius).
        dtype_policy: e.g. "mixed_bfloat16" for the body; the head, tail, shuffle and add stay float32.

    Returns:
        keras.Model "revive": (batch, H, W, C) -> (batch, H, W, 1) ("same") or
        (batch, H - 2r, W - 2r, 1) ("valid"), r = ``receptive_radius_revive(factor, blocks)``.
    """
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', not {padding!r}")
    channels = 2 if conditioned else 1
    radius = receptive_radius_revive(factor=factor, blocks=blocks)
    inputs = keras.Input((None, None, channels), name="image")
    initializer = keras.initializers.HeNormal()

    # Residual branches and the tail start at a tenth of He scale (EDSR's residual scaling, as an
    # initialisation): the untrained network is close to the identity and trains stably in bf16.
    small = keras.initializers.VarianceScaling(scale=2.0 * 0.1**2, mode="fan_in", distribution="truncated_normal")

    def convolution(units: int, name: str, activation: str | None = None, dtype: str | None = dtype_policy,
                    kernel_initializer: keras.initializers.Initializer = initializer):
        return keras.layers.Conv2D(
            units, 3, padding=padding, activation=activation, kernel_initializer=kernel_initializer, name=name, dtype=dtype,
        )

    x = PadToMultiple(factor, name="pad_to_multiple")(inputs)
    x = SpaceToDepth(factor, name="unshuffle")(x) if factor > 1 else x
    # The head reads 0..1 pixels, where bfloat16's 8-bit significand rounds by up to half a grey level
    # (as in VDSR and SRCNN, it stays float32: 0.5 % of the multiply-adds).
    x = convolution(filters, "head", "relu", dtype="float32")(x)
    for index in range(blocks):
        y = convolution(filters, f"block{index + 1}_conv1", "relu")(x)
        y = convolution(filters, f"block{index + 1}_conv2", kernel_initializer=small)(y)
        skip = x if padding == "same" else keras.layers.Cropping2D(2, name=f"block{index + 1}_crop", dtype=dtype_policy)(x)
        x = keras.layers.Add(name=f"block{index + 1}_add", dtype=dtype_policy)([skip, y])
    x = convolution(factor * factor, "tail", dtype="float32", kernel_initializer=small)(x)
    residual = DepthToSpace(factor, name="shuffle", dtype="float32")(x) if factor > 1 else x
    margin = 0 if padding == "same" else radius
    residual = CropToInput(margin, name="crop_to_input", dtype="float32")([residual, inputs])
    skip = LuminanceSkip(margin, name="luminance_skip", dtype="float32")(inputs)
    outputs = keras.layers.Add(name="residual_add", dtype="float32")([skip, residual])
    return keras.Model(inputs, outputs, name="revive")


def receptive_radius_revive(factor: int = 2, blocks: int = 7, **_: object) -> int:
    """Pixels of context each output pixel reads on every side: ``factor`` per low-resolution conv."""
    return factor * _convolutions(blocks)


def alignment_revive(factor: int = 2, **_: object) -> int:
    """Tile positions must be multiples of this for tiled output to equal untiled output exactly."""
    return factor


def macs_per_pixel(name: str, **arguments: object) -> float:
    """Multiply-accumulates per output pixel of a registered pre-upsampled architecture (convs only)."""
    if name == "vdsr":
        depth, filters, channels = int(arguments.get("depth", 20)), int(arguments.get("filters", 64)), 1
        inputs = channels + int(bool(arguments.get("conditioned", False)))
        return 9.0 * (inputs * filters + (depth - 2) * filters * filters + filters * channels)
    if name == "revive":
        factor = int(arguments.get("factor", 2))
        filters = int(arguments.get("filters", 64))
        blocks = int(arguments.get("blocks", 7))
        inputs = (2 if arguments.get("conditioned", True) else 1) * factor * factor
        per_low_pixel = 9.0 * (inputs * filters + 2 * blocks * filters * filters + filters * factor * factor)
        return per_low_pixel / (factor * factor)
    raise ValueError(f"no MAC count for {name!r}")
