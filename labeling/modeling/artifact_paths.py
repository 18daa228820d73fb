"""Where a model version's files are on this host.

A version's files live under ``LONGTAIL_ARTIFACT_DIR`` in one layout: a final model's fine-tuned
encoder in ``<project>/final-v<N>/encoder``, a head too large for the database in
``<project>/model-v<N>.bin``. The version stores their paths relative to ``LONGTAIL_ARTIFACT_DIR``
and every reader resolves them here, when it reads: a backup restored under another
``LONGTAIL_ARTIFACT_DIR`` (docs/operations.md, "Backups") serves, exports and scores as before.

A version that retention pruned (``labeling.modeling.retention``) has no files any more: readers
ask :func:`pruned_message` (or call :func:`ensure_not_pruned`) before they look, and say so
instead of naming a path to restore.

Versions stored before kept absolute paths. Where such a path is not on this host, the file is
looked for where the app builds it now, under ``LONGTAIL_ARTIFACT_DIR`` (the migration
``0006_relative_artifact_paths`` rewrote those it could). Messages about a missing file name the
resolved path: the place the app looks at now.
"""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.utils import timezone

from learner.finetune.final import ENCODER_DIR

from .models import ModelVersion


def encoder_exports_root() -> Path:
    """The folder whose ``encoders/`` holds the encoder's ONNX exports (learner.encoders.onnx_export):
    LONGTAIL_ENCODER_CACHE_ROOT, else LONGTAIL_ARTIFACT_DIR. They depend on the model's files only,
    not on any project, so one folder may serve several hosts or processes."""
    return Path(settings.LONGTAIL_ENCODER_CACHE_ROOT or settings.LONGTAIL_ARTIFACT_DIR)


def artifact_root() -> Path:
    return Path(settings.LONGTAIL_ARTIFACT_DIR)


def final_model_folder(slug: str, number: int) -> Path:
    """Where a final model's training saves its folder (the encoder in its ``encoder/``)."""
    return artifact_root() / slug / f"final-v{number}"


def head_file(slug: str, number: int) -> Path:
    """Where a head too large for the database is written."""
    return artifact_root() / slug / f"model-v{number}.bin"


def stored_form(path: Path) -> str:
    """The form a path is stored in: relative to LONGTAIL_ARTIFACT_DIR (with "/") when it is under
    it, else as it is."""
    try:
        return Path(path).relative_to(artifact_root()).as_posix()
    except ValueError:
        return str(path)


def resolve_stored_path(stored: str, built_at: Path) -> Path:
    """The path on this host of a stored one: a relative path under LONGTAIL_ARTIFACT_DIR; an
    absolute one (stored before) as it is when it exists, else ``built_at``, where the app builds
    that file now (a restore under another root put it there)."""
    path = Path(stored)
    if not path.is_absolute():
        return artifact_root() / path
    return path if path.exists() else built_at


def encoder_folder_path(version: ModelVersion) -> Path | None:
    """A final model's fine-tuned encoder folder on this host (None for a version on the frozen
    encoder). The folder may be missing: callers check, and name this path when it is."""
    stored = (version.config or {}).get("encoder_dir")
    if not stored:
        return None
    return resolve_stored_path(stored, final_model_folder(version.project.slug, version.number) / ENCODER_DIR)


def head_file_path(version: ModelVersion) -> Path | None:
    """The file of a head stored outside the database (None when the database holds it)."""
    if not version.artifact_path:
        return None
    return resolve_stored_path(version.artifact_path, head_file(version.project.slug, version.number))


class VersionPruned(LookupError):
    """The version was pruned (labeling.modeling.retention): its head, files and scores are gone.
    The message says when, for people."""


def pruned_message(version: ModelVersion) -> str | None:
    """Why a version's files cannot be read because retention removed them; None when it was not pruned."""
    if version.pruned_at is None:
        return None
    when = timezone.localtime(version.pruned_at).strftime("%Y-%m-%d %H:%M %Z")
    return (f"Model version {version.number} of {version.project.slug} was pruned on {when}; its files are gone "
            "(manage.py prune_models keeps the active and the newest versions).")


def ensure_not_pruned(version: ModelVersion) -> None:
    """VersionPruned when retention removed the version's files."""
    message = pruned_message(version)
    if message:
        raise VersionPruned(message)


def version_files(version: ModelVersion) -> list[Path]:
    """The files and folders of a version that are on this host: its head file, and a final model's
    folder (``final-v<N>``: encoder, head copy, report), where it stores them and where the app
    builds them. Only places inside the project's own folder under LONGTAIL_ARTIFACT_DIR: a path
    recorded elsewhere (another host's root) is never offered for removal."""
    slug = version.project.slug
    try:
        validate_slug(slug)
    except ValidationError:
        return []  # "" or ".." would name the artifact root or its parent, not a project's folder
    project_dir = artifact_root() / slug
    places = [head_file(slug, version.number), final_model_folder(slug, version.number)]
    head = head_file_path(version)
    encoder = encoder_folder_path(version)
    places += [p for p in (head, encoder.parent if encoder is not None and encoder.name == ENCODER_DIR
                           else encoder) if p is not None]
    out: list[Path] = []
    for place in places:
        inside = place.is_relative_to(project_dir) and place != project_dir and ".." not in place.parts
        if inside and place not in out and (place.exists() or place.is_symlink()):
            out.append(place)
    return out
