"""Errors whose message is one clear sentence for the user (no traceback needed)."""


class ReviveError(Exception):
    """Base class: ``str(error)`` is a complete, user-facing, one-line explanation."""


class ImageError(ReviveError):
    """The input is not an image we can read (empty, truncated, too large, unsupported...)."""


class WeightsError(ReviveError):
    """Trained weights are missing, corrupt, or not available for the request."""


class UsageError(ReviveError):
    """The request itself is wrong (unknown model, unsupported scale, bad option)."""
