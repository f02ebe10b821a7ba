"""Tiling: identity round-trips exactly; tiled VDSR equals untiled VDSR."""

import numpy as np
import pytest

from revive_core.architectures import build
from revive_core.tiling import plan_tiles, reflect_indices, tiled_apply


def identity(context: int):
    return lambda blocks: blocks[:, context:-context, context:-context] if context else blocks


@pytest.mark.parametrize("height, width", [(1, 1), (7, 300), (130, 129), (513, 257)])
@pytest.mark.parametrize("tile", [32, 64, 100, None])
def test_identity_round_trip_is_exact(height: int, width: int, tile: int | None) -> None:
    image = np.random.default_rng(0).random((height, width, 2)).astype(np.float32)
    assert np.array_equal(tiled_apply(image, identity(5), 5, tile=tile), image)


def test_scaled_network_pastes_at_scale() -> None:
    image = np.random.default_rng(1).random((45, 70, 1)).astype(np.float32)

    def nearest_x3(blocks: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(blocks[:, 2:-2, 2:-2], 3, axis=1), 3, axis=2)

    expected = np.repeat(np.repeat(image, 3, axis=0), 3, axis=1)
    assert np.array_equal(tiled_apply(image, nearest_x3, 2, scale=3, tile=32, batch=4), expected)


def test_tiles_cover_image_with_few_shapes_and_progress() -> None:
    tiles = plan_tiles(1000, 700, 256)
    shapes = {(tile.height, tile.width) for tile in tiles}
    assert shapes == {(256, 256)}
    covered = np.zeros((1000, 700), bool)
    for tile in tiles:
        covered[tile.top : tile.top + tile.height, tile.left : tile.left + tile.width] = True
    assert covered.all()
    calls = []
    tiled_apply(np.zeros((100, 90, 1), np.float32), identity(1), 1, tile=40, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i, 9) for i in range(1, 10)]


def test_short_sides_are_rounded_to_shape_steps() -> None:
    assert {(t.height, t.width) for t in plan_tiles(20, 1000, 512)} == {(64, 512)}


def test_reflect_indices_mirror_any_distance() -> None:
    assert reflect_indices(-3, 6, 4).tolist() == [3, 2, 1, 0, 1, 2, 3, 2, 1]
    assert reflect_indices(-2, 3, 1).tolist() == [0] * 5


def test_tiled_vdsr_equals_untiled() -> None:
    model = build("vdsr", padding="valid", depth=20)
    image = np.random.default_rng(2).random((150, 97, 1)).astype(np.float32)
    network = lambda blocks: model.predict_on_batch(blocks)  # noqa: E731
    untiled = tiled_apply(image, network, 20, tile=None)
    tiled = tiled_apply(image, network, 20, tile=48)
    assert untiled.shape == image.shape
    # within 1 grey level on a 0..255 scale; in practice float rounding only
    assert np.abs(untiled - tiled).max() * 255 < 1.0
    assert np.abs(untiled - tiled).max() < 1e-4


@pytest.mark.parametrize("length, tile, alignment", [(100, 45, 2), (97, 33, 4), (513, 512, 2), (31, 64, 4), (200, 7, 2)])
def test_aligned_plans_cover_the_image_on_the_grid(length: int, tile: int, alignment: int) -> None:
    tiles = plan_tiles(length, length, tile, alignment)
    assert all(t.top % alignment == 0 and t.left % alignment == 0 for t in tiles)
    assert all(t.height % alignment == 0 and t.height < tile + alignment for t in tiles)
    covered = np.zeros((length, length), bool)
    for t in tiles:
        covered[t.top : t.top + t.height, t.left : t.left + t.width] = True
    assert covered.all()
