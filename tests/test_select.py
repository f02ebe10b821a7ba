"""Model choice is a pure function of size, scale, what is available and the budget."""

import pytest

from revive_core.damage import DamageEstimate
from revive_core.errors import UsageError
from revive_core.select import Candidate, select_model

AVAILABLE = [Candidate("srcnn", (2, 3, 4), 7.0), Candidate("vdsr", (2, 3, 4), 1.5)]


def test_small_image_gets_the_best_model() -> None:
    selection = select_model(640, 480, 2, AVAILABLE, budget_seconds=30)
    assert selection.model == "vdsr"
    assert "best" in selection.reason and "1.2 MP" in selection.reason


def test_large_image_falls_back_to_the_faster_model_and_says_why() -> None:
    selection = select_model(4000, 3000, 2, AVAILABLE, budget_seconds=30)
    assert selection.model == "srcnn"
    assert "VDSR would take about 32 s" in selection.reason and "48.0 MP" in selection.reason


def test_nothing_fits_picks_the_fastest() -> None:
    selection = select_model(8000, 8000, 4, AVAILABLE, budget_seconds=5)
    assert selection.model == "srcnn" and "over the 5 s budget" in selection.reason


def test_scale_not_served() -> None:
    assert select_model(100, 100, 3, [Candidate("vdsr", (2,), 1.5), Candidate("srcnn", (3,), 7.0)]).model == "srcnn"
    with pytest.raises(UsageError, match="x4"):
        select_model(100, 100, 4, [Candidate("vdsr", (2,), 1.5)])


def damage(damaged: bool) -> DamageEstimate:
    return DamageEstimate(noise_sigma=12.0 if damaged else 1.0, blockiness=1.0, jpeg_quality_guess=None,
                          damaged=damaged, reason="noise sigma 12.0 levels." if damaged else "clean.")


WITH_REVIVE = AVAILABLE + [Candidate("revive", (1, 2, 3, 4), 5.0)]


def test_damaged_input_gets_revive_with_the_estimate_as_reason() -> None:
    selection = select_model(640, 480, 2, WITH_REVIVE, budget_seconds=30, damage=damage(True))
    assert selection.model == "revive" and "noise sigma 12.0" in selection.reason


def test_clean_input_never_gets_revive_unless_only_revive_serves_the_scale() -> None:
    for estimate in (None, damage(False)):
        assert select_model(640, 480, 2, WITH_REVIVE, budget_seconds=30, damage=estimate).model == "vdsr"
    assert select_model(640, 480, 1, WITH_REVIVE, budget_seconds=30, damage=damage(False)).model == "revive"
    with pytest.raises(UsageError, match="x1"):
        select_model(640, 480, 1, AVAILABLE)
