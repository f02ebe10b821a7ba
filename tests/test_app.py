"""The web app: its handler called directly, then a real server called with gradio_client."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import httpx
import numpy as np
import pytest

from revive_core.api import RESTORE_MODELS, choose
from gradio_client import Client, handle_file
from PIL import Image, ImageCms

import app
from revive_core.models import list_models
from revive_core.resize import imresize
from tests.badfiles import write_bad_files
from tests.imaging import synthetic_rgb

WIDTH, HEIGHT = 48, 40  # small, so the model runs in well under a second


@pytest.fixture
def outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's per-request folders go under this test's own folder."""
    folder = tmp_path / "outputs"
    monkeypatch.setattr(app, "OUTPUT_ROOT", folder)
    return folder


def write_rgb_jpeg(path: Path, width: int = WIDTH, height: int = HEIGHT, **options) -> Path:
    Image.fromarray(synthetic_rgb(height, width)).save(path, format="JPEG", quality=90, **options)
    return path


def write_rgba_png(path: Path) -> Path:
    """RGBA with an alpha ramp from 0 (left) to 255 (right): alpha that can be checked."""
    rgb = synthetic_rgb(HEIGHT, WIDTH, seed=3)
    alpha = np.broadcast_to(np.linspace(0, 255, WIDTH).round().astype(np.uint8), (HEIGHT, WIDTH))[..., None]
    Image.fromarray(np.concatenate([rgb, alpha], axis=2), mode="RGBA").save(path)
    return path


def open_image(path: str | Path) -> Image.Image:
    image = Image.open(path)
    image.load()
    return image


# ---------------------------------------------------------------- the handler, called directly

@pytest.mark.parametrize("scale", [2, 3])
def test_handler_sizes_format_and_info(tmp_path: Path, outputs: Path, scale: int) -> None:
    source = write_rgb_jpeg(tmp_path / "holiday photo.jpg")
    (before, after), download, info = app.upscale_photo(str(source), scale, "auto", 512)
    expected = (WIDTH * scale, HEIGHT * scale)
    for path in (before, after):
        image = open_image(path)
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", expected)
    result = open_image(download)
    assert (result.format, result.mode, result.size) == ("JPEG", "RGB", expected)
    assert Path(download).name == f"holiday_photo_x{scale}.jpg"
    assert Path(download).is_relative_to(outputs)
    model = choose(WIDTH, HEIGHT, scale).model.upper()  # what Auto picks
    assert f"{model} ×{scale}" in info and f"{WIDTH}×{HEIGHT} → {expected[0]}×{expected[1]}" in info
    assert "Why this model:" in info


def test_before_is_matlab_bicubic_and_after_differs(tmp_path: Path, outputs: Path) -> None:
    source = write_rgb_jpeg(tmp_path / "photo.jpg")
    (before, after), _, _ = app.upscale_photo(str(source), 2)
    decoded = np.asarray(Image.open(source))
    np.testing.assert_array_equal(np.asarray(open_image(before)), imresize(decoded, output_shape=(2 * HEIGHT, 2 * WIDTH)))
    assert np.abs(np.asarray(open_image(after)).astype(int) - np.asarray(open_image(before)).astype(int)).max() > 0


def test_handler_keeps_alpha(tmp_path: Path, outputs: Path) -> None:
    (before, after), download, _ = app.upscale_photo(str(write_rgba_png(tmp_path / "logo.png")), 2)
    for path in (before, after, download):
        image = open_image(path)
        assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (2 * WIDTH, 2 * HEIGHT))
    alpha_before = np.asarray(open_image(before))[..., 3].astype(int)
    alpha_after = np.asarray(open_image(after))[..., 3].astype(int)
    assert alpha_after[:, 0].max() <= 2 and alpha_after[:, -1].min() >= 253  # the ramp survived
    assert np.abs(alpha_after - alpha_before).max() <= 1  # alpha is resized with the same bicubic


def test_handler_keeps_grey_sixteen_bit_and_icc(tmp_path: Path, outputs: Path) -> None:
    ramp = (np.linspace(0, 65535, WIDTH)[None, :] * np.linspace(0.2, 1.0, HEIGHT)[:, None]).astype(np.uint16)
    grey16 = tmp_path / "scan.png"
    Image.fromarray(ramp, mode="I;16").save(grey16)
    (before, after), download, _ = app.upscale_photo(str(grey16), 2)
    assert open_image(download).mode == "I;16" and open_image(download).size == (2 * WIDTH, 2 * HEIGHT)
    assert open_image(after).mode == "L"  # the preview is 8-bit grey
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = write_rgb_jpeg(tmp_path / "profiled.jpg", icc_profile=icc)
    _, download, _ = app.upscale_photo(str(source), 2)
    assert open_image(download).info.get("icc_profile") == icc


def test_handler_accepts_gradio_file_payload(tmp_path: Path, outputs: Path) -> None:
    source = write_rgb_jpeg(tmp_path / "upload123.jpg")
    payload = {"path": str(source), "orig_name": "Grandma 1962.JPG", "meta": {"_type": "gradio.FileData"}}
    _, download, _ = app.upscale_photo(payload, "3", "AUTO", 256.0)
    assert Path(download).name == "Grandma_1962_x3.jpg"
    assert open_image(download).size == (3 * WIDTH, 3 * HEIGHT)


@pytest.mark.parametrize("kind, words", [
    ("empty", "empty"), ("text", "not an image"), ("truncated", "truncated"), ("bomb", "too many pixels"),
])
def test_bad_files_are_one_clear_error(tmp_path: Path, outputs: Path, kind: str, words: str) -> None:
    path = write_bad_files(tmp_path / "bad")[kind]
    with pytest.raises(gr.Error) as caught:
        app.upscale_photo(str(path), 2)
    message = caught.value.message
    assert words in message.lower()
    assert message[0].isupper() and message.endswith(".") and "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("arguments, words", [
    ((None,), "upload a photo"),
    (("PHOTO", 5), "scale must be 2, 3 or 4"),
    (("PHOTO", 2, "no-such-model"), "no trained model 'no-such-model'"),
    (("PHOTO", 2, "auto", 8), "tile must be 0"),
    (("PHOTO", "two"), "whole numbers"),
])
def test_user_mistakes_are_clear_errors(tmp_path: Path, outputs: Path, arguments: tuple, words: str) -> None:
    photo = str(write_rgb_jpeg(tmp_path / "photo.jpg"))
    with pytest.raises(gr.Error) as caught:
        app.upscale_photo(*[photo if argument == "PHOTO" else argument for argument in arguments])
    assert words in caught.value.message.lower()


def test_pixel_limits_are_stated_and_checked_before_running(tmp_path: Path, outputs: Path) -> None:
    large = tmp_path / "large.png"
    Image.new("L", (2600, 2600), 128).save(large)  # 6.8 MP in; x4 would be 108 MP out
    with pytest.raises(gr.Error) as caught:
        app.upscale_photo(str(large), 4)
    assert "108.2 megapixels" in caught.value.message and "the limit is 100 megapixels" in caught.value.message
    assert not outputs.exists() or not any(outputs.iterdir())  # refused before the model ran
    huge = tmp_path / "huge.png"
    Image.new("L", (5001, 5000), 0).save(huge)  # just over the 25 MP input limit
    with pytest.raises(gr.Error) as caught:
        app.upscale_photo(str(huge), 2)
    assert "the limit is 25 megapixels" in caught.value.message


def test_server_side_failure_is_one_line_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the output folder should be")
    monkeypatch.setattr(app, "OUTPUT_ROOT", blocked)
    with pytest.raises(gr.Error) as caught:
        app.upscale_photo(str(write_rgb_jpeg(tmp_path / "photo.jpg")), 2)
    assert caught.value.message.startswith("Something went wrong on the server (FileExistsError)")


@pytest.mark.parametrize("shape, scale", [((30, 20, 3), 2), ((17, 23, 4), 3), ((25, 31, 1), 4)])
def test_comparison_crop_equals_crop_of_full_resize(shape: tuple[int, int, int], scale: int) -> None:
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, shape, dtype=np.uint8)
    result = rng.integers(0, 256, (shape[0] * scale, shape[1] * scale, shape[2]), dtype=np.uint8)
    full = imresize(source, output_shape=result.shape[:2]).reshape(result.shape)
    before, after, cropped = app.comparison_pair(source, result, scale, max_side=10_000)
    assert not cropped
    np.testing.assert_array_equal(before, full)
    np.testing.assert_array_equal(after, result)
    before, after, cropped = app.comparison_pair(source, result, scale, max_side=24)
    assert cropped and before.shape == after.shape and before.shape[:2] == (24 // scale * scale,) * 2
    rows, columns = np.nonzero(np.all(result == after[0, 0], axis=2))  # locate the crop's corner
    top, left = next((r, c) for r, c in zip(rows, columns)
                     if np.array_equal(result[r:r + after.shape[0], c:c + after.shape[1]], after))
    assert top % scale == 0 and left % scale == 0
    np.testing.assert_array_equal(before, full[top:top + before.shape[0], left:left + before.shape[1]])


def test_sixteen_bit_preview_scaling() -> None:
    values = np.array([[[0], [257], [65535], [32896]]], np.uint16)
    np.testing.assert_array_equal(app.to_eight_bit(values)[0, :, 0], [0, 1, 255, 128])


def test_model_choices_come_from_list_models() -> None:
    names = [info.name for info in list_models()]
    assert [value for _, value in app.MODEL_CHOICES] == ["auto"] + names
    for info in list_models():
        assert app.MODEL_LABELS.get(info.name, info.name.upper()) in app.MODEL_HELP
        scales, strength = app.model_controls(info.name, 4)
        assert [value for _, value in scales.choices] == list(info.scales)
        assert strength.visible == (info.name in RESTORE_MODELS)  # the strength slider is the revive model's
    scales, strength = app.model_controls("auto", 1)
    assert [value for _, value in scales.choices] == list(app.ALL_SCALES) and not strength.visible


# ---------------------------------------------------------------- a real server, called with gradio_client

@pytest.fixture(scope="module")
def client(app_server: str) -> Client:
    return Client(app_server, verbose=False)


def test_client_default_is_x2(tmp_path: Path, client: Client) -> None:
    source = write_rgb_jpeg(tmp_path / "photo.jpg")
    (before, after), download, info = client.predict(handle_file(str(source)), api_name="/upscale")
    assert open_image(after).size == open_image(before).size == (2 * WIDTH, 2 * HEIGHT)
    assert open_image(download).format == "JPEG" and Path(download).name == "photo_x2.jpg"
    assert "×2" in info


def test_client_scale_and_model(tmp_path: Path, client: Client) -> None:
    model = list_models()[0].name
    source = write_rgba_png(tmp_path / "alpha.png")
    (_, after), download, info = client.predict(handle_file(str(source)), scale=3, model=model, tile=0, api_name="/upscale")
    assert open_image(download).mode == "RGBA" and open_image(download).size == (3 * WIDTH, 3 * HEIGHT)
    assert open_image(after).mode == "RGBA"
    assert f"{model.upper()} ×3" in info and "chosen by you" in info


@pytest.mark.skipif("revive" not in {info.name for info in list_models()}, reason="no revive weights installed")
def test_client_revive_repairs_at_x1_with_a_chosen_strength(tmp_path: Path, client: Client) -> None:
    source = write_rgb_jpeg(tmp_path / "scan.jpg")
    results = {}
    for strength in (0.0, 1.0):
        (before, after), download, info = client.predict(
            handle_file(str(source)), scale=1, model="revive", strength=strength, auto_strength=False, api_name="/upscale")
        assert open_image(download).size == open_image(after).size == (WIDTH, HEIGHT)
        assert Path(download).name == "scan_revived.jpg" and f"strength {strength:.2f}" in info and "REVIVE ×1" in info
        results[strength] = np.asarray(open_image(after), np.float64)
    (_, after), _, info = client.predict(handle_file(str(source)), scale=1, model="revive", strength=1.0,
                                         auto_strength=False, ensemble=True, api_name="/upscale")
    assert "best quality: 8 passes" in info and "strength 1.00" in info
    averaged = np.asarray(open_image(after), np.float64)
    assert averaged.shape == results[1.0].shape and not np.array_equal(averaged, results[1.0])
    assert np.abs(results[0.0] - results[1.0]).mean() > 0.1  # the slider reaches the network
    with pytest.raises(Exception, match="needs the revive model"):
        client.predict(handle_file(str(source)), scale=1, model="vdsr", api_name="/upscale")


def test_client_bad_file_raises_and_server_keeps_serving(tmp_path: Path, client: Client) -> None:
    bad = write_bad_files(tmp_path / "bad")
    for kind, words in (("empty", "empty"), ("text", "not an image"), ("truncated", "truncated")):
        with pytest.raises(Exception) as caught:
            client.predict(handle_file(str(bad[kind])), api_name="/upscale")
        assert words in str(caught.value).lower()
    source = write_rgb_jpeg(tmp_path / "after_errors.jpg")
    (_, after), _, _ = client.predict(handle_file(str(source)), api_name="/upscale")
    assert open_image(after).size == (2 * WIDTH, 2 * HEIGHT)


def test_four_concurrent_calls_complete(tmp_path: Path, app_server: str) -> None:
    sizes = [(WIDTH, HEIGHT), (WIDTH + 8, HEIGHT), (WIDTH, HEIGHT + 8), (WIDTH + 8, HEIGHT + 8)]
    sources = [write_rgb_jpeg(tmp_path / f"photo{index}.jpg", width, height) for index, (width, height) in enumerate(sizes)]
    running = threading.Barrier(len(sources))

    def call(source: Path) -> tuple[int, int]:
        caller = Client(app_server, verbose=False)
        running.wait(timeout=60)  # all four submit together
        (_, after), _, _ = caller.predict(handle_file(str(source)), api_name="/upscale")
        return open_image(after).size

    with ThreadPoolExecutor(len(sources)) as pool:
        results = list(pool.map(call, sources, timeout=240))
    assert results == [(2 * width, 2 * height) for width, height in sizes]


def test_server_serves_only_its_files(app_server: str) -> None:
    base = app_server.rstrip("/")
    for path in (Path(app.__file__).resolve(), Path("/etc/passwd"), app.APP_ROOT / "weights" / "manifest.json"):
        assert httpx.get(f"{base}/gradio_api/file={path}").status_code in (403, 404), path
    example = app.EXAMPLES_DIR / app.EXAMPLES[0][0]
    response = httpx.get(f"{base}/gradio_api/file={example}")
    assert response.status_code == 200 and response.content == example.read_bytes()


def test_server_refuses_uploads_over_the_size_limit(app_server: str) -> None:
    too_big = io.BytesIO(b"\0" * (50 * 1024 * 1024 + 1))
    response = httpx.post(f"{app_server.rstrip('/')}/gradio_api/upload", files={"files": ("big.png", too_big)}, timeout=60)
    assert response.status_code == 413


def test_page_and_api_info(app_server: str) -> None:
    page = httpx.get(app_server, timeout=30)
    assert page.status_code == 200 and "Revive" in page.text
    info = httpx.get(f"{app_server.rstrip('/')}/gradio_api/info", timeout=30).json()
    assert list(info["named_endpoints"]) == ["/upscale"]
    parameters = {item["parameter_name"]: item for item in info["named_endpoints"]["/upscale"]["parameters"]}
    assert parameters["image"]["parameter_has_default"] is False
    assert parameters["scale"]["parameter_default"] == 2 and parameters["model"]["parameter_default"] == "auto"
