"""A head too large for the database (a file under LONGTAIL_ARTIFACT_DIR) still serves and exports
after a backup is restored under another LONGTAIL_ARTIFACT_DIR (docs/operations.md, "Backups"):
its path is stored relative to the artifact folder and resolved when read. A version stored before,
with the absolute path of the old root, finds the file where the app builds it now; a file missing
there is refused with the path the app looked at.

The size limit is lowered for the test (versions.ARTIFACT_DB_MAX_BYTES) so that a real retrain's
head goes to a file, as a large production head does."""
import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from rest_framework.test import APIClient

from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery


def restore_under_new_root(settings, old_root: Path, new_root: Path) -> None:
    """The artifact folder moved to another root and the setting pointed there, as a restore into
    a fresh stack does; the per-process memos emptied, as in the restored stack's new processes."""
    from labeling.modeling import final, versions
    from labeling.modeling.embedding_store import clear_memos

    new_root.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(old_root), str(new_root))
    settings.LONGTAIL_ARTIFACT_DIR = new_root
    versions._CLASSIFIERS.clear()
    final._ENCODERS.clear()
    clear_memos()


def predicted(api, slug, texts) -> np.ndarray:
    """The predict API's probabilities for ``texts`` (columns sorted by label name)."""
    response = api.post(f"/api/projects/{slug}/predict/", {"texts": texts, "queue_for_review": False}, format="json")
    assert response.status_code == 200, response.content[:1000]
    rows = response.json()["results"]
    return np.array([[row["probabilities"][name] for name in sorted(row["probabilities"])] for row in rows])


def exported_head(api, slug) -> bytes:
    response = api.get(f"/api/projects/{slug}/export/model/")
    assert response.status_code == 200, response.content[:1000]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return zipfile.ZipFile(io.BytesIO(content)).read("head.bin")


@pytest.fixture
def head_in_a_file(db, project_factory, eager_celery, settings, tmp_path, monkeypatch, make_user,
                   django_capture_on_commit_callbacks):
    from labeling.items.models import Item
    from labeling.modeling import versions

    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "old" / "artifacts"
    monkeypatch.setattr(versions, "ARTIFACT_DB_MAX_BYTES", 0)  # every head goes to a file
    project, _ = helpers.build_project(project_factory, slug="bighead", n_items=80, n_labeled=30)
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    version = versions.active_model(project)
    assert version is not None, run.message
    assert not version.artifact and version.artifact_path  # the head is a file, not a database column
    api = APIClient()
    api.force_authenticate(make_user("root", superuser=True))
    texts = list(Item.objects.filter(project=project).order_by("id").values_list("text", flat=True)[:6])
    return {"project": project, "version": version, "api": api, "texts": texts,
            "before": predicted(api, project.slug, texts), "old_root": Path(settings.LONGTAIL_ARTIFACT_DIR)}


def test_a_large_head_serves_and_exports_after_a_restore_under_another_root(head_in_a_file, settings, tmp_path):
    project, version, api = head_in_a_file["project"], head_in_a_file["version"], head_in_a_file["api"]
    new_root = tmp_path / "restored" / "artifacts"
    restore_under_new_root(settings, head_in_a_file["old_root"], new_root)
    # before: 500, FileNotFoundError on the old root's path
    assert np.allclose(predicted(api, project.slug, head_in_a_file["texts"]), head_in_a_file["before"])
    assert exported_head(api, project.slug) == (new_root / "bighead" / f"model-v{version.number}.bin").read_bytes()


def test_a_head_stored_with_an_absolute_path_is_found_where_the_app_builds_it(head_in_a_file, settings, tmp_path):
    from labeling.modeling.models import ModelVersion

    project, version, api = head_in_a_file["project"], head_in_a_file["version"], head_in_a_file["api"]
    old_file = head_in_a_file["old_root"] / "bighead" / f"model-v{version.number}.bin"
    # as versions stored before kept it: the absolute path under the root of then
    ModelVersion.objects.filter(pk=version.pk).update(artifact_path=str(old_file))
    new_root = tmp_path / "restored" / "artifacts"
    restore_under_new_root(settings, head_in_a_file["old_root"], new_root)
    assert not old_file.exists()
    assert np.allclose(predicted(api, project.slug, head_in_a_file["texts"]), head_in_a_file["before"])
    new_file = new_root / "bighead" / f"model-v{version.number}.bin"
    assert exported_head(api, project.slug) == new_file.read_bytes()

    # not restored at all: the refusal names where the app looks now, not the old root
    new_file.unlink()
    response = api.get(f"/api/projects/{project.slug}/export/model/")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert f"head file {new_file} is not on this host" in detail and str(old_file) not in detail
