"""Revive web app: a thin Gradio UI over ``revive_core``.

    python app.py                       # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / _PORT honoured)
    python app.py --host 0.0.0.0 --port 8080 --inbrowser

One handler, ``upscale_photo``, turns the UI's values into one ``revive_core.api.upscale_picture``
call; every user mistake becomes a ``gr.Error`` with one sentence. The same event is the API
endpoint ``/upscale``.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from revive_core import imageio
from revive_core.api import DEFAULT_TILE, RESTORE_MODELS, SCALES, Report, upscale_picture
from revive_core.errors import ReviveError
from revive_core.imageio import Picture
from revive_core.models import ModelInfo, list_models
from revive_core.resize import imresize
from revive_core.select import default_budget
from revive_core.weights import read_manifest

LOGGER = logging.getLogger("revive.app")

APP_ROOT = Path(__file__).resolve().parent
EXAMPLES_DIR = APP_ROOT / "examples"
OUTPUT_ROOT = Path(os.environ.get("REVIVE_APP_OUTPUT_DIR") or Path(tempfile.gettempdir()) / "revive-app")
OUTPUT_MAX_AGE_SECONDS = 3600  # per-request folders older than this are deleted
MAX_INPUT_PIXELS = 25_000_000  # refused when decoding (the header is read first)
MAX_OUTPUT_PIXELS = 100_000_000  # refused before the model runs
PREVIEW_MAX_SIDE = 2048  # the comparison shows at most this many output pixels per side
MAX_FILE_SIZE = "50mb"
CONCURRENCY_LIMIT = 1  # one upscale at a time: TensorFlow already uses both of the 2 cores
QUEUE_SIZE = 16
RUN_CONCURRENCY_ID = "upscale"  # the Upscale button and the examples share one queue
MODEL_AUTO = "auto"
MODEL_LABELS = {"revive": "Revive (old / damaged photo)"}  # families shown by a name rather than their key
DEFAULT_STRENGTH = 0.5

EXAMPLES: list[list[Any]] = [  # [file in examples/, scale, model, tile, strength, automatic strength]
    ["astronaut_sepia.jpg", 2, MODEL_AUTO, DEFAULT_TILE, DEFAULT_STRENGTH, True],
    ["chelsea_cutout.png", 2, MODEL_AUTO, DEFAULT_TILE, DEFAULT_STRENGTH, True],
    ["camera_grey.png", 2, MODEL_AUTO, DEFAULT_TILE, DEFAULT_STRENGTH, True],
    ["coffee.jpg", 3, MODEL_AUTO, DEFAULT_TILE, DEFAULT_STRENGTH, True],
    ["rocket.jpg", 4, MODEL_AUTO, DEFAULT_TILE, DEFAULT_STRENGTH, True],
]


# ---------------------------------------------------------------- models (read once at start-up)

def installed_models() -> list[ModelInfo]:
    """The shipped model families; empty (and logged) when the manifest cannot be read."""
    try:
        return list_models()
    except ReviveError as error:
        LOGGER.error("no models available: %s", error)
        return []


def _training_note(family: str) -> str:
    """' (provisional: N of M training steps)' while a family's weights are still training."""
    try:
        entries = [entry for entry in read_manifest().values() if entry.family == family]
    except ReviveError:
        return ""
    notes = []
    for entry in entries:
        recipe = entry.metadata.get("recipe")
        if not isinstance(recipe, dict):
            continue
        trained, planned = recipe.get("steps_trained"), recipe.get("steps_planned")
        if isinstance(trained, int) and isinstance(planned, int) and trained < planned:
            notes.append(f"provisional: {trained:,} of {planned:,} training steps")
    return f" ({'; '.join(notes)})" if notes else ""


MODELS: list[ModelInfo] = installed_models()
MODEL_SCALES: dict[str, tuple[int, ...]] = {info.name: info.scales for info in MODELS}
ALL_SCALES: tuple[int, ...] = tuple(sorted({scale for served in MODEL_SCALES.values() for scale in served})) or SCALES
MODEL_CHOICES: list[tuple[str, str]] = [("Auto", MODEL_AUTO)] + [
    (f"{MODEL_LABELS.get(info.name, info.name.upper())} ({', '.join(f'×{scale}' for scale in info.scales)})", info.name)
    for info in MODELS
]
MODEL_HELP = " ".join(
    [f"Auto picks the best model that finishes within about {default_budget():.0f} s and says why; "
     "it picks Revive when it measures noise or JPEG blocking in the photo."]
    + [f"{MODEL_LABELS.get(info.name, info.name.upper())}: {info.description}{_training_note(info.name)}." for info in MODELS]
)


def _scale_label(scale: int) -> str:
    return "×1 (repair only)" if scale == 1 else f"×{scale}"


# ---------------------------------------------------------------- helpers (pure; shapes in docstrings)

def _sentence(message: str) -> str:
    """``message`` with a capital first letter and a final full stop."""
    message = message.strip() or "something went wrong"
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def _image_source(image: str | os.PathLike | dict | None) -> tuple[Path, str]:
    """(path on disk, the user's file name) from a path or Gradio's file payload (dict with "path")."""
    if image is None or image == "":
        raise gr.Error("Upload a photo first (drag and drop, paste or click), or pick an example below.",
                       title="No photo", print_exception=False)
    if isinstance(image, dict):
        path = image.get("path")
        if not path:
            raise gr.Error("The upload did not arrive; please try again.", title="No photo", print_exception=False)
        return Path(path), str(image.get("orig_name") or Path(path).name)
    return Path(image), Path(image).name


def _download_name(original_name: str, scale: int, image_format: str) -> str:
    """A safe file name: the upload's stem (letters, digits, ``._-`` only) + ``_x{scale}`` (``_revived``
    at ×1) + suffix."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(original_name).stem).strip("._")[:80] or "photo"
    tag = "revived" if scale == 1 else f"x{scale}"
    return f"{stem}_{tag}{imageio.SUFFIXES[image_format]}"


def _download_format(picture: Picture, original_name: str) -> str:
    """PIL format name for the download: the input's own format, else by file suffix, else PNG."""
    if picture.format in imageio.SUFFIXES:
        return picture.format
    return imageio.output_format(None, picture, Path(original_name))


def to_eight_bit(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 or uint16 -> (H, W, C) uint8 (uint16 scaled by 255/65535, rounded)."""
    if pixels.dtype == np.uint8:
        return pixels
    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def comparison_pair(
    source: np.ndarray, result: np.ndarray, scale: int, max_side: int = PREVIEW_MAX_SIDE
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The slider's (before, after) images, both (h, w, C) uint8, and whether they were cropped.

    ``source`` is the input (H, W, C) and ``result`` the upscaled (H*scale, W*scale, C), uint8 or
    uint16. "Before" is the input resized with plain MATLAB-exact bicubic to the result's size. When
    the result is larger than ``max_side`` on a side, both show the same central crop (whole input
    pixels, computed with 4 input pixels of context so it equals the crop of the full resize).
    """
    out_height, out_width = result.shape[:2]
    crop_height = min(out_height, max_side) // scale * scale or out_height
    crop_width = min(out_width, max_side) // scale * scale or out_width
    cropped = (crop_height, crop_width) != (out_height, out_width)
    top = (out_height - crop_height) // 2 // scale * scale
    left = (out_width - crop_width) // 2 // scale * scale
    margin = 4
    in_top, in_left = max(0, top // scale - margin), max(0, left // scale - margin)
    in_bottom = min(source.shape[0], (top + crop_height) // scale + margin)
    in_right = min(source.shape[1], (left + crop_width) // scale + margin)
    region = to_eight_bit(source[in_top:in_bottom, in_left:in_right])
    resized = imresize(region, output_shape=((in_bottom - in_top) * scale, (in_right - in_left) * scale))
    offset_top, offset_left = top - in_top * scale, left - in_left * scale
    before = resized[offset_top:offset_top + crop_height, offset_left:offset_left + crop_width]
    after = to_eight_bit(result[top:top + crop_height, left:left + crop_width])
    if before.ndim == 2:
        before = before[..., None]
    return np.ascontiguousarray(before), np.ascontiguousarray(after), cropped


def _request_folder() -> Path:
    """A new private folder under OUTPUT_ROOT for one request; removes folders older than an hour."""
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - OUTPUT_MAX_AGE_SECONDS
    for old in OUTPUT_ROOT.glob("request-*"):
        try:
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix="request-", dir=OUTPUT_ROOT))


def _info_markdown(report: Report, download_name: str, image_format: str, cropped: bool, warnings: list[str]) -> str:
    """The info line under the result: model and why, sizes, time, warnings (Markdown)."""
    (width, height), (out_width, out_height) = report.input_size, report.output_size
    tiles = f", {report.tiles} tile{'s' if report.tiles != 1 else ''}" if report.tiles else ""
    strength = f", strength {report.strength:.2f}" if report.strength is not None else ""
    ensemble = ", best quality: 8 passes" if report.ensemble else ""
    jpeg = f", kept true to the JPEG (quality {report.jpeg_quality:.0f})" if report.jpeg_quality is not None else ""
    lines = [
        f"**{report.model.upper()} ×{report.scale}** · {width}×{height} → {out_width}×{out_height} px · "
        f"{report.seconds:.1f} s ({report.precision}{tiles}{strength}{ensemble}{jpeg})",
        f"Why this model: {_sentence(report.reason)}",
    ]
    if report.damage and report.damage not in report.reason:
        lines.append(f"Damage estimate: {_sentence(report.damage)}")
    lines.append(f"Download: `{download_name}` ({image_format}, full resolution).")
    if cropped:
        lines.append(f"The comparison shows the central {PREVIEW_MAX_SIDE}-pixel crop; the download is the whole photo.")
    lines += [f"⚠️ {_sentence(warning)}" for warning in dict.fromkeys(warnings)]
    return "  \n".join(lines)


# ---------------------------------------------------------------- the handler

def upscale_photo(
    image: str | os.PathLike | dict | None,
    scale: int = 2,
    model: str = MODEL_AUTO,
    tile: int = DEFAULT_TILE,
    strength: float = DEFAULT_STRENGTH,
    auto_strength: bool = True,
    ensemble: bool = False,
    progress: gr.Progress = gr.Progress(),
) -> tuple[tuple[str, str], str, str]:
    """Upscale (or, at ×1, repair) a photo with Revive.

    Args:
        image: the photo: a file path, or Gradio's file payload (a dict with "path" and "orig_name").
        scale: 2, 3 or 4; 1 repairs without enlarging (Revive model, or Auto).
        model: "auto" or an installed model family (e.g. "vdsr", "revive").
        tile: tile side in output pixels; 0 processes the image in one piece.
        strength: Revive only, 0 (gentle) to 1 (strongest repair); used when ``auto_strength`` is False.
        auto_strength: Revive only: set the strength from the measured noise and JPEG blocking.
        ensemble: best quality: average 8 mirrored and rotated passes of the network (8x the time).

    Returns:
        ((before.png, after.png), download path, info Markdown). before/after are 8-bit PNGs of the
        same size (alpha kept): the input resized with MATLAB-exact bicubic, and the result. The
        download is the full-resolution result in the input's format (16-bit, ICC, EXIF kept).
    """
    started = time.perf_counter()
    path, original_name = _image_source(image)
    try:
        scale, tile, model = int(scale), int(tile if tile is not None else DEFAULT_TILE), str(model or MODEL_AUTO).strip().lower()
        chosen_strength = None if auto_strength or strength is None else float(strength)
    except (TypeError, ValueError):
        raise gr.Error("Scale and tile size must be whole numbers and the strength a number from 0 to 1.",
                       title="Invalid settings", print_exception=False) from None
    progress(0.0, desc="Reading the photo")
    try:
        picture = imageio.load(path, max_pixels=MAX_INPUT_PIXELS)
        out_width, out_height = picture.width * scale, picture.height * scale
        if scale in (1,) + SCALES and out_width * out_height > MAX_OUTPUT_PIXELS:
            raise gr.Error(
                f"×{scale} of this {picture.width}×{picture.height} photo would be {out_width}×{out_height} = "
                f"{out_width * out_height / 1e6:.1f} megapixels; the limit is {MAX_OUTPUT_PIXELS / 1e6:.0f} megapixels. "
                "Choose a smaller scale or a smaller photo.",
                title="Result too large", print_exception=False,
            )

        def on_tile(done: int, total: int) -> None:
            progress((done, total), desc="Repairing" if scale == 1 else "Upscaling", unit="tiles")

        result, report = upscale_picture(picture, scale=scale, model=model, tile=tile, progress=on_tile,
                                         strength=chosen_strength, ensemble=bool(ensemble))
        progress(1.0, desc="Saving the result")
        folder = _request_folder()
        image_format = _download_format(picture, original_name)
        download = imageio.save(result, folder / _download_name(original_name, scale, image_format), image_format)
        before, after, cropped = comparison_pair(picture.pixels, result.pixels, scale)
        before_path = imageio.save(Picture(before, "PNG", picture.icc_profile), folder / "before.png", "PNG")
        after_path = imageio.save(Picture(after, "PNG", picture.icc_profile), folder / "after.png", "PNG")
    except ReviveError as error:
        LOGGER.info("refused %s: %s", original_name, error)
        raise gr.Error(_sentence(str(error)), title="Cannot upscale this photo", print_exception=False) from None
    except MemoryError:
        LOGGER.error("out of memory on %s", original_name)
        raise gr.Error("The server ran out of memory for this photo; try a smaller scale or a smaller photo.",
                       title="Out of memory", print_exception=False) from None
    except gr.Error:
        raise
    except Exception as error:  # a bug or a server problem: logged in full here, one line for the user
        LOGGER.exception("failed on %s", original_name)
        raise gr.Error(f"Something went wrong on the server ({type(error).__name__}); the details were logged. "
                       "Please try again or report it.", title="Server error", print_exception=False) from None
    info = _info_markdown(report, download.name, image_format, cropped, result.warnings)
    LOGGER.info("%s: %s (%.1f s in all)", original_name, report.summary(), time.perf_counter() - started)
    return (str(before_path), str(after_path)), str(download), info


def model_controls(model: str, scale: int) -> tuple[Any, Any]:
    """Controls that depend on the chosen model: the scales it serves, and the strength controls
    (shown for a restoration model only; Auto sets the strength itself)."""
    scales = MODEL_SCALES.get(model, ALL_SCALES)
    value = scale if scale in scales else (2 if 2 in scales else scales[0])
    return (gr.Radio(choices=[(_scale_label(s), s) for s in scales], value=value),
            gr.Group(visible=model in RESTORE_MODELS))


# ---------------------------------------------------------------- the page

INTRODUCTION = """# Revive
Bring old, small photos back to life with deep-learning super-resolution. Drop, paste or click to
upload a photo (PNG, JPEG, WebP, TIFF, BMP, GIF…; transparency, grey, 16-bit and colour profiles are
kept), choose how much bigger, and press **Upscale**. Drag the slider to compare plain bicubic
resizing (left) with Revive (right); download the full-resolution result in your photo's format.
For scans and old, noisy or heavily compressed photos choose **Revive (old / damaged photo)**, or
leave the model on Auto, which picks it when it measures noise or JPEG blocking."""

with gr.Blocks(
    title="Revive: photo super-resolution", analytics_enabled=False, delete_cache=(3600, OUTPUT_MAX_AGE_SECONDS)
) as demo:
    gr.Markdown(INTRODUCTION)
    with gr.Row():
        with gr.Column(scale=2, min_width=280):
            image_input = gr.Image(
                label="Photo", type="filepath", image_mode=None, format="png",
                sources=["upload", "clipboard"], height=320, elem_id="photo",
            )
            scale_input = gr.Radio(
                label="Scale", choices=[(_scale_label(scale), scale) for scale in ALL_SCALES], value=2,
                info="How many times wider and taller the result is (×1: repair without enlarging).", elem_id="scale",
            )
            model_input = gr.Dropdown(label="Model", choices=MODEL_CHOICES, value=MODEL_AUTO, info=MODEL_HELP, elem_id="model")
            with gr.Group(visible=False, elem_id="strength-controls") as strength_group:
                auto_strength_input = gr.Checkbox(
                    label="Set the strength from the measured damage", value=True, elem_id="auto-strength",
                )
                strength_input = gr.Slider(
                    label="Repair strength", minimum=0.0, maximum=1.0, step=0.05, value=DEFAULT_STRENGTH,
                    info="0 treats the photo as clean (sharp upscaling only); 1 removes the heaviest noise and "
                         "JPEG blocks, and smooths the most. Moving it turns the automatic setting off.",
                    elem_id="strength",
                )
            with gr.Accordion("Advanced", open=False):
                tile_input = gr.Slider(
                    label="Tile size (output pixels)", minimum=0, maximum=1024, step=32, value=DEFAULT_TILE,
                    info="The photo is processed in tiles of this size (with overlap, so no seams). "
                         "Bigger is slightly faster and uses more memory; 0 = the whole photo at once.",
                    elem_id="tile",
                )
                ensemble_input = gr.Checkbox(
                    label="Best quality (8× slower)", value=False, elem_id="ensemble",
                    info="Runs the model on 8 mirrored and rotated copies of the photo and averages them: "
                         "a little sharper and cleaner.",
                )
            run_button = gr.Button("Upscale", variant="primary", elem_id="run")
        with gr.Column(scale=3, min_width=320):
            comparison_output = gr.ImageSlider(
                label="Before (bicubic) ↔ After (Revive)", type="filepath", format="png",
                interactive=False, max_height=640, elem_id="comparison",
            )
            info_output = gr.Markdown(label="Info", elem_id="info")
            download_output = gr.File(label="Download the full-resolution result", interactive=False, elem_id="download")

    run_inputs = [image_input, scale_input, model_input, tile_input, strength_input, auto_strength_input, ensemble_input]
    run_outputs = [comparison_output, download_output, info_output]
    examples = gr.Examples(
        examples=[[str(EXAMPLES_DIR / name), *settings, False] for name, *settings in EXAMPLES],
        inputs=run_inputs,
        label="Examples: public-domain and CC0 photos made to look old (click one to run it)",
        cache_examples=False,
        visible_columns=[0, 1],
        api_visibility="private",
    )
    run_options: dict[str, Any] = dict(
        fn=upscale_photo, inputs=run_inputs, outputs=run_outputs,
        preprocess=False,  # the handler decodes the uploaded file's own bytes (16-bit, alpha, ICC, EXIF)
        concurrency_id=RUN_CONCURRENCY_ID, concurrency_limit=CONCURRENCY_LIMIT,
    )
    run_button.click(**run_options, api_name="upscale")
    # Clicking an example loads it and runs it, in the same queue as the Upscale button.
    examples.load_input_event.then(**run_options, api_visibility="private")
    model_input.change(model_controls, inputs=[model_input, scale_input], outputs=[scale_input, strength_group],
                       queue=False, api_visibility="private")
    strength_input.release(lambda: False, outputs=auto_strength_input, queue=False, api_visibility="private")

demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)


# ---------------------------------------------------------------- serving

def warm_up() -> None:
    """Load the default model and trace it once on a tiny picture, so the first request is quick."""
    started = time.perf_counter()
    try:
        upscale_picture(Picture(np.full((16, 16, 1), 128, np.uint8)), scale=2)
    except ReviveError as error:
        LOGGER.warning("warm-up failed: %s", error)
        return
    LOGGER.info("model warmed up in %.1f s", time.perf_counter() - started)


def serve(
    host: str | None = None,
    port: int | None = None,
    share: bool = False,
    inbrowser: bool = False,
    prevent_thread_lock: bool = False,
) -> tuple[Any, str, str]:
    """Launch ``demo`` with the app's limits; host/port go to Gradio only when given, so that
    GRADIO_SERVER_NAME / GRADIO_SERVER_PORT still work. Returns Gradio's (app, local URL, share URL)."""
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    warm_up()
    options: dict[str, Any] = dict(
        max_file_size=MAX_FILE_SIZE,
        allowed_paths=[str(EXAMPLES_DIR), str(OUTPUT_ROOT)],  # nothing else is served
        inbrowser=inbrowser,
        prevent_thread_lock=prevent_thread_lock,
        theme=gr.themes.Soft(primary_hue="indigo"),
    )
    if share:
        options["share"] = True
    if host:
        options["server_name"] = host
    if port:
        options["server_port"] = port
    return demo.launch(**options)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Revive web app (Gradio).")
    parser.add_argument("--host", help="address to listen on, e.g. 0.0.0.0 (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $GRADIO_SERVER_PORT or the first free from 7860)")
    parser.add_argument("--share", action="store_true", help="also create a temporary public gradio.live link")
    parser.add_argument("--inbrowser", action="store_true", help="open the app in the default browser")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP request otherwise
    serve(host=args.host, port=args.port, share=args.share, inbrowser=args.inbrowser)


if __name__ == "__main__":
    main()
