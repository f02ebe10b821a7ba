"""Choose a model per image: the best quality that finishes within a time budget.

Pure: the caller passes what is available and how fast it runs; nothing here loads a model.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple, Sequence

from revive_core.errors import UsageError

if TYPE_CHECKING:
    from revive_core.damage import DamageEstimate

# Quality rank (higher is better), from the evaluation tables in the README.
QUALITY = {"vdsr": 2, "srcnn": 1}  # on clean input; revive is chosen for damaged input only
RESTORATION = "revive"
# End-to-end output megapixels per second on 2 cores (AMX/AVX512-BF16), measured with
# `python -m revive_core.bench` on 2026-11-25: the large-photo (2000x1500 -> 4000x3000) figures
# for bf16, the 512x384 end-to-end figures for fp32 (where the budget matters, photos are big).
# revive: the 7-block figures (1.95, 0.81) times 0.69, the 10-block/7-block ratio of the bare
# network measured on one machine on 2026-11-26 (1.34 against 1.94 MP/s; its MACs ratio is 0.70),
# times 0.85 for the 12-block x1/x2 specialist (bare network on 3 Set14 photos in one run: 1.03 MP/s
# at x2 against 1.21 for the 10-block model at x4; its convolution ratio 22/26 is 0.85 too). One
# figure per family, so the slower one: x3/x4 run the 10-block model, that much faster than budgeted.
THROUGHPUT = {
    "bf16": {"vdsr": 0.79, "srcnn": 2.7, "revive": 1.14},
    "fp32": {"vdsr": 0.19, "srcnn": 1.75, "revive": 0.47},
}
DEFAULT_BUDGET_SECONDS = 30.0


class Candidate(NamedTuple):
    """A model that could run: its family name, scales served and speed (output MP/s)."""

    name: str
    scales: tuple[int, ...]
    megapixels_per_second: float


class Selection(NamedTuple):
    """The chosen model and a one-sentence reason to show the user."""

    model: str
    reason: str
    estimated_seconds: float


def default_budget() -> float:
    return float(os.environ.get("REVIVE_TIME_BUDGET", DEFAULT_BUDGET_SECONDS))


def select_model(
    width: int,
    height: int,
    scale: int,
    available: Sequence[Candidate],
    budget_seconds: float | None = None,
    damage: "DamageEstimate | None" = None,
) -> Selection:
    """Pick the highest-quality candidate for ``scale`` whose estimated time fits the budget.

    A damaged input (``damage.damaged``) gets the revive model when it serves ``scale`` and fits
    the budget, with the damage estimate in the reason; clean input never gets it unless it is
    the only model for the scale (x1).

    Args:
        width, height: input size in pixels.
        scale: the requested factor.
        available: candidates; those not serving ``scale`` are ignored.
        budget_seconds: time allowed (default ``$REVIVE_TIME_BUDGET`` or 30 s).

    Returns:
        The Selection; when nothing fits the budget, the fastest model with that said.
    """
    budget = default_budget() if budget_seconds is None else budget_seconds
    serving = [candidate for candidate in available if scale in candidate.scales]
    if not serving:
        raise UsageError(f"no trained model serves x{scale}")
    megapixels = width * height * scale * scale / 1e6
    estimates = {c.name: megapixels / max(c.megapixels_per_second, 1e-9) for c in serving}
    restorer = next((c for c in serving if c.name == RESTORATION), None)
    if restorer is not None and damage is not None and damage.damaged and estimates[restorer.name] <= budget:
        return Selection(restorer.name, f"REVIVE: {damage.reason} About {estimates[restorer.name]:.1f} s "
                         f"for {megapixels:.1f} MP", estimates[restorer.name])
    if restorer is not None and len(serving) > 1:
        serving = [c for c in serving if c is not restorer]
    ranked = sorted(serving, key=lambda c: QUALITY.get(c.name, 0), reverse=True)
    best = ranked[0]
    for candidate in ranked:
        seconds = estimates[candidate.name]
        if seconds <= budget:
            if candidate is best:
                reason = (f"{candidate.name.upper()}: the best model for x{scale}; about {seconds:.1f} s "
                          f"for {megapixels:.1f} MP")
            else:
                reason = (f"{candidate.name.upper()}: {best.name.upper()} would take about "
                          f"{estimates[best.name]:.0f} s for {megapixels:.1f} MP, over the {budget:.0f} s budget; "
                          f"{candidate.name.upper()} takes about {seconds:.1f} s")
            return Selection(candidate.name, reason, seconds)
    fastest = min(serving, key=lambda c: estimates[c.name])
    seconds = estimates[fastest.name]
    return Selection(
        fastest.name,
        f"{fastest.name.upper()}: the fastest model; {megapixels:.1f} MP takes about {seconds:.0f} s, "
        f"over the {budget:.0f} s budget",
        seconds,
    )
