"""Architecture registry: name -> (builder, receptive radius, pre-upsampled, tile alignment).
Builders are pure functions that return a ``keras.Model`` on ``keras.Input((None, None, channels))``."""

from __future__ import annotations

from typing import Callable, NamedTuple

from revive_core._quiet import import_backend_quietly

import_backend_quietly()  # before any family module imports keras: no C++ start-up lines on stderr

import keras  # noqa: E402

from revive_core.architectures.revive import alignment_revive, build_revive, receptive_radius_revive  # noqa: E402
from revive_core.architectures.srcnn import build_srcnn, receptive_radius_srcnn
from revive_core.architectures.vdsr import build_vdsr, receptive_radius_vdsr


class Architecture(NamedTuple):
    build: Callable[..., keras.Model]
    receptive_radius: Callable[..., int]
    pre_upsampled: bool  # True: input is the bicubic-upscaled image, output the same size
    alignment: Callable[..., int]  # tiles must start at multiples of this (pixel-unshuffle factor)


def _unaligned(**_: object) -> int:
    return 1


ARCHITECTURES: dict[str, Architecture] = {
    "srcnn": Architecture(build_srcnn, receptive_radius_srcnn, pre_upsampled=True, alignment=_unaligned),
    "vdsr": Architecture(build_vdsr, receptive_radius_vdsr, pre_upsampled=True, alignment=_unaligned),
    "revive": Architecture(build_revive, receptive_radius_revive, pre_upsampled=True, alignment=alignment_revive),
}


def build(name: str, **arguments: object) -> keras.Model:
    """Build the registered architecture ``name`` with ``arguments``."""
    try:
        architecture = ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(sorted(ARCHITECTURES))}") from None
    return architecture.build(**arguments)
