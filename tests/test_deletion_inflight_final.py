"""A final model still fine-tuning, or embedding the pool with its fine-tuned encoder, when
``delete_project --force`` removes its project leaves nothing behind: no encoder folder under
LONGTAIL_ARTIFACT_DIR/<project>/, no model version, no vectors under the fine-tuned encoder's id.
The save of the folder holds the version's row (the deletion locks the project's versions before
it deletes them, and removes the project's folder once it commits), and the pool's chunks write
under the project's row lock. The real training path on a tiny project (a few CPU fine-tuning
steps); the deletion runs on a second PostgreSQL connection while the work is in flight."""
from functools import partial
from pathlib import Path

import pytest
from django.conf import settings

from labeling.modeling.final import embed_pool_for, train_final_version, version_encoder_id
from labeling.modeling.models import Embedding, ModelVersion, TaskRun
from labeling.modeling.versions import VersionDeleted
from labeling.projects.deletion import delete_project
from labeling.projects.models import Project
from tests import test_loop_helpers as helpers
from tests.db_threads import in_thread

pytestmark = pytest.mark.django_db(transaction=True)

tiny_finetune = helpers.tiny_finetune


@pytest.fixture
def final_run(project_factory, tiny_finetune, postgres_only):
    project, _ = helpers.build_project(project_factory, slug="doomed", n_items=40, n_labeled=16)
    run = TaskRun.objects.create(project=project, kind="final_model", state=TaskRun.RUNNING, detail={"stage": "train"})
    return project, run


def delete_once_on_another_connection(project, deleted: list, *progress):
    """An on_progress callback: the first report of the work is where the forced deletion lands."""
    if deleted:
        return
    thread, outcome = in_thread(partial(delete_project, project, force=True))
    thread.join(60)
    assert not thread.is_alive() and "error" not in outcome, outcome
    deleted.append(outcome["result"])


def files_left(slug: str) -> list[Path]:
    folder = Path(settings.LONGTAIL_ARTIFACT_DIR) / slug
    return [folder, *folder.rglob("*")] if folder.exists() else []


def test_a_fine_tune_running_when_its_project_is_deleted_saves_nothing(final_run):
    project, run = final_run
    deleted = []
    with pytest.raises(VersionDeleted, match="no longer exists"):
        train_final_version(project, run_id=run.pk, on_progress=partial(delete_once_on_another_connection, project,
                                                                          deleted))
    assert deleted and not Project.objects.filter(pk=project.pk).exists()
    assert not ModelVersion.objects.filter(project_id=project.pk).exists()
    assert files_left(project.slug) == []  # before: the saved folder was removed again, its parent stayed


def test_the_pool_embedded_with_the_fine_tuned_encoder_during_a_deletion_leaves_no_vectors(final_run):
    project, run = final_run
    version = train_final_version(project, run_id=run.pk)
    encoder_id = version_encoder_id(version)
    assert version.state == ModelVersion.READY and encoder_id != settings.LONGTAIL_MODEL_ID
    assert not Embedding.objects.filter(model_id=encoder_id).exists()
    deleted = []

    embed_pool_for(version, chunk=8, on_progress=partial(delete_once_on_another_connection, project, deleted))
    assert deleted and deleted[0].counts["embeddings used by no other project"] >= 8  # the first chunk's
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not Embedding.objects.filter(model_id=encoder_id).exists()  # before: the other 32 items' vectors
    assert files_left(project.slug) == []
