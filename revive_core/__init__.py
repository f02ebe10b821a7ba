"""Revive: deep-learning super-resolution for old, small and damaged photos.

    import revive_core
    bigger = revive_core.upscale(pil_image, scale=2)           # PIL in, PIL out
    array = revive_core.upscale(numpy_array, scale=4, model="vdsr")
    revive_core.list_models()
"""

from revive_core._quiet import import_backend_quietly

import_backend_quietly()

from revive_core.api import Report, upscale, upscale_picture
from revive_core.errors import ImageError, ReviveError, UsageError, WeightsError
from revive_core.models import ModelInfo, list_models

__all__ = [
    "upscale", "upscale_picture", "list_models", "Report", "ModelInfo",
    "ReviveError", "ImageError", "UsageError", "WeightsError",
]
__version__ = "0.1.0"
