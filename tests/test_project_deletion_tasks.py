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
