"""A training learns and records the same read of the label taxonomy, targets and label texts
(labeling.modeling.selectors.label_settings, read once before it trains).

A lead who changes a label's parent or precision target while the final model fine-tunes must not
find that change recorded in the model's ``labels_digest`` as if it had been learned: the next
retrain would then take the served final model for one "trained on these same labels" and keep it,
and the change would never take effect. The served model also says it was trained under the
earlier taxonomy / targets.
"""
import json
import time

import numpy as np
import psycopg2
import pytest

from tests import test_loop_helpers as helpers
from tests.service_processes import (
    database_url,
    fresh_broker,
    require_postgres,
    require_redis,
    start_worker,
    stop,
    wait_for_run,
)

eager_celery = helpers.eager_celery


def _wait_until_blocked_on_progress(blocker, table: str, procs, logs, timeout: float = 180) -> None:
    """Until a backend waits for the row lock ``blocker`` holds on the run, in the UPDATE the final
    model's progress callback makes: the worker is fine-tuning, so it has read the label settings."""
    deadline = time.monotonic() + timeout
    with blocker.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the transaction sees its first look again
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND query LIKE %s AND query LIKE %s",
                           [f'UPDATE "{table}" SET%', '%"progress"%'])
            if cursor.fetchone()[0]:
                return
            assert all(p.poll() is None for p in procs), [p.read_text()[-3000:] for p in logs]
            time.sleep(0.1)
    pytest.fail("the worker never reached the final model's progress update; logs:\n"
                + "\n".join(p.read_text()[-3000:] for p in logs))


@pytest.mark.worker
def test_a_taxonomy_and_target_change_made_while_the_final_model_trains_is_learned_by_the_next_retrain(
        transactional_db, project_factory, tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    from labeling.items.models import Item
    from labeling.loop.triggers import request_final_model, request_retrain
    from labeling.modeling import scores, selectors, versions
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.projects.models import Label

    project, _ = helpers.build_project(project_factory, slug="snap", n_items=120, n_labeled=48)
    # the frozen vectors are noise: the fine-tuned model wins out of fold and is served
    helpers.noise_frozen_vectors(Item.objects.filter(project=project).values_list("text_hash", flat=True),
                                 np.random.default_rng(3))
    frozen = versions.train_version(project)
    scores.score_version(frozen)
    versions.activate_version(frozen)
    before = versions.labels_digest(project, selectors.training_set(project))

    logs = [tmp_path / "worker.log"]
    env = {"LONGTAIL_FINETUNE": json.dumps(helpers.TINY_FINETUNE), "LONGTAIL_ARTIFACT_DIR": str(tmp_path / "art")}
    workers = [start_worker(logs[0], **env)]
    blocker = psycopg2.connect(database_url())  # a second session that holds the run's row
    try:
        final_run = request_final_model(project)
        wait_for_run(final_run, workers, logs, states=("running", "done", "failed"))
        assert final_run.state == TaskRun.RUNNING, final_run.message
        with blocker.cursor() as cursor:
            cursor.execute(f'SELECT id FROM "{TaskRun._meta.db_table}" WHERE id = %s FOR UPDATE', [final_run.pk])
        # The worker reads the label settings, then fine-tunes and reports progress: it waits here.
        _wait_until_blocked_on_progress(blocker, TaskRun._meta.db_table, workers, logs)
        training = ModelVersion.objects.get(project=project, config__task_run=final_run.pk)
        assert training.state == ModelVersion.TRAINING

        # Meanwhile a lead puts login and fraud under a new coarse label and sets a precision target.
        account = Label.objects.create(project=project, name="account", hotkey="4", description="About accounts")
        Label.objects.filter(project=project, name__in=["login", "fraud"]).update(parent=account)
        Label.objects.filter(project=project, name="billing").update(precision_target=0.9)
        after = versions.labels_digest(project, selectors.training_set(project))
        assert after != before
        blocker.rollback()  # the fine-tune goes on, with the settings it read before the change

        final_run = wait_for_run(final_run, workers, logs)
        assert final_run.state == TaskRun.DONE and final_run.detail["served"] is True, final_run.message
        served = ModelVersion.objects.get(pk=final_run.detail["model_version_id"])
        assert served.state == ModelVersion.ACTIVE and served.config["kind"] == "final"
        # it records what it learned (the settings before the change), not what the labels are now
        assert served.config["labels_digest"] == before, "the change made during training was recorded as learned"
        assert served.config["labels_read"]["parents"] == {}
        assert versions.final_model_with_current_labels(project) is None
        # the models list / dashboard say it was trained under the earlier taxonomy and targets
        choices = selectors.model_choices(served)
        assert choices["labels_changed_since"] == ["taxonomy", "targets"]
        assert "trained under the earlier label taxonomy and targets" in choices["summary"]

        # the next retrain trains on the new taxonomy and targets instead of keeping the final model
        retrain = wait_for_run(request_retrain(project, reason="manual"), workers, logs)
    finally:
        blocker.close()
        for proc in workers:
            stop(proc)
    assert retrain.state == TaskRun.DONE and retrain.detail.get("training") != "kept_final", retrain.message
    new = versions.active_model(project)
    assert new.number > served.number and new.pk == retrain.detail["model_version_id"]
    assert new.config["labels_digest"] == after
    login, fraud = (Label.objects.get(project=project, name=name).pk for name in ("login", "fraud"))
    assert new.config["labels_read"]["parents"] == {str(login): account.pk, str(fraud): account.pk}
    assert selectors.model_choices(new)["labels_changed_since"] is None
    served.refresh_from_db()
    assert served.state == ModelVersion.RETIRED


def test_a_retrain_records_the_label_settings_it_read_and_says_when_they_changed_since(
        db, project_factory, eager_celery, django_capture_on_commit_callbacks):
    from labeling.modeling import selectors, versions
    from labeling.modeling.models import TaskRun
    from labeling.projects.models import Label

    project, _ = helpers.build_project(project_factory, slug="snap-retrain", n_items=80, n_labeled=30)
    fraud = Label.objects.get(project=project, name="fraud")
    fraud.recall_target = 0.8
    fraud.save()
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == TaskRun.DONE, run.message
    model = versions.active_model(project)
    assert model.config["labels_read"]["targets"] == {str(fraud.pk): {"recall": 0.8}}
    assert model.config["labels_digest"] == versions.labels_digest(project, selectors.training_set(project))
    assert selectors.model_choices(model)["labels_changed_since"] is None

    # a rename is not a change of what the model learned; a new parent is
    Label.objects.filter(pk=fraud.pk).update(name="card fraud")
    assert selectors.model_choices(model)["labels_changed_since"] is None
    Label.objects.filter(project=project, name="login").update(parent=Label.objects.get(project=project,
                                                                                         name="billing"))
    choices = selectors.model_choices(model)
    assert choices["labels_changed_since"] == ["taxonomy"]
    assert "trained under the earlier label taxonomy (read " in choices["summary"]
