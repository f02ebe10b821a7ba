"""The web app in a real headless Chromium, driven by Playwright (no `playwright install`: the
browser is the system's /usr/bin/chromium, Debian package `chromium`)."""

from __future__ import annotations

import io
import logging
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no chromium on PATH (Debian: apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser
LOGGER = logging.getLogger(__name__)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SCREENSHOT_COPY = Path("/tmp/revive_screenshot.png")
RUN_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, app_server: str) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(app_server)
    page.locator("#run").wait_for(state="visible")
    LOGGER.info("page loaded in %.2f s", time.perf_counter() - started)
    try:
        yield page
    finally:
        context.close()


def comparison_sizes(page) -> list[tuple[int, int]]:
    """(naturalWidth, naturalHeight) of the loaded images in the before/after slider."""
    sizes = page.eval_on_selector_all(
        "#comparison img", "images => images.filter(i => i.complete && i.naturalWidth > 0)"
                           ".map(i => [i.naturalWidth, i.naturalHeight])")
    return [tuple(size) for size in sizes]


def upload(page, path: Path) -> None:
    """Choose ``path`` in the photo input and wait until the server has received it."""
    with page.expect_response(lambda response: "/gradio_api/upload" in response.url and response.ok):
        page.set_input_files("#photo input[type=file]", str(path))
    page.locator("#photo img").first.wait_for(state="attached")


def wait_for_result(page, words: str) -> None:
    page.locator("#info").get_by_text(words, exact=False).wait_for(timeout=RUN_TIMEOUT_MS)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#comparison img')].filter(i => i.complete && i.naturalWidth > 0).length >= 2",
        timeout=RUN_TIMEOUT_MS,
    )


def test_upload_run_and_compare(page, tmp_path: Path) -> None:
    upload(page, EXAMPLES / "chelsea_cutout.png")
    started = time.perf_counter()
    page.click("#run")
    wait_for_result(page, "220×146 → 440×292")
    LOGGER.info("x2 of chelsea_cutout.png shown in %.2f s", time.perf_counter() - started)
    assert comparison_sizes(page)[:2] == [(440, 292), (440, 292)]
    link = page.locator("#download a[data-testid='download-link']")
    assert link.get_attribute("download") == "chelsea_cutout_x2.png"
    downloaded = Image.open(io.BytesIO(page.request.get(link.get_attribute("href")).body()))
    assert (downloaded.format, downloaded.mode, downloaded.size) == ("PNG", "RGBA", (440, 292))
    page.wait_for_timeout(300)  # let the slider finish its layout before the picture
    screenshot = tmp_path / "revive.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    shutil.copyfile(screenshot, SCREENSHOT_COPY)


def test_clicking_an_example_runs_it(page) -> None:
    page.locator("[data-testid='dataset-cell-4-0'], [data-testid='gallery-item-4']").first.click()
    wait_for_result(page, "200×133 → 800×532")
    assert comparison_sizes(page)[:2] == [(800, 532), (800, 532)]


def test_bad_file_shows_a_clear_error(page, tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("this is a text file, not a picture\n")
    upload(page, text)
    page.click("#run")
    page.get_by_text("Not an image file Pillow can read", exact=False).first.wait_for(timeout=RUN_TIMEOUT_MS)
    assert page.get_by_text("Traceback").count() == 0


def test_progress_bar_counts_tiles(page) -> None:
    page.get_by_text("Advanced").click()
    slider = page.locator("#tile input[type=range]")
    slider.wait_for(state="visible")
    slider.focus()
    slider.press("Home")  # 0, then four steps of 32, as a keyboard user would
    for _ in range(4):
        slider.press("ArrowRight")
    sync_api.expect(page.locator("#tile input[type=number]")).to_have_value("128")
    page.locator("#scale").get_by_text("×4").click()
    sync_api.expect(page.locator("#scale label").filter(has_text="×4").locator("input")).to_be_checked()
    upload(page, EXAMPLES / "rocket.jpg")
    page.click("#run")
    # 200x133 at x4 = 800x532 output = 7 x 5 tiles of 128; the bar shows "done/total tiles" while it runs
    counts = page.wait_for_function(
        """() => {
            const match = document.querySelector('#comparison')?.innerText.match(/(\\d+)\\/(\\d+) tiles/);
            return match && Number(match[1]) < Number(match[2]) ? [Number(match[1]), Number(match[2])] : null;
        }""",
        polling="raf", timeout=RUN_TIMEOUT_MS,
    ).json_value()
    assert counts[1] == 35 and 0 < counts[0] < 35
    wait_for_result(page, "35 tiles")


def test_revive_model_shows_strength_and_repairs_at_x1(page) -> None:
    sync_api.expect(page.locator("#strength")).to_be_hidden()  # Auto sets the strength itself
    page.locator("#model input").click()
    page.get_by_role("option", name=re.compile("Revive")).click()
    page.locator("#strength").wait_for(state="visible")
    sync_api.expect(page.locator("#auto-strength input")).to_be_checked()
    page.locator("#scale").get_by_text("×1 (repair only)").click()
    upload(page, EXAMPLES / "coffee.jpg")
    page.locator("#auto-strength input").uncheck()  # first: moving the slider also unchecks it
    number = page.locator("#strength input[type=number]")
    number.fill("0.8")
    number.press("Enter")
    sync_api.expect(page.locator("#auto-strength input")).not_to_be_checked()
    page.click("#run")
    wait_for_result(page, "300×200 → 300×200")
    info = page.locator("#info").inner_text()
    assert "REVIVE ×1" in info and "strength 0.80" in info and "JPEG quality 30" in info
    assert "kept true to the JPEG (quality 30)" in info  # x1 repair projected onto what the file allows
    link = page.locator("#download a[data-testid='download-link']")
    assert link.get_attribute("download") == "coffee_revived.jpg"
