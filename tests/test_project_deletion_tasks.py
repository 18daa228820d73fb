"""Celery work queued for a project that is deleted before it runs: every loop task that names a
project, run, model version or import of it ends without an error, with a log line that says
what is gone. Eager Celery (the task's own code, through Celery's call path)."""
import logging

import pytest

from tests import test_loop_helpers as loop

eager_celery = loop.eager_celery
loop_project = loop.loop_project


@pytest.fixture
def deleted(loop_project, settings, tmp_path, django_capture_on_commit_callbacks):
    """The ids a retrain and a queued upload left in messages, after the project is deleted."""
    from labeling.items.models import ImportBatch, Item
    from labeling.modeling.models import ModelVersion
    from labeling.projects.deletion import delete_project

    settings.MEDIA_ROOT = tmp_path / "media"
    project, _ = loop_project
    run = loop.retrain(project, django_capture_on_commit_callbacks)
    version = ModelVersion.objects.get(project=project, state=ModelVersion.ACTIVE)
    item_ids = sorted(Item.objects.filter(project=project).values_list("pk", flat=True))
    batch = ImportBatch.objects.create(project=project, filename="late.csv")  # its message still queued
    upload = tmp_path / "late.csv.upload"
    upload.write_text("text\nhello\n")
    with django_capture_on_commit_callbacks(execute=True):
        delete_project(project, force=True)  # past the pending import
    return {"project": project.pk, "run": run.pk, "version": version.pk, "items": item_ids, "batch": batch.pk,
            "upload": upload}


def calls(ids):
    from labeling.loop import tasks

    run, version, items = ids["run"], ids["version"], ids["items"]
    return [
        (tasks.run_retrain, [run], f"task run {run}"),
        (tasks.start_embedding, [run], f"task run {run}"),
        (tasks.embed_items, [items[:10], run, 0.5], f"task run {run}"),
        (tasks.finish_embedding, [run], f"task run {run}"),
        (tasks.train_model, [run], f"task run {run}"),
        (tasks.score_chunk, [version, items[0], items[-1], run, 0.1], f"task run {run}"),
        (tasks.score_chunk, [version, items[0], items[-1]], f"model version {version}"),
        (tasks.finish_scoring, [version], f"model version {version}"),
        (tasks.score_version, [version], f"model version {version}"),
        (tasks.train_label_issues, [version], f"model version {version}"),
        (tasks.plan_after_retrain, [run], f"task run {run}"),
        (tasks.train_final, [run], f"task run {run}"),
        (tasks.embed_project, [ids["project"]], f"project {ids['project']}"),
        (tasks.route_review_again, [ids["project"]], f"project {ids['project']}"),
        (tasks.import_file, [ids["batch"], str(ids["upload"])], f"import batch {ids['batch']} is gone"),
    ]


def test_queued_work_of_a_deleted_project_ends_with_a_log_line(deleted, caplog):
    for task, args, gone in calls(deleted):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            task.apply(args=args, throw=True)  # raises what the task raises
        said = [record for record in caplog.records if gone in record.getMessage()]
        assert said, f"{task.name}{args}: no log line says “{gone}”: {[r.getMessage() for r in caplog.records]}"
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], task.name
    assert not deleted["upload"].exists()  # the import's upload is removed, as for any delivery that imports nothing


@pytest.mark.django_db
def test_a_training_whose_version_was_deleted_meanwhile_logs_one_line_not_an_error(project_factory, caplog):
    """A retrain still running when delete_project removed its project: its late result is not
    stored, and the log says the version is gone (an INFO line), not "training failed" with a
    traceback and an untrue "taken for interrupted" reason."""
    from labeling.modeling import versions
    from labeling.modeling.models import ModelVersion

    project = project_factory("gone")
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.TRAINING)
    ModelVersion.objects.filter(pk=version.pk).delete()
    log = logging.getLogger("labeling.loop.tasks")
    with caplog.at_level(logging.INFO, logger="labeling.loop.tasks"):
        try:
            versions.finish_version(version, _tiny_classifier(), 4, {})
        except versions.VersionAbandoned as exc:
            versions.log_training_failure(log, "training failed", exc)
    (record,) = [r for r in caplog.records if r.name == "labeling.loop.tasks"]
    assert record.levelno == logging.INFO and record.exc_info is None
    assert record.getMessage() == ("training failed: model version 1 no longer exists (its project was deleted?): "
                                   "this late result is not stored")


def _tiny_classifier():
    import numpy as np

    from learner.training import TrainConfig, train_classifier

    X = np.random.default_rng(0).normal(size=(40, 8))
    y = ["a"] * 20 + ["b"] * 20
    X[:20] += 2
    return train_classifier(X, y, config=TrainConfig(self_training=False))
