"""What this CPU can do: the compute precision (mixed bfloat16 where the CPU does bf16 in hardware,
else float32) and the cores this process may use.

``REVIVE_PRECISION`` (or an explicit argument) = ``auto`` | ``bf16`` | ``fp32`` overrides.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

LOGGER = logging.getLogger(__name__)
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when /proc/cpuinfo lists AMX-BF16 or AVX512-BF16."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return any(flag in flags for flag in BF16_FLAGS)
    return False


def resolve_precision(requested: str | None = None, accelerator: str | None = None) -> str:
    """``bf16`` or ``fp32`` for ``requested`` (``auto``/None reads ``REVIVE_PRECISION``, then the hardware:
    bf16 on a GPU ``accelerator``, else where the CPU does bf16)."""
    choice = (requested or os.environ.get("REVIVE_PRECISION") or "auto").lower()
    if choice in ("bf16", "bfloat16", "mixed_bfloat16"):
        return "bf16"
    if choice in ("fp32", "float32"):
        return "fp32"
    if choice != "auto":
        raise ValueError(f"precision must be auto, bf16 or fp32, not {choice!r}")
    return "bf16" if accelerator == "gpu" or cpu_has_bf16() else "fp32"


def dtype_policy(precision: str) -> str | None:
    """The Keras dtype policy name for a resolved precision."""
    return "mixed_bfloat16" if precision == "bf16" else None
