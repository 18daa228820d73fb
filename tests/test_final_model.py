""""Train final model" on a tiny project (CPU, a few fine-tuning steps): the page and API start it as a
TaskRun, it fine-tunes the encoder (distilling on the project's unlabeled items) and trains a
version, serves it only because it beat the frozen model out of fold, scores the pool and predicts
through the fine-tuned encoder, and the model bundle carries the encoder folder."""
import io
import zipfile

import numpy as np
import pytest
from rest_framework.test import APIClient

from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery


tiny_finetune = helpers.tiny_finetune


def test_final_model_beats_noise_is_served_predicts_and_exports(db, project_factory, eager_celery, tiny_finetune,
                                                                 django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    from labeling.items.models import Item
    from labeling.modeling.embedding_store import clear_memos
    from labeling.modeling.final import version_encoder_id
    from labeling.modeling.models import ItemScore, ModelVersion, TaskRun
    from labeling.modeling.versions import active_model

    project, _ = helpers.build_project(project_factory, slug="final", n_items=120, n_labeled=48)
    hashes = Item.objects.filter(project=project).values_list("text_hash", flat=True)
    helpers.noise_frozen_vectors(hashes, np.random.default_rng(3))
    helpers.retrain(project, django_capture_on_commit_callbacks)
    frozen = active_model(project)
    assert frozen is not None

    lead = get_user_model().objects.create_superuser("boss", "b@example.org", "pw-Longtail-123")
    api = APIClient()
    api.force_authenticate(lead)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/projects/{project.slug}/models/final/")
    assert answer.status_code == 202, answer.content
    run = TaskRun.objects.get(pk=answer.json()["id"])
    assert run.kind == "final_model" and run.state == TaskRun.DONE, run.message
    assert run.progress == pytest.approx(1.0) and run.detail["served"] is True
    version = ModelVersion.objects.get(pk=run.detail["model_version_id"])
    report = version.metrics["final_model"]
    assert report["oof_macro_f1"]["fine_tuned"] > report["oof_macro_f1"]["frozen"] and report["beats_frozen"]
    # the run says by how much, beside the fold-to-fold noise
    assert len(report["oof_macro_f1"]["fold_differences"]) == 2 and report["oof_macro_f1"]["standard_error"] >= 0
    assert f"out-of-fold macro-F1 {report['oof_macro_f1']['fine_tuned']:.4f} against" in run.message
    assert "standard error over 2 folds" in run.message, run.message
    # distilled on the project's unlabeled items (those outside the labeled items' duplicate groups)
    assert report["finetune"]["method"] == "distill" and 0 < report["unlabeled_rows"] <= 120 - 48
    assert report["finetune"]["unlabeled_rows"] == report["unlabeled_rows"]
    assert version.state == ModelVersion.ACTIVE and active_model(project).pk == version.pk
    assert ModelVersion.objects.get(pk=frozen.pk).state == ModelVersion.RETIRED
    # the pool was scored under the fine-tuned encoder's vectors
    assert version_encoder_id(version).endswith(f"+ft-{project.slug}-v{version.number}-{version.pk}")
    assert ItemScore.objects.filter(model_version=version).count() == 120
    clear_memos()
    predicted = api.post(f"/api/projects/{project.slug}/predict/", {"texts": ["billing request now"]}, format="json")
    assert predicted.status_code == 200, predicted.content
    assert predicted.json()["results"][0]["label"] == "billing"
    assert predicted.json()["model_version"] == version.number
    # the bundle carries the encoder folder and says how to load it
    page = APIClient()
    page.force_login(lead)
    bundle = page.get(f"/p/{project.slug}/export/model.zip")
    assert bundle.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(b"".join(bundle.streaming_content) if bundle.streaming else bundle.content))
    assert "encoder/config.json" in names.namelist() and "head.bin" in names.namelist()
    assert 'SentenceTransformer("encoder"' in names.read("README.md").decode()
    # the waves page offers the action and shows the fine-tuned model's choices
    html = page.get(f"/p/{project.slug}/waves/").content.decode()
    assert 'id="final-model"' in html and "fine-tuned encoder" in html


def test_final_model_is_refused_while_a_retrain_runs(db, project_factory, eager_celery, tiny_finetune):
    from django.contrib.auth import get_user_model

    from labeling.modeling.models import TaskRun

    project, _ = helpers.build_project(project_factory, slug="busy", n_items=40, n_labeled=12)
    TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING, message="Training.")
    lead = get_user_model().objects.create_superuser("boss", "b@example.org", "pw-Longtail-123")
    api = APIClient()
    api.force_authenticate(lead)
    answer = api.post(f"/api/projects/{project.slug}/models/final/")
    assert answer.status_code == 409 and "retrain is under way" in answer.json()["detail"]
    assert not TaskRun.objects.filter(project=project, kind="final_model").exists()
