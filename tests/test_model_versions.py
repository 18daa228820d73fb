"""Model versions: training → ready → active, switched atomically; a failing training leaves the
previous active version in place. Eager Celery; real training on pre-filled embeddings."""
import numpy as np
import pytest

from tests import test_loop_helpers as helpers

# Shared fixtures, bound here so pytest finds them.
eager_celery = helpers.eager_celery
loop_project = helpers.loop_project
retrain = helpers.retrain



def test_first_retrain_activates_a_complete_version(loop_project, django_capture_on_commit_callbacks):
    from labeling.modeling.models import ItemScore, ModelVersion, TaskRun
    from labeling.modeling.versions import active_model, load_classifier

    project, _ = loop_project
    run = retrain(project, django_capture_on_commit_callbacks)
    assert run.state == TaskRun.DONE, run.message
    assert run.progress == pytest.approx(1.0)
    version = active_model(project)
    assert version is not None and version.number == 1 and version.state == ModelVersion.ACTIVE
    assert set(version.label_map) == {"billing", "login", "fraud"}
    assert version.train_size == 60
    assert version.temperature is not None and version.temperature > 0
    assert set(version.thresholds) == set(version.label_map)
    assert version.class_weights and version.metrics and version.artifact
    assert version.config["task_run"] == run.id
    assert ItemScore.objects.filter(model_version=version).count() == 300
    clf = load_classifier(ModelVersion.objects.get(pk=version.pk))
    assert clf.classes_ == version.label_map


def test_second_version_retires_the_first(loop_project, django_capture_on_commit_callbacks):
    from labeling.modeling.models import ModelVersion
    from labeling.waves.models import Wave

    project, _ = loop_project
    retrain(project, django_capture_on_commit_callbacks)
    # The first run opened a wave; close it so the second run plans again.
    Wave.objects.filter(project=project).update(state=Wave.CLOSED)
    retrain(project, django_capture_on_commit_callbacks)
    states = dict(ModelVersion.objects.filter(project=project).values_list("number", "state"))
    assert states == {1: ModelVersion.RETIRED, 2: ModelVersion.ACTIVE}
    assert Wave.objects.get(project=project, state=Wave.OPEN).model_version.number == 2


def test_failing_training_keeps_the_previous_active_version(loop_project, django_capture_on_commit_callbacks):
    from labeling.annotations.models import Annotation
    from labeling.modeling.embedding_store import clear_memos
    from labeling.modeling.models import Embedding, ModelVersion, TaskRun

    project, _ = loop_project
    retrain(project, django_capture_on_commit_callbacks)
    # Corrupt one labeled item's cached vector: the learner core refuses NaN input for real.
    item = Annotation.objects.filter(project=project).first().item
    bad = np.full(384, np.nan, dtype=np.float32).tobytes()
    Embedding.objects.filter(text_hash=item.text_hash).update(vector=bad)
    clear_memos()
    run = retrain(project, django_capture_on_commit_callbacks)
    assert run.state == TaskRun.FAILED
    assert "Training failed" in run.message and "NaN" in run.message
    versions = {v.number: v for v in ModelVersion.objects.filter(project=project)}
    assert versions[1].state == ModelVersion.ACTIVE
    assert versions[2].state == ModelVersion.FAILED and "NaN" in versions[2].error
    clear_memos()


def test_interrupted_training_is_failed_when_stale(loop_project, django_capture_on_commit_callbacks, settings):
    from datetime import timedelta

    from django.utils import timezone

    from labeling.loop.triggers import request_retrain
    from labeling.modeling.models import ModelVersion, TaskRun

    project, _ = loop_project
    # A run whose worker died: pending for two hours, with its half-made training version.
    old = timezone.now() - timedelta(hours=2)
    dead = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING)
    TaskRun.objects.filter(pk=dead.pk).update(updated_at=old)
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.TRAINING)
    ModelVersion.objects.filter(pk=version.pk).update(created_at=old)
    settings.LONGTAIL_TASK_STALE_SECONDS = 3600
    with django_capture_on_commit_callbacks(execute=True):
        run = request_retrain(project)
    assert run.pk != dead.pk
    dead.refresh_from_db()
    version.refresh_from_db()
    assert dead.state == TaskRun.FAILED and version.state == ModelVersion.FAILED
    assert ModelVersion.objects.get(project=project, number=2).state == ModelVersion.ACTIVE


def test_one_training_per_project_is_a_database_rule(loop_project):
    from django.db import IntegrityError, transaction

    from labeling.modeling.models import ModelVersion

    project, _ = loop_project
    ModelVersion.objects.create(project=project, number=1, state=ModelVersion.TRAINING)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(project=project, number=2, state=ModelVersion.TRAINING)


def test_activation_requires_a_ready_version(loop_project):
    from labeling.modeling.models import ModelVersion
    from labeling.modeling.versions import activate_version

    project, _ = loop_project
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.FAILED)
    with pytest.raises(ValueError, match="only a ready version"):
        activate_version(version)


def test_two_level_taxonomy_and_targets_reach_the_learner(db, project_factory, eager_celery,
                                                          django_capture_on_commit_callbacks):
    from labeling.modeling.models import ModelVersion
    from labeling.modeling.versions import active_model, load_classifier
    from labeling.projects.models import Label

    project, _ = helpers.build_project(project_factory, slug="tree", labels=("billing", "login", "password"),
                                       shares=(0.4, 0.3, 0.3), n_labeled=150)
    account = Label.objects.create(project=project, name="account", order=9)
    Label.objects.filter(project=project, name__in=["login", "password"]).update(parent=account)
    Label.objects.filter(project=project, name="billing").update(precision_target=0.9)
    run = retrain(project, django_capture_on_commit_callbacks)
    version = active_model(project)
    assert version is not None and version.state == ModelVersion.ACTIVE, run.message
    assert set(version.label_map) == {"billing", "login", "password"}
    clf = load_classifier(version)
    # billing has no parent: it is its own branch beside "account".
    assert clf.parents == {"billing": "billing", "login": "account", "password": "account"}
    targets = {row["label"]: row for row in version.metrics.get("thresholds", [])}
    assert targets["billing"]["target"] == {"precision": 0.9}
    assert targets["billing"]["met"] in (True, False, None) and "held_out_precision" in targets["billing"]


def test_redelivered_training_reuses_its_version(loop_project):
    """acks_late: a train task delivered twice for one run trains one version, not two."""
    from labeling.loop import tasks
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.modeling.versions import train_version

    project, _ = loop_project
    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING)
    first = train_version(project, run_id=run.id)
    again = train_version(project, run_id=run.id)
    assert again.pk == first.pk and again.state == ModelVersion.READY
    assert ModelVersion.objects.filter(project=project).count() == 1
    # Once the run is over, a late duplicate of any step does nothing.
    TaskRun.objects.filter(pk=run.pk).update(state=TaskRun.DONE)
    tasks.train_model.delay(run.id)
    tasks.plan_after_retrain.delay(run.id)
    assert ModelVersion.objects.filter(project=project).count() == 1
    assert not project.waves.exists()


def test_training_self_trains_on_a_sample_of_the_unlabeled_pool(loop_project, django_capture_on_commit_callbacks,
                                                               settings):
    from labeling.modeling.versions import active_model, unlabeled_items

    project, _ = loop_project
    settings.LONGTAIL_SELF_TRAINING_ROWS = 100
    _, sample, _ = unlabeled_items(project, [], seed=0)
    assert sample.shape == (100, 384)
    retrain(project, django_capture_on_commit_callbacks)
    st = active_model(project).metrics["self_training"]
    # 300 items, 60 labeled: a sample of 100 of the other 240; the surest of them are pseudo-labeled.
    assert st["unlabeled"] == 100 and 0 < st["pseudo_rows"] <= 100
    assert set(st["per_label"]) <= {"billing", "login", "fraud"}
    # 0 turns self-training off, not the sample: the pool's class mix and distillation still draw it
    settings.LONGTAIL_SELF_TRAINING_ROWS = 0
    assert len(unlabeled_items(project, [], seed=0)[0]) == 300


def test_self_training_off_in_the_training_config(loop_project):
    from labeling.modeling.versions import train_version

    project, _ = loop_project
    version = train_version(project, train_config={"self_training": False})
    assert version.metrics["self_training"] is None


def test_self_training_sample_leaves_out_near_duplicates_of_labeled_items(loop_project, settings):
    """An unlabeled near-duplicate of a labeled item would be pseudo-labeled by a first pass that
    saw the labeled twin (validation included): the sample never holds one."""
    from labeling.items.models import Item
    from labeling.modeling.embedding import model_id
    from labeling.modeling.embedding_store import project_matrix
    from labeling.modeling.versions import unlabeled_items

    project, _ = loop_project
    settings.LONGTAIL_SELF_TRAINING_ROWS = 100_000
    ids, matrix = project_matrix(project.id, model_id())
    labeled, twins = [int(i) for i in ids[:5]], [int(i) for i in ids[5:10]]
    for a, b in zip(labeled, twins, strict=True):  # the importer's near-duplicate group of each pair
        Item.objects.filter(id__in=[a, b]).update(dup_group=a)
    _, sample, _ = unlabeled_items(project, labeled, seed=0)
    assert len(sample) == len(ids) - 10
    row_of = {int(i): r for r, i in enumerate(ids)}
    for twin in twins:
        assert not (np.abs(sample - matrix[row_of[twin]]).sum(axis=1) == 0).any()
