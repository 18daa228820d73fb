"""Model versions store the paths of their files relative to LONGTAIL_ARTIFACT_DIR (a final model's
``config["encoder_dir"]``, a large head's ``artifact_path``), so that a backup restored under
another root serves as before. Versions stored before kept absolute paths; this rewrites those it
can to the relative form:

- a path under LONGTAIL_ARTIFACT_DIR as it is set now: relative to it (the same file);
- a path not on this host whose last parts are the app's layout for that version
  (``<project>/final-v<N>/encoder``, ``<project>/model-v<N>.bin``): those parts, i.e. the place
  the app builds the file under LONGTAIL_ARTIFACT_DIR (where a restore under another root put it).

A path elsewhere that is on this host is left as it is (it serves as it did); readers look for a
missing absolute path where the app builds it (labeling.modeling.artifact_paths). Going back
writes the relative paths as absolute ones under LONGTAIL_ARTIFACT_DIR, the form the previous
release reads. Written out here rather than imported, as a migration must keep doing what it did.
"""
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import migrations
from django.db.models import Q


def relative_form(stored: str, layout: tuple[str, ...]) -> str | None:
    """The relative path to store instead of ``stored``, or None to leave it."""
    path = Path(stored)
    if not path.is_absolute():
        return None
    try:
        return path.relative_to(Path(settings.LONGTAIL_ARTIFACT_DIR)).as_posix()
    except ValueError:
        pass
    if not path.exists() and path.parts[-len(layout):] == layout:
        return PurePosixPath(*layout).as_posix()
    return None


def versions_with_paths(apps):
    ModelVersion = apps.get_model("learner", "ModelVersion")
    rows = ModelVersion.objects.filter(Q(config__has_key="encoder_dir") | ~Q(artifact_path=""))
    return ModelVersion, rows.values_list("pk", "number", "config", "artifact_path", "project__slug")


def to_relative(apps, schema_editor):
    ModelVersion, rows = versions_with_paths(apps)
    for pk, number, config, artifact_path, slug in rows.iterator():
        changes = {}
        encoder_dir = (config or {}).get("encoder_dir")
        relative = relative_form(encoder_dir, (slug, f"final-v{number}", "encoder")) if encoder_dir else None
        if relative:
            changes["config"] = {**config, "encoder_dir": relative}
        relative = relative_form(artifact_path, (slug, f"model-v{number}.bin")) if artifact_path else None
        if relative:
            changes["artifact_path"] = relative
        if changes:
            ModelVersion.objects.filter(pk=pk).update(**changes)


def to_absolute(apps, schema_editor):
    ModelVersion, rows = versions_with_paths(apps)
    root = Path(settings.LONGTAIL_ARTIFACT_DIR)
    for pk, _number, config, artifact_path, _slug in rows.iterator():
        changes = {}
        encoder_dir = (config or {}).get("encoder_dir")
        if encoder_dir and not Path(encoder_dir).is_absolute():
            changes["config"] = {**config, "encoder_dir": str(root / encoder_dir)}
        if artifact_path and not Path(artifact_path).is_absolute():
            changes["artifact_path"] = str(root / artifact_path)
        if changes:
            ModelVersion.objects.filter(pk=pk).update(**changes)


class Migration(migrations.Migration):

    dependencies = [
        ("learner", "0005_modelversion_label_ids"),
    ]

    operations = [
        migrations.RunPython(to_relative, to_absolute, elidable=False),
    ]
