"""Revive: deep-learning super-resolution for old, small and damaged photos.

    import revive_core
    bigger = revive_core.upscale(pil_image, scale=2)           # PIL in, PIL out
    array = revive_core.upscale(numpy_array, scale=4, model="vdsr")
    revive_core.list_models()

The model-facing names load lazily: ``import revive_core.resize`` (or ``train.prepare``) does not
start Keras and TensorFlow; the first model-facing import does, quietly (``revive_core._quiet``).
"""

from __future__ import annotations

from typing import Any

from revive_core.errors import ImageError, ReviveError, UsageError, WeightsError

_LAZY = {"upscale": "revive_core.api", "upscale_picture": "revive_core.api", "Report": "revive_core.api",
         "list_models": "revive_core.models", "ModelInfo": "revive_core.models"}

__all__ = [
    "upscale", "upscale_picture", "list_models", "Report", "ModelInfo",
    "ReviveError", "ImageError", "UsageError", "WeightsError",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import the module behind a model-facing name on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'revive_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
