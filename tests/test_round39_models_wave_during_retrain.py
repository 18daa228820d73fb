"""A wave completed while a retrain is under way must still be learned before (or right after) the
next wave is planned.

With a real Celery worker over Redis: a lead starts a retrain by hand while wave 1 is one answer
short; the retrain reads the labels and trains. The annotator then gives wave 1's last answer: the
wave closes and asks for its retrain, which ``request_retrain`` folds into the running one (one
retrain per project). That run activates a model trained without the answer and plans wave 2 with
it, and nothing else retrains: wave 1's last labels are not learned by any model until wave 2
completes, although the README promises that a completed wave retrains and the next wave is
planned with the new model.

The test holds the new version's row lock (as another transaction would) from the moment the
version is created — after the training set was read — until the answer is stored, which makes the
window in which the wave completes mid-retrain deterministic. Everything else is the product's own
path: the API for the retrain and the answers, the worker for the pipeline.
"""
import threading
import time
import uuid

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


def _answer(client, base, assignment, label_id):
    resp = client.post(f"{base}/annotations/", {"client_id": str(uuid.uuid4()), "assignment": assignment,
                                               "label": label_id}, content_type="application/json")
    assert resp.status_code in (200, 201), resp.content
    return resp.json()


def _wait_idle(project, procs, logs, timeout=120):
    from labeling.modeling.models import TaskRun

    deadline = time.monotonic() + timeout
    while TaskRun.objects.filter(project=project, state__in=[TaskRun.PENDING, TaskRun.RUNNING]).exists():
        for run in TaskRun.objects.filter(project=project, state__in=[TaskRun.PENDING, TaskRun.RUNNING]):
            wait_for_run(run, procs, logs, timeout=max(1.0, deadline - time.monotonic()))
    time.sleep(1.0)  # a follow-up run queued on the last one's commit
    if TaskRun.objects.filter(project=project, state__in=[TaskRun.PENDING, TaskRun.RUNNING]).exists():
        _wait_idle(project, procs, logs, timeout=max(1.0, deadline - time.monotonic()))


@pytest.mark.worker
def test_a_wave_completed_during_a_running_retrain_is_learned_before_the_next_wave(
        transactional_db, project_factory, make_user, client, tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    from labeling.loop.triggers import request_retrain
    from labeling.modeling import selectors, versions
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.projects.models import Membership
    from labeling.waves.models import Wave

    project, truth = helpers.build_project(project_factory, slug="midwave", n_items=90, n_labeled=24,
                                           wave_size=6, batch_size=6, double_label_share=0.0)
    ann = make_user("ann1")
    lead = make_user("lead1")
    Membership.objects.create(project=project, user=ann, role="annotator")
    Membership.objects.create(project=project, user=lead, role="lead")
    base = "/api/projects/midwave"
    labels = {label.name: label.pk for label in project.labels.all()}
    log = tmp_path / "worker.log"
    worker = start_worker(log, LONGTAIL_ARTIFACT_DIR=str(tmp_path / "artifacts"))
    side = None
    try:
        wait_for_run(request_retrain(project), [worker], [log])
        wave1 = Wave.objects.get(project=project, state=Wave.OPEN)
        assert wave1.number == 1

        client.force_login(ann)
        batch = client.post(f"{base}/batches/", {"size": 6}, content_type="application/json").json()
        items = batch["items"]
        assert len(items) == wave1.size, batch
        for row in items[:-1]:
            _answer(client, base, row["assignment"], labels[truth[row["item"]]])
        last = items[-1]

        # The lead retrains by hand; the run reads the labels (wave 1 one answer short) and trains.
        client.force_login(lead)
        resp = client.post(f"{base}/models/retrain/")
        assert resp.status_code == 202, resp.content
        manual = TaskRun.objects.get(pk=resp.json()["id"])
        deadline = time.monotonic() + 60
        while True:
            training = ModelVersion.objects.filter(project=project, config__task_run=manual.pk).first()
            if training is not None:
                break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.01)
        side = psycopg2.connect(database_url())  # a transaction of its own, open until commit
        side.cursor().execute("SELECT id FROM learner_modelversion WHERE id = %s FOR UPDATE", [training.pk])
        training.refresh_from_db()
        assert training.state == ModelVersion.TRAINING, "the version finished before the lock: rerun"

        # Wave 1's last answer arrives while that retrain trains: the wave closes and asks to retrain.
        client.force_login(ann)
        _answer(client, base, last["assignment"], labels[truth[last["item"]]])
        wave1.refresh_from_db()
        assert wave1.state == Wave.CLOSED
        threading.Timer(0.5, side.commit).start()
        _wait_idle(project, [worker], [log])
        side.close()
        side = None
    finally:
        if side is not None:
            side.close()
        stop(worker)

    active = versions.active_model(project)
    newest_wave = Wave.objects.filter(project=project).order_by("-number").first()
    runs = [(r.pk, r.detail.get("reason"), r.state, r.message) for r in TaskRun.objects.filter(project=project)
            .order_by("pk")]
    digest_now = versions.labels_digest(project, selectors.training_set(project))
    # Wave 1 is complete and closed, every run has ended: the served model must have learned its labels.
    assert active.config.get("labels_digest") == digest_now, (
        f"model v{active.number} serves and planned wave {newest_wave.number} "
        f"(model v{newest_wave.model_version.number if newest_wave.model_version else None}), but it was "
        f"trained on {active.train_size} labels without wave 1's last answer, and no retrain is pending; runs: {runs}")


@pytest.mark.worker
def test_a_retrain_asked_for_after_a_setting_change_while_one_trains_trains_the_new_setting(
        transactional_db, project_factory, make_user, client, tmp_path):
    """The lead switches the head to the torch head and presses "Retrain" while a retrain (which read
    the settings with logistic regression) trains: the 202 names the running run, which serves a
    logistic-regression model, and no retrain with the torch head ever runs."""
    require_redis()
    require_postgres()
    fresh_broker()
    from labeling.loop.triggers import request_retrain
    from labeling.modeling import versions
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.projects.models import Membership

    project, _ = helpers.build_project(project_factory, slug="midhead", n_items=90, n_labeled=24, wave_size=6,
                                       batch_size=6)
    lead = make_user("lead1")
    Membership.objects.create(project=project, user=lead, role="lead")
    client.force_login(lead)
    base = "/api/projects/midhead"
    log = tmp_path / "worker.log"
    worker = start_worker(log, LONGTAIL_ARTIFACT_DIR=str(tmp_path / "artifacts"))
    side = None
    try:
        first = request_retrain(project)
        deadline = time.monotonic() + 60
        while (training := ModelVersion.objects.filter(project=project, config__task_run=first.pk).first()) is None:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.01)
        side = psycopg2.connect(database_url())
        side.cursor().execute("SELECT id FROM learner_modelversion WHERE id = %s FOR UPDATE", [training.pk])
        training.refresh_from_db()
        assert training.state == ModelVersion.TRAINING, "the version finished before the lock: rerun"

        resp = client.patch(f"{base}/", {"head": "torch"}, content_type="application/json")
        assert resp.status_code == 200, resp.content
        resp = client.post(f"{base}/models/retrain/")
        assert resp.status_code == 202, resp.content
        threading.Timer(0.5, side.commit).start()
        _wait_idle(project, [worker], [log])
        side.close()
        side = None
    finally:
        if side is not None:
            side.close()
        stop(worker)

    active = versions.active_model(project)
    runs = [(r.pk, r.detail.get("reason"), r.state, r.message) for r in TaskRun.objects.filter(project=project)
            .order_by("pk")]
    head = (active.config.get("train") or {}).get("head")
    assert head == "torch", (
        f"the lead set the torch head and asked for a retrain (202, task {resp.json()['id']}); every run has "
        f"ended and model v{active.number} serves with head {head!r}; runs: {runs}")
