"""Pruning final models (real, tiny fine-tunes): a final model that served and was replaced loses its
``final-v<N>`` folder (fine-tuned encoder, head, report) and its encoder's embeddings of the pool;
the newest final model, not served and so only exportable, keeps everything and still exports with
its encoder; the frozen encoder's embeddings, shared by every version, stay."""
import numpy as np
import pytest
from django.conf import settings as django_settings

from labeling.modeling.artifact_paths import final_model_folder
from labeling.modeling.final import train_final_version, version_encoder_id
from labeling.modeling.models import Embedding, ModelVersion
from labeling.modeling.retention import prune_project
from tests import test_loop_helpers as helpers
from tests.test_retention_helpers import tree_bytes

eager_celery = helpers.eager_celery
tiny_finetune = helpers.tiny_finetune


def test_a_replaced_final_model_loses_its_folder_and_embeddings_and_the_newest_final_stays(
        db, project_factory, eager_celery, tiny_finetune, django_capture_on_commit_callbacks):
    from labeling.export.bundle import export_version
    from labeling.items.models import Item

    project, truth = helpers.build_project(project_factory, slug="finals", n_items=60, n_labeled=24)
    served = helpers.serve_final_model(project, django_capture_on_commit_callbacks, np.random.default_rng(3))
    unserved = train_final_version(project)  # stays ready: exportable, never served
    unlabeled = Item.objects.filter(project=project, annotations__isnull=True).order_by("id").first()
    helpers.answer(project, unlabeled, project.labels.get(name=truth[unlabeled.id]))
    assert helpers.retrain(project, django_capture_on_commit_callbacks).state == "done"
    states = dict(ModelVersion.objects.filter(project=project).values_list("number", "state"))
    assert states == {1: "retired", 2: "retired", 3: "ready", 4: "active"}
    assert (served.number, unserved.number) == (2, 3)
    served_folder, unserved_folder = (final_model_folder("finals", n) for n in (2, 3))
    assert (served_folder / "encoder").is_dir() and (unserved_folder / "encoder").is_dir()
    folder_bytes = tree_bytes(served_folder)
    own_rows = Embedding.objects.filter(model_id=version_encoder_id(served)).count()
    assert own_rows == 60  # the pool, embedded with its encoder when it was served
    frozen_rows = Embedding.objects.filter(model_id=django_settings.LONGTAIL_MODEL_ID).count()

    report = prune_project(project, keep=1)

    assert report.kept == {4: ["active (it serves)", "among the newest 1 trained"], 3: ["the newest final model"]}
    assert [v.number for v in report.versions] == [1, 2]
    entry = report.versions[1]
    assert entry.files == [served_folder] and entry.file_bytes == folder_bytes and entry.embedding_rows == own_rows
    assert not served_folder.exists()
    assert Embedding.objects.filter(model_id=version_encoder_id(served)).count() == 0
    assert Embedding.objects.filter(model_id=django_settings.LONGTAIL_MODEL_ID).count() == frozen_rows
    assert (unserved_folder / "encoder").is_dir()
    exported, data = export_version(project, 3)
    assert exported.number == 3 and len(data) > 1_000_000  # the fine-tuned encoder travels with it


@pytest.fixture(autouse=True)
def _fresh_encoders():
    from labeling.modeling import final, versions

    yield
    final._ENCODERS.clear()
    versions._CLASSIFIERS.clear()
