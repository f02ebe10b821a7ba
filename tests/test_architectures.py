"""Builders: any input size, same/valid padding, registry."""

import keras
import numpy as np
import pytest

from revive_core.architectures import ARCHITECTURES, build


@pytest.mark.parametrize("name", ["srcnn", "vdsr"])
@pytest.mark.parametrize("height, width", [(17, 23), (41, 41), (64, 33)])
def test_same_padding_keeps_size(name: str, height: int, width: int) -> None:
    model = build(name)
    assert model.input_shape == (None, None, None, 1)
    output = model.predict_on_batch(np.zeros((2, height, width, 1), np.float32))
    assert output.shape == (2, height, width, 1)


@pytest.mark.parametrize("name", ["srcnn", "vdsr"])
def test_valid_padding_consumes_the_receptive_radius(name: str) -> None:
    radius = ARCHITECTURES[name].receptive_radius()
    model = build(name, padding="valid")
    output = model.predict_on_batch(np.zeros((1, 2 * radius + 5, 2 * radius + 7, 1), np.float32))
    assert output.shape == (1, 5, 7, 1)


def test_same_and_valid_share_weights_and_agree_inside() -> None:
    same, valid = build("vdsr"), build("vdsr", padding="valid")
    valid.set_weights(same.get_weights())
    image = np.random.default_rng(0).random((1, 70, 66, 1)).astype(np.float32)
    inner = same.predict_on_batch(image)[:, 20:-20, 20:-20]
    assert np.allclose(valid.predict_on_batch(image), inner, atol=1e-5)


def test_conditioned_vdsr_is_the_restoration_baseline() -> None:
    """Y plus a strength plane in, Y out (like revive); valid padding cuts the radius; the strength matters."""
    same, valid = build("vdsr", conditioned=True, depth=5, filters=8), build("vdsr", conditioned=True, depth=5, filters=8,
                                                                            padding="valid")
    valid.set_weights(same.get_weights())
    assert same.input_shape == (None, None, None, 2) and same.output_shape == (None, None, None, 1)
    rng = np.random.default_rng(1)
    luminance = rng.random((1, 30, 34, 1)).astype(np.float32)
    weak, strong = (np.concatenate([luminance, np.full_like(luminance, s)], axis=3) for s in (0.0, 1.0))
    inner = same.predict_on_batch(strong)[:, 5:-5, 5:-5]
    assert valid.predict_on_batch(strong).shape == (1, 20, 24, 1)
    np.testing.assert_allclose(valid.predict_on_batch(strong), inner, atol=1e-5)
    assert not np.allclose(same.predict_on_batch(weak), same.predict_on_batch(strong), atol=1e-4)
    with pytest.raises(ValueError, match="conditioned"):
        build("vdsr", conditioned=True, channels=3)


def test_paper_sizes() -> None:
    assert build("srcnn").count_params() == 9 * 9 * 64 + 64 + 5 * 5 * 64 * 32 + 32 + 5 * 5 * 32 + 1
    vdsr = build("vdsr")
    assert len([layer for layer in vdsr.layers if layer.__class__.__name__ == "Conv2D"]) == 20
    assert ARCHITECTURES["vdsr"].receptive_radius() == 20 and ARCHITECTURES["srcnn"].receptive_radius() == 8


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_mixed_precision_reads_and_writes_pixels_in_float32(name: str) -> None:
    """Under mixed bf16 the convolution that reads 0..1 pixels and the one that writes the output stay
    float32 (bf16's 8-bit significand rounds a bright pixel by up to half a grey level: on the shipped
    revive-x2, a bf16 head cost 0.008 dB on case (a) Set5 and float32 recovers it); the body runs in bf16."""
    model = build(name, dtype_policy="mixed_bfloat16")
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions[0].compute_dtype == convolutions[-1].compute_dtype == "float32"
    assert {layer.compute_dtype for layer in convolutions[1:-1]} == {"bfloat16"}
    assert model.predict_on_batch(np.zeros((1, 24, 24, model.input_shape[-1]), np.float32)).dtype == np.float32


def test_unknown_architecture_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'edsr'"):
        build("edsr")


def test_precision_choice(monkeypatch) -> None:
    """Explicit choices win; auto is bf16 on a GPU and where the CPU has bf16 hardware, else fp32."""
    from revive_core.precision import cpu_has_bf16, resolve_precision

    monkeypatch.delenv("REVIVE_PRECISION", raising=False)
    assert resolve_precision("fp32", accelerator="gpu") == "fp32"
    assert resolve_precision("bfloat16") == "bf16"
    assert resolve_precision("auto", accelerator="gpu") == "bf16"
    assert resolve_precision(None) == ("bf16" if cpu_has_bf16() else "fp32")
    monkeypatch.setenv("REVIVE_PRECISION", "fp32")
    assert resolve_precision(None, accelerator="gpu") == "fp32"
    with pytest.raises(ValueError, match="precision must be"):
        resolve_precision("fp16")
