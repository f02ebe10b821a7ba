"""VDSR (Kim et al., 2016): 20 3x3 convolutions learning the residual over a bicubic-upscaled Y."""

from __future__ import annotations

import keras

from revive_core.architectures.revive import LuminanceSkip


def build_vdsr(
    channels: int = 1,
    depth: int = 20,
    filters: int = 64,
    padding: str = "same",
    dtype_policy: str | None = None,
    conditioned: bool = False,
) -> keras.Model:
    """VDSR on (batch, height, width, channels) float32 input in 0..1; output = input + residual.

    ``depth`` counts every convolution (the paper's 20). With ``padding="valid"`` the output is
    smaller by ``depth`` pixels on each side and the skip path is cropped to match. The first
    convolution (it sees 0..1 pixels, where bfloat16 resolves about one grey level), the last one and
    the residual add stay float32 under any ``dtype_policy``. ``conditioned``: the input has a second
    plane, the strength, as the revive network's (``revive.py``), and the output is one channel, Y +
    residual: the VDSR-style baseline for restoration (``train.fit --degrade``).
    """
    if conditioned and channels != 1:
        raise ValueError("conditioned VDSR takes Y plus the strength plane: leave channels at 1")
    inputs = keras.Input((None, None, channels + int(conditioned)), name="image")
    initializer = keras.initializers.HeNormal()
    x = inputs
    for index in range(depth - 1):
        x = keras.layers.Conv2D(
            filters, 3, padding=padding, activation="relu", kernel_initializer=initializer,
            name=f"conv{index + 1}", dtype="float32" if index == 0 else dtype_policy,
        )(x)
    residual = keras.layers.Conv2D(
        channels, 3, padding=padding, kernel_initializer=keras.initializers.HeNormal(),
        name=f"conv{depth}", dtype="float32",
    )(x)
    if conditioned:  # Y alone, cut like the convolutions' output
        skip = LuminanceSkip(0 if padding == "same" else depth, name="luminance", dtype="float32")(inputs)
    else:
        skip = inputs if padding == "same" else keras.layers.Cropping2D(depth, name="skip_crop")(inputs)
    outputs = keras.layers.Add(name="residual_add", dtype="float32")([skip, residual])
    return keras.Model(inputs, outputs, name="vdsr")


def receptive_radius_vdsr(depth: int = 20, **_: object) -> int:
    """Pixels of context each output pixel reads on every side."""
    return depth
