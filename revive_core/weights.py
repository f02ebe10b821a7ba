"""The shipped weights: ``weights/manifest.json`` and where each file comes from.

Lookup order for a manifest entry's file: ``$REVIVE_WEIGHTS_DIR`` (default: the repository's
``weights/``), then the Hugging Face Hub repository ``$REVIVE_HUB_REPO`` at ``$REVIVE_HUB_REVISION``
through ``huggingface_hub.hf_hub_download`` (which honours ``HF_ENDPOINT``, ``HF_HUB_CACHE`` and
``HF_HUB_OFFLINE``). The sha256 in the manifest is checked either way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from revive_core.errors import WeightsError
from revive_core.paths import REPOSITORY_ROOT

LOGGER = logging.getLogger(__name__)
DEFAULT_HUB_REPO = "revive-sr/revive-weights"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class WeightsEntry:
    """One shipped model file and how it was made."""

    key: str  # e.g. "vdsr-x234"
    family: str  # what users pick: "srcnn", "vdsr", "revive"
    file: str
    architecture: str
    arguments: dict[str, Any]
    scales: tuple[int, ...]
    sha256: str
    description: str
    metadata: dict[str, Any]  # recipe, measured PSNR/SSIM, data, steps


def weights_dir() -> Path:
    return Path(os.environ.get("REVIVE_WEIGHTS_DIR", REPOSITORY_ROOT / "weights"))


def read_manifest(directory: Path | None = None) -> dict[str, WeightsEntry]:
    """Entries of ``manifest.json`` by key; an absent manifest means no trained models."""
    path = (directory or weights_dir()) / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise WeightsError(f"{path} is not valid JSON ({error}); restore it from the repository") from error
    entries = {}
    for key, item in raw.get("models", {}).items():
        entries[key] = WeightsEntry(
            key=key, family=item["family"], file=item["file"], architecture=item["architecture"],
            arguments=dict(item.get("arguments", {})), scales=tuple(item["scales"]), sha256=item["sha256"],
            description=item.get("description", ""),
            metadata={name: value for name, value in item.items() if name not in {
                "family", "file", "architecture", "arguments", "scales", "sha256", "description"}},
        )
    return entries


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(entry: WeightsEntry) -> Path:
    from huggingface_hub import hf_hub_download

    repo_id = os.environ.get("REVIVE_HUB_REPO", DEFAULT_HUB_REPO)
    revision = os.environ.get("REVIVE_HUB_REVISION") or None
    return Path(hf_hub_download(repo_id=repo_id, filename=entry.file, revision=revision))


def locate(entry: WeightsEntry, directory: Path | None = None) -> Path:
    """Path of ``entry``'s verified file: local first, else downloaded; ``WeightsError`` if neither."""
    local = (directory or weights_dir()) / entry.file
    if local.exists():
        if sha256_of(local) != entry.sha256:
            raise WeightsError(
                f"{local} is corrupt (its sha256 does not match the manifest); "
                f"restore it with `git checkout -- weights/{entry.file}` or delete it to download it"
            )
        return local
    repo_id = os.environ.get("REVIVE_HUB_REPO", DEFAULT_HUB_REPO)
    try:
        path = _download(entry)
    except Exception as error:  # huggingface_hub raises many types (offline, 404, network)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise WeightsError(
            f"weights file {entry.file} is not in {local.parent} and could not be fetched from the "
            f"Hugging Face Hub repo {repo_id} ({reason}); restore weights/ from the repository or set REVIVE_HUB_REPO"
        ) from error
    if sha256_of(path) != entry.sha256:
        raise WeightsError(f"{entry.file} downloaded from {repo_id} does not match the manifest's sha256")
    LOGGER.info("weights %s from the Hub cache at %s", entry.file, path)
    return path
