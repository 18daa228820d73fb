"""What reads a pruned version's files says it was pruned, and when, instead of naming a path to
restore or failing: ``export_model --model-version N`` (one error, nothing written), the export API
(410 with the reason) and page (the version is not offered), loading its head (VersionPruned), and a
scoring chunk that comes late (it writes nothing). The active version still exports."""
import io
import re
import zipfile
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from rest_framework.test import APIClient

from labeling.modeling.artifact_paths import VersionPruned
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.retention import prune_project
from labeling.modeling.scores import hold_version, score_range
from labeling.modeling.versions import _CLASSIFIERS, load_classifier
from tests import test_loop_helpers as helpers
from tests.test_retention_helpers import retrained

eager_celery = helpers.eager_celery
PRUNED = r"Model version 1 of kept was pruned on \d{4}-\d\d-\d\d \d\d:\d\d \S+; its files are gone"


@pytest.fixture(scope="module")
def _built(django_db_setup, django_db_blocker, tmp_path_factory):
    """Three real retrains and the pruning, once for the module (each test rolls back to them, and
    gets their files back, in ``pruned``)."""
    root = tmp_path_factory.mktemp("retention-readers")
    with helpers.shared_db_state(django_db_blocker, root / "artifacts") as capture, pytest.MonkeyPatch.context() as mp:
        project = retrained(helpers.make_project, capture, SimpleNamespace(), mp, root, versions=3)
        assert [v.number for v in prune_project(project, keep=1).versions] == [1, 2]
        yield project.pk, root / "artifacts", helpers.snapshot_artifacts(root / "artifacts")


@pytest.fixture
def pruned(_built, db, eager_celery, settings):
    """v1 and v2 pruned, v3 active."""
    from labeling.projects.models import Project

    project_pk, artifacts, pristine = _built
    settings.LONGTAIL_ARTIFACT_DIR = artifacts
    helpers.restore_artifacts(artifacts, pristine)
    _CLASSIFIERS.clear()  # as in a process that starts after the pruning
    return Project.objects.get(pk=project_pk)


def test_export_model_of_a_pruned_version_says_it_was_pruned(pruned, tmp_path):
    out = tmp_path / "v1.zip"
    with pytest.raises(CommandError, match=PRUNED) as refused:
        call_command("export_model", "kept", "--model-version", "1", "--out", str(out))
    assert "\n" not in str(refused.value) and not out.exists()


def test_the_export_api_and_page_refuse_or_leave_out_a_pruned_version(pruned, make_user, client):
    root = make_user("root", superuser=True)
    api = APIClient()
    api.force_authenticate(root)
    response = api.get("/api/projects/kept/export/model/?version=1")
    assert response.status_code == 410
    assert response.json()["detail"].startswith("Model version 1 of kept was pruned on ")
    client.force_login(root)
    page = client.get("/p/kept/export/").content.decode()
    assert re.findall(r'<option value="(\d+)"[^>]*>v\d+ ·', page) == ["3"]  # the versions offered
    active = api.get("/api/projects/kept/export/model/")
    assert active.status_code == 200
    content = b"".join(active.streaming_content) if active.streaming else active.content
    assert "head.bin" in zipfile.ZipFile(io.BytesIO(content)).namelist()


def test_loading_a_pruned_head_says_it_was_pruned(pruned):
    version = ModelVersion.objects.select_related("project").get(project=pruned, number=2)
    with pytest.raises(VersionPruned, match="Model version 2 of kept was pruned on "):
        load_classifier(version)


def test_a_late_scoring_chunk_writes_nothing_for_a_pruned_version(pruned):
    version = ModelVersion.objects.select_related("project").get(project=pruned, number=1)
    kept_rows = ItemScore.objects.filter(model_version=version).count()
    with transaction.atomic():
        assert hold_version(version) is False
    with pytest.raises(VersionPruned):
        score_range(version)  # its head is gone: nothing to score with, and nothing written
    assert ItemScore.objects.filter(model_version=version).count() == kept_rows
