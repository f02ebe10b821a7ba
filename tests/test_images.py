"""Every input mode round-trips through upscale: alpha, 16-bit, grey, palette, CMYK, EXIF, ICC."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from revive_core import imageio
from revive_core.api import upscale, upscale_picture
from revive_core.errors import ImageError
from revive_core.resize import upsample
from tests.imaging import synthetic_rgb

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def round_trip(data: bytes, scale: int = 2) -> tuple[imageio.Picture, imageio.Picture, Image.Image]:
    picture = imageio.decode(data)
    output, report = upscale_picture(picture, scale, "vdsr")
    assert report.output_size == (picture.width * scale, picture.height * scale)
    out_format = imageio.output_format(None, picture)
    reopened = Image.open(io.BytesIO(imageio.encode(output, out_format)))
    return picture, output, reopened


def test_rgb_jpeg_stays_rgb_jpeg() -> None:
    _, output, reopened = round_trip(encoded(Image.fromarray(synthetic_rgb(30, 41)), "JPEG", quality=90))
    assert reopened.format == "JPEG" and reopened.mode == "RGB" and reopened.size == (82, 60)


def test_rgba_keeps_alpha_upscaled_separately() -> None:
    rgba = np.dstack([synthetic_rgb(24, 32), np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (24, 1))])
    picture, output, reopened = round_trip(encoded(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert reopened.mode == "RGBA"
    expected_alpha = np.clip(upsample(rgba[..., 3].astype(np.float32), 2) + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(np.asarray(reopened)[..., 3].astype(int) - expected_alpha).max() <= 1


@pytest.mark.parametrize("mode", ["L", "LA"])
def test_grey_stays_grey(mode: str) -> None:
    grey = synthetic_rgb(20, 22)[..., 1]
    image = Image.fromarray(grey).convert(mode)
    _, output, reopened = round_trip(encoded(image, "PNG"))
    assert reopened.mode == mode and reopened.size == (44, 40)


def test_palette_with_and_without_transparency() -> None:
    palette = Image.fromarray(synthetic_rgb(20, 20)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    assert round_trip(encoded(palette, "PNG"))[1].mode == "RGB"
    palette.info["transparency"] = 0
    assert round_trip(encoded(palette, "PNG", transparency=0))[1].mode == "RGBA"


def test_cmyk_becomes_rgb() -> None:
    cmyk = Image.fromarray(synthetic_rgb(16, 16)).convert("CMYK")
    picture, output, reopened = round_trip(encoded(cmyk, "JPEG"))
    assert output.mode == "RGB" and reopened.mode == "RGB"


def test_sixteen_bit_grey_stays_sixteen_bit() -> None:
    grey = (synthetic_rgb(18, 20)[..., 0].astype(np.uint16) * 257 + 3)
    picture, output, reopened = round_trip(encoded(Image.fromarray(grey, "I;16"), "PNG"))
    assert picture.bit_depth == 16 and output.pixels.dtype == np.uint16
    assert reopened.mode in ("I;16", "I") and reopened.size == (40, 36)
    assert np.asarray(reopened).max() > 255  # really 16-bit, not 8-bit values


def test_sixteen_bit_rgb_png_stays_sixteen_bit_with_icc() -> None:
    rgb16 = synthetic_rgb(18, 20).astype(np.uint16) * 257
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    picture = imageio.decode(data.tobytes())
    assert picture.bit_depth == 16 and picture.mode == "RGB"
    output, _ = upscale_picture(imageio.with_pixels(picture, picture.pixels), 2, "vdsr")
    output.icc_profile = SRGB
    encoded_png = imageio.encode(output, "PNG")
    back = cv2.imdecode(np.frombuffer(encoded_png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and back.shape == (36, 40, 3)
    assert Image.open(io.BytesIO(encoded_png)).info.get("icc_profile") == SRGB


def test_exif_orientation_applied_and_reset_icc_kept() -> None:
    array = synthetic_rgb(20, 30)  # landscape stored, orientation 6 = rotate 90 clockwise
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6
    data = encoded(image, "JPEG", exif=exif.tobytes(), icc_profile=SRGB, quality=95)
    picture, output, reopened = round_trip(data)
    assert (picture.width, picture.height) == (20, 30)
    assert reopened.size == (40, 60)
    assert reopened.getexif().get(0x0112) == 1
    assert reopened.info.get("icc_profile") == SRGB


def test_animated_gif_uses_first_frame_with_warning() -> None:
    frames = [Image.fromarray(synthetic_rgb(16, 16, seed)).convert("P") for seed in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    picture = imageio.decode(buffer.getvalue())
    assert any("first of 3 frames" in warning for warning in picture.warnings)


def test_pil_and_numpy_in_give_the_same_kind_out() -> None:
    array = synthetic_rgb(12, 14)
    assert upscale(array, 3, "vdsr").shape == (36, 42, 3)
    assert upscale(array[..., 0], 2, "vdsr").shape == (24, 28)
    result = upscale(Image.fromarray(array), 2, "vdsr")
    assert isinstance(result, Image.Image) and result.size == (28, 24)


def test_pixel_limit_message_names_the_limit() -> None:
    data = encoded(Image.new("RGB", (300, 200)), "PNG")
    with pytest.raises(ImageError, match=r"300x200 = 0.1 megapixels; the limit is 0 megapixels"):
        imageio.decode(data, max_pixels=1000)
