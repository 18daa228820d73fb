"""A retrain and the final model never train at once, and no retrain is lost to the race
(docs/loop.md, "One training per project"):

- a retrain requested while the final model trains waits (pending, stage "waiting") and starts
  when the final model ends: with two real Celery workers over Redis, one fine-tuning, a completed
  wave's retrain neither fails on the one-training constraint nor trains beside it;
- a final model whose worker died releases the waiting retrain through the stale-run recovery;
- a retrain with nothing newer than the served final model's labels leaves it serving; one with a
  newer label replaces it;
- the final model embeds labeled items that have no frozen vector yet instead of failing.
"""
import json
import time

import numpy as np
import pytest
from django.conf import settings

from tests import test_loop_helpers as helpers
from tests.service_processes import (
    fresh_broker,
    require_postgres,
    require_redis,
    start_worker,
    stop,
    wait_for_run,
)

eager_celery = helpers.eager_celery
tiny_finetune = helpers.tiny_finetune


def _new_label(project, item=None):
    """One more usable label (an annotator's answer on an unlabeled item)."""
    from labeling.annotations.models import Annotation
    from labeling.items.models import Item

    if item is None:
        labeled = Annotation.objects.filter(project=project).values_list("item_id", flat=True)
        item = Item.objects.filter(project=project).exclude(id__in=labeled).order_by("id").first()
    label = project.labels.get(name=item.text.split()[0])
    return Annotation.objects.create(project=project, item=item, label=label, origin=Annotation.ANNOTATOR)


@pytest.mark.worker
def test_a_completed_waves_retrain_waits_for_the_training_final_model_then_runs(transactional_db, project_factory,
                                                                                tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    from labeling.loop.triggers import request_final_model, request_retrain
    from labeling.modeling import scores, versions
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.waves.models import Wave

    project, _ = helpers.build_project(project_factory, slug="race", n_items=120, n_labeled=48, wave_size=20)
    frozen = versions.train_version(project)
    scores.score_version(frozen)
    versions.activate_version(frozen)

    artifacts = tmp_path / "artifacts"
    env = {"LONGTAIL_FINETUNE": json.dumps(helpers.TINY_FINETUNE), "LONGTAIL_ARTIFACT_DIR": str(artifacts)}
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    # Two workers on every queue: while one fine-tunes, the other would take a retrain at once.
    workers = [start_worker(path, **env) for path in logs]
    try:
        final_run = request_final_model(project)
        # The final model is training: its run runs and its version holds the project's one training slot.
        deadline = time.monotonic() + 120
        while not ModelVersion.objects.filter(project=project, state=ModelVersion.TRAINING,
                                              config__task_run=final_run.pk).exists():
            assert time.monotonic() < deadline, [p.read_text()[-2000:] for p in logs]
            final_run.refresh_from_db()
            assert final_run.state in ("pending", "running"), final_run.message
            time.sleep(0.2)
        _new_label(project)  # the answer that completed the wave
        retrain = request_retrain(project, reason="wave_complete")
        retrain.refresh_from_db()
        assert retrain.state == TaskRun.PENDING and retrain.detail["stage"] == "waiting", retrain.message
        assert retrain.detail["deferred_for_final"] == final_run.pk
        assert f"Waiting for the final model (task {final_run.pk})" in retrain.message
        # a second trigger meanwhile gets the same waiting run
        assert request_retrain(project, reason="retrain_every").pk == retrain.pk
        time.sleep(3)  # the idle worker must not start it
        retrain.refresh_from_db()
        assert retrain.state == TaskRun.PENDING and retrain.detail["stage"] == "waiting"
        assert ModelVersion.objects.filter(project=project, state=ModelVersion.TRAINING).count() == 1

        final_run = wait_for_run(final_run, workers, logs)
        assert final_run.state == TaskRun.DONE, final_run.message
        retrain = wait_for_run(retrain, workers, logs)
    finally:
        for proc in workers:
            stop(proc)
    assert retrain.state == TaskRun.DONE, (retrain.message, [p.read_text()[-3000:] for p in logs])
    assert retrain.detail["deferred_for_final"] == final_run.pk and retrain.detail["released_at"]
    assert retrain.detail["reason"] == "wave_complete" and "error" not in retrain.detail
    assert retrain.created_at < final_run.finished_at
    assert not TaskRun.objects.filter(project=project, state=TaskRun.FAILED).exists()
    assert not ModelVersion.objects.filter(project=project, state=ModelVersion.FAILED).exists()
    # it trained on the newer labels, after the final model: its version serves and planned the wave
    new = ModelVersion.objects.get(pk=retrain.detail["model_version_id"])
    final_version = ModelVersion.objects.get(pk=final_run.detail["model_version_id"])
    assert new.number > final_version.number and new.state == ModelVersion.ACTIVE
    assert new.train_size == 49 and new.created_at > final_run.finished_at
    wave = Wave.objects.get(project=project, state=Wave.OPEN)
    assert wave.model_version_id == new.id and retrain.detail["wave"] == wave.number


def test_a_final_model_whose_worker_died_releases_the_waiting_retrain(db, project_factory, eager_celery,
                                                                      django_capture_on_commit_callbacks):
    from django.utils import timezone

    from labeling.loop import triggers
    from labeling.loop.runs import retrain_in_flight
    from labeling.modeling.models import ModelVersion, TaskRun

    project, _ = helpers.build_project(project_factory, slug="dead-final", n_items=80, n_labeled=24)
    assert helpers.retrain(project, django_capture_on_commit_callbacks).state == TaskRun.DONE
    final_run = TaskRun.objects.create(project=project, kind="final_model", state=TaskRun.RUNNING,
                                       message="Final model: fold 1.", detail={"stage": "train"})
    ModelVersion.objects.create(project=project, number=2, state=ModelVersion.TRAINING,
                                config={"task_run": final_run.pk})
    _new_label(project)
    with django_capture_on_commit_callbacks(execute=True):
        waiting = triggers.request_retrain(project, reason="wave_complete")
    waiting.refresh_from_db()
    # eager mode ran nothing: the retrain waits instead of failing on the one-training constraint
    assert waiting.state == TaskRun.PENDING and waiting.detail["stage"] == "waiting", waiting.message
    assert "waiting for the final model" in triggers.planning_blocker(project)
    assert f"task {waiting.pk}" in retrain_in_flight(project)
    # a final model cannot be started meanwhile either: the open one is returned
    assert triggers.request_final_model(project).pk == final_run.pk

    # its worker died: no heartbeat for longer than the cut-off, yet the waiting retrain is not stale
    old = timezone.now() - 2 * timezone.timedelta(seconds=int(settings.LONGTAIL_TASK_STALE_SECONDS)) - \
        timezone.timedelta(seconds=int(settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT))
    TaskRun.objects.filter(pk__in=[final_run.pk, waiting.pk]).update(updated_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        queued = triggers.recover_stale_runs(project)
    assert [run.pk for run in queued] == [waiting.pk]
    final_run.refresh_from_db()
    waiting.refresh_from_db()
    assert final_run.state == TaskRun.FAILED and "Interrupted" in final_run.message
    assert waiting.state == TaskRun.DONE, waiting.message
    assert waiting.detail["released_at"] and "model v3 active" in waiting.message
    assert ModelVersion.objects.get(project=project, number=2).state == ModelVersion.FAILED
    assert ModelVersion.objects.get(project=project, number=3).state == ModelVersion.ACTIVE


def test_a_retrain_keeps_the_served_final_model_unless_labels_are_newer(db, project_factory, eager_celery,
                                                                       tiny_finetune,
                                                                       django_capture_on_commit_callbacks):
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.modeling.versions import active_model

    project, _ = helpers.build_project(project_factory, slug="keep-final", n_items=120, n_labeled=48)
    final_version = helpers.serve_final_model(project, django_capture_on_commit_callbacks, np.random.default_rng(3))

    # the same labels: nothing to learn that the fine-tuned model lacks; it keeps serving
    same = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert active_model(project).pk == final_version.pk, "a retrain on the same labels replaced the final model"
    assert same.state == TaskRun.DONE and same.detail["training"] == "kept_final", same.message
    assert f"the served final model v{final_version.number} was trained on these same labels" in same.message
    assert active_model(project).pk == final_version.pk
    assert not ModelVersion.objects.filter(project=project, number__gt=final_version.number).exists()

    # one newer label: the retrain's model is the newer one and replaces it
    _new_label(project)
    newer = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert newer.state == TaskRun.DONE and "training" not in newer.detail, newer.message
    assert active_model(project).number == final_version.number + 1
    assert ModelVersion.objects.get(pk=final_version.pk).state == ModelVersion.RETIRED


def test_final_model_embeds_labeled_items_without_a_frozen_vector(db, project_factory, eager_celery, tiny_finetune,
                                                                   settings, django_capture_on_commit_callbacks):
    from labeling.items.models import Item
    from labeling.loop import triggers
    from labeling.modeling import embedding
    from labeling.modeling.models import ModelVersion, TaskRun
    from learner.text import text_hash

    # one fine-tuning, no out-of-fold comparison: the frozen vectors are read by the distillation's
    # teacher all the same, and whether it serves is not the point here
    settings.LONGTAIL_FINETUNE = {**helpers.TINY_FINETUNE, "folds": 0}
    project, _ = helpers.build_project(project_factory, slug="fresh-labels", n_items=80, n_labeled=24)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    # labeled just now, before any embedding run reached them
    fresh = []
    for k, name in enumerate(["billing", "login", "fraud"]):
        text = f"{name} freshly labeled request {k}"
        fresh.append(Item.objects.create(project=project, source=project.sources.first(), text=text,
                                         text_hash=text_hash(text)))
        _new_label(project, fresh[-1])
    assert set(embedding.unembedded_item_ids(project)) == {item.id for item in fresh}
    with django_capture_on_commit_callbacks(execute=True):
        run = triggers.request_final_model(project)
    run.refresh_from_db()
    assert run.state == TaskRun.DONE, run.message
    version = ModelVersion.objects.get(pk=run.detail["model_version_id"])
    assert version.state in (ModelVersion.READY, ModelVersion.ACTIVE) and version.train_size == 27
    assert embedding.unembedded_item_ids(project) == []


def test_the_training_digest_follows_labels_and_every_setting_a_retrain_reads(db, project_factory):
    """A served final model is kept only while a retrain would read exactly what it read: a model
    setting, a label's description (the prior's text) or a target changes the digest, and putting
    it back restores it."""
    from labeling.modeling import selectors
    from labeling.modeling.versions import labels_digest

    project, _ = helpers.build_project(project_factory, slug="digest", n_items=60, n_labeled=30)

    def digest():
        project.refresh_from_db()
        return labels_digest(project, selectors.training_set(project))

    before = digest()
    assert digest() == before
    bucket = project.other_min_examples
    project.other_min_examples = bucket + 3
    project.save()
    assert digest() != before
    project.other_min_examples = bucket
    project.save()
    assert digest() == before
    label = project.labels.get(name="fraud")
    described = label.description
    label.description = described + " (card used by someone else)"
    label.save()
    assert digest() != before
    label.description = described
    label.save()
    assert digest() == before
    target = label.precision_target
    label.precision_target = 0.9 if target != 0.9 else 0.8
    label.save()
    assert digest() != before
    _new_label(project)
    label.precision_target = target
    label.save()
    assert digest() != before  # a new label alone moves it too
