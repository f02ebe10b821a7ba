"""Reading and writing pictures honestly: every mode, 16-bit, alpha, EXIF orientation, ICC.

A ``Picture`` holds pixels as numpy: uint8 or uint16, shape (height, width, channels) where the
channels are L, LA, RGB or RGBA. Loading applies EXIF orientation; saving writes atomically
(temporary file + rename) and copies the ICC profile and EXIF (orientation reset to 1).
"""

from __future__ import annotations

import io
import logging
import os
import struct
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms

from revive_core.errors import ImageError
from revive_core.paths import write_bytes_atomic

LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 50_000_000  # input limit: 50 megapixels
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "tif": "TIFF", "tiff": "TIFF", "bmp": "BMP"}
SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}
ORIENTATION_TAG = 0x0112


@dataclass
class Picture:
    """Pixels (height, width, channels) uint8/uint16 plus what must survive a round trip."""

    pixels: np.ndarray
    format: str | None = None  # PIL format name of the source, e.g. "JPEG"
    icc_profile: bytes | None = None
    exif: bytes | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return MODES[self.pixels.shape[2]]

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] in (2, 4)

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]


def _png_bit_depth(data: bytes) -> int | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 25:
        return data[24]
    return None


def _reset_orientation(exif: Image.Exif) -> bytes | None:
    if not len(exif):
        return None
    exif[ORIENTATION_TAG] = 1
    return exif.tobytes()


def _pixels_from_pil(image: Image.Image, picture_warnings: list[str]) -> np.ndarray:
    mode = image.mode
    if mode == "1":
        image = image.convert("L")
    elif mode == "P" or mode == "PA":
        has_transparency = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_transparency else "RGB")
    elif mode == "CMYK":
        image = _cmyk_to_rgb(image, picture_warnings)
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        array = np.asarray(image).astype(np.uint16)
        return array[..., None]
    elif mode == "I":
        array = np.asarray(image)
        if array.min() < 0 or array.max() > 65535:
            raise ImageError("32-bit integer images are not supported; save it as 16-bit or 8-bit")
        return array.astype(np.uint16)[..., None]
    elif mode == "F":
        raise ImageError("floating-point images are not supported; save it as 16-bit or 8-bit")
    elif mode in ("YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    elif mode == "La":
        image = image.convert("LA")
    elif mode == "RGBa":
        image = image.convert("RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        try:
            image = image.convert("RGBA" if "A" in mode else "RGB")
        except (ValueError, OSError) as error:
            raise ImageError(f"unsupported colour mode {mode}") from error
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    return array


def _cmyk_to_rgb(image: Image.Image, picture_warnings: list[str]) -> Image.Image:
    profile = image.info.get("icc_profile")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass
    picture_warnings.append("CMYK image converted to RGB without a colour profile; colours may shift")
    return image.convert("RGB")


def _read_sixteen_bit_colour(data: bytes) -> np.ndarray | None:
    """16-bit RGB(A) PNG/TIFF pixels via OpenCV (Pillow reduces them to 8-bit)."""
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16 or array.ndim != 3:
        return None
    code = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(array, code)


def decode(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Decode image bytes into a Picture; every failure is an ``ImageError`` with one clear line."""
    if not data:
        raise ImageError("the file is empty (0 bytes)")
    picture_warnings: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombWarning as error:
        raise ImageError(f"the image declares too many pixels to open safely ({error})") from error
    except Image.DecompressionBombError as error:
        raise ImageError("the image declares too many pixels to open safely (a decompression bomb?)") from error
    except (Image.UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if "runcated" in str(error):
            raise ImageError("the file is truncated: it ends before the image is complete") from error
        raise ImageError("not an image file Pillow can read (unknown or damaged format)") from error
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageError(
                f"the image is {width}x{height} = {width * height / 1e6:.1f} megapixels; "
                f"the limit is {max_pixels / 1e6:.0f} megapixels"
            )
        if width < 1 or height < 1:
            raise ImageError("the image has no pixels")
        source_format = image.format
        if getattr(image, "n_frames", 1) > 1:
            picture_warnings.append(f"animated image: only the first of {image.n_frames} frames is used")
            image.seek(0)
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            if "runcated" in str(error):
                raise ImageError("the file is truncated: it ends before the image is complete") from error
            raise ImageError(f"the image data is damaged ({error})") from error
        icc_profile = image.info.get("icc_profile") or None
        exif = image.getexif()
        orientation = exif.get(ORIENTATION_TAG, 1)
        sixteen = None
        if image.mode in ("RGB", "RGBA") and (
            _png_bit_depth(data) == 16 or (source_format == "TIFF" and 16 in _tiff_bits(image))
        ):
            sixteen = _read_sixteen_bit_colour(data)
        if sixteen is not None:
            pixels = sixteen
        else:
            pixels = _pixels_from_pil(image, picture_warnings)
            if image.mode == "CMYK":
                icc_profile = None  # converted to sRGB
        if orientation != 1:
            pixels = _apply_orientation(pixels, orientation)
        exif_bytes = _reset_orientation(exif)
    return Picture(np.ascontiguousarray(pixels), source_format, icc_profile, exif_bytes, picture_warnings)


def _tiff_bits(image: Image.Image) -> tuple[int, ...]:
    bits = getattr(image, "tag_v2", {}).get(258, ())
    return tuple(bits) if isinstance(bits, (tuple, list)) else (bits,)


def _apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip (height, width, channels) pixels as EXIF orientation 1..8 asks."""
    operations = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.transpose(a, (1, 0, 2)),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.transpose(a, (1, 0, 2))[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    operation = operations.get(orientation)
    return np.ascontiguousarray(operation(pixels)) if operation else pixels


def load(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Read and decode ``path``; errors are ``ImageError`` naming the problem, not the path."""
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError as error:
        raise ImageError("is a folder, not an image") from error
    except OSError as error:
        raise ImageError(f"cannot read the file ({error.strerror or error})") from error
    return decode(data, max_pixels=max_pixels)


def from_pil(image: Image.Image) -> Picture:
    """A Picture from an in-memory PIL image (EXIF orientation applied, like ``load``)."""
    picture_warnings: list[str] = []
    exif = image.getexif()
    orientation = exif.get(ORIENTATION_TAG, 1)
    pixels = _pixels_from_pil(image, picture_warnings)
    if orientation != 1:
        pixels = _apply_orientation(pixels, orientation)
    return Picture(
        np.ascontiguousarray(pixels), image.format, image.info.get("icc_profile") or None,
        _reset_orientation(exif), picture_warnings,
    )


def to_pil(picture: Picture) -> Image.Image:
    """A PIL image of the Picture (16-bit colour becomes 8-bit: PIL has no 16-bit RGB mode)."""
    pixels = picture.pixels
    if pixels.dtype == np.uint16:
        if pixels.shape[2] == 1:
            image = Image.fromarray(pixels[..., 0], mode="I;16")
        else:
            image = Image.fromarray(_to_eight_bit(pixels).squeeze(), mode=picture.mode)
    else:
        image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels, mode=picture.mode)
    if picture.icc_profile:
        image.info["icc_profile"] = picture.icc_profile
    return image


def _to_eight_bit(pixels: np.ndarray) -> np.ndarray:
    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def output_format(requested: str | None, picture: Picture, path: Path | None = None) -> str:
    """PIL format name for the output: ``requested`` (png/jpg/webp/tiff/bmp), else the input's."""
    if requested:
        try:
            return FORMATS[requested.lower().lstrip(".")]
        except KeyError:
            raise ImageError(f"unsupported output format {requested!r}; use one of png, jpg, webp, tiff, bmp") from None
    if path is not None and path.suffix.lower().lstrip(".") in FORMATS:
        return FORMATS[path.suffix.lower().lstrip(".")]
    return picture.format if picture.format in SUFFIXES else "PNG"


def encode(picture: Picture, image_format: str = "PNG", quality: int = 95) -> bytes:
    """Encode to bytes in ``image_format``; keeps 16-bit in PNG/TIFF, alpha where the format can."""
    pixels = picture.pixels
    notes = picture.warnings
    if image_format in ("PNG", "TIFF") and pixels.dtype == np.uint16:
        return _encode_sixteen_bit(picture, image_format)
    if pixels.dtype == np.uint16:
        notes.append(f"{image_format} holds 8 bits per channel; the 16-bit result was reduced to 8 bits")
        pixels = _to_eight_bit(pixels)
    if picture.has_alpha and image_format in ("JPEG", "BMP"):
        notes.append(f"{image_format} has no transparency; the result was flattened onto white")
        colour, alpha = pixels[..., :-1].astype(np.float32), pixels[..., -1:].astype(np.float32) / 255.0
        pixels = np.clip(colour * alpha + 255.0 * (1.0 - alpha) + 0.5, 0, 255).astype(np.uint8)
    mode = MODES[pixels.shape[2]]
    image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels, mode=mode)
    if image_format == "BMP" and mode == "LA":
        image = image.convert("L")
    options: dict[str, object] = {}
    if picture.icc_profile and image_format in ("PNG", "JPEG", "WEBP", "TIFF"):
        options["icc_profile"] = picture.icc_profile
    if picture.exif and image_format in ("PNG", "JPEG", "WEBP", "TIFF"):
        options["exif"] = picture.exif
    if image_format == "JPEG":
        options.update(quality=quality, subsampling=0, optimize=True)
    elif image_format == "WEBP":
        options.update(quality=quality, method=4)
    elif image_format == "PNG":
        options.update(compress_level=6)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def _encode_sixteen_bit(picture: Picture, image_format: str) -> bytes:
    pixels = picture.pixels
    if pixels.shape[2] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    elif pixels.shape[2] == 4:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA)
    elif pixels.shape[2] == 2:  # OpenCV has no grey+alpha: write RGBA
        grey, alpha = pixels[..., :1], pixels[..., 1:]
        pixels = np.concatenate([grey, grey, grey, alpha], axis=2)
    ok, encoded = cv2.imencode(".png" if image_format == "PNG" else ".tif", pixels)
    if not ok:
        raise ImageError(f"could not encode a 16-bit {image_format}")
    data = encoded.tobytes()
    if image_format != "PNG":
        return data
    extra = b""
    if picture.icc_profile:
        extra += _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(picture.icc_profile))
    if picture.exif:
        exif = picture.exif[6:] if picture.exif.startswith(b"Exif\x00\x00") else picture.exif
        extra += _png_chunk(b"eXIf", exif)
    header_end = 8 + 8 + 13 + 4  # signature + IHDR (length, type, 13 bytes, CRC)
    return data[:header_end] + extra + data[header_end:]


def save(picture: Picture, path: str | os.PathLike, image_format: str | None = None, quality: int = 95) -> Path:
    """Write ``picture`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    return write_bytes_atomic(path, encode(picture, image_format or output_format(None, picture, path), quality))


def with_pixels(picture: Picture, pixels: np.ndarray) -> Picture:
    """A copy of ``picture`` (metadata, warnings) holding new ``pixels``."""
    return replace(picture, pixels=pixels, warnings=list(picture.warnings))
