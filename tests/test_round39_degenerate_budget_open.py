"""A label budget set while a wave waits planned: the loop keeps that plan (its re-plan fails, the
budget has no room), and once the open wave's answers spend the budget, opening the waiting wave
by hand must be refused, or annotators are asked for twice the budget. Real worker: the re-plan
after the settings save and the wave-complete retrain run in it."""
import json
import time
import uuid

import pytest
from rest_framework.test import APIClient

from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop, wait_for_run
from tests.test_loop_helpers import build_project

pytestmark = pytest.mark.django_db(transaction=True)


def _answer_open_wave(api, slug, project, truth):
    labels = {label.name: label.pk for label in project.labels.all()}
    answered = 0
    while True:
        batch = api.post(f"/api/projects/{slug}/batches/", {}, format="json")
        assert batch.status_code == 200, batch.content
        items = batch.json()["items"]
        if not items:
            return answered
        for item in items:
            stored = api.post(f"/api/projects/{slug}/annotations/", {
                "client_id": str(uuid.uuid4()), "assignment": item["assignment"],
                "label": labels[truth[item["item"]]]}, format="json")
            assert stored.status_code in (200, 201), stored.content
            answered += 1


def _wait(predicate, worker, log, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert worker.poll() is None, log.read_text()[-3000:]
        time.sleep(0.3)
    pytest.fail("timed out; worker log:\n" + log.read_text()[-3000:])


def test_a_plan_kept_past_a_new_budget_cannot_be_opened_once_the_budget_is_spent(project_factory, make_user,
                                                                                   tmp_path):
    require_postgres()
    require_redis()
    fresh_broker()
    from labeling.modeling.models import TaskRun
    from labeling.projects.models import Project
    from labeling.waves.models import Wave
    from labeling.waves.selectors import budget_status

    project, truth = build_project(project_factory, slug="budgetopen", n_items=100, n_labeled=30, wave_size=20,
                                   batch_size=5, double_label_share=0.0)
    lead = make_user("lead", superuser=True)
    api = APIClient()
    api.force_authenticate(lead)
    slug = project.slug
    log = tmp_path / "worker.log"
    worker = start_worker(log)
    try:
        first = api.post(f"/api/projects/{slug}/models/retrain/")
        assert first.status_code == 202, first.content
        run = wait_for_run(TaskRun.objects.get(pk=first.json()["id"]), [worker], [log], timeout=120)
        assert run.state == "done", run.message
        assert Wave.objects.get(project=project, number=1).state == Wave.OPEN
        planned = api.post(f"/api/projects/{slug}/waves/plan/")
        assert planned.status_code == 201 and planned.json()["state"] == "planned", planned.content

        # The lead sets a budget of 20 labels: wave 1 (20 items, open) takes all of it.
        saved = api.patch(f"/api/projects/{slug}/", json.dumps({"label_budget": 20}), content_type="application/json")
        assert saved.status_code == 200, saved.content
        _wait(lambda: "replan_failed" in (Wave.objects.get(project=project, number=2).report or {}), worker, log)

        assert _answer_open_wave(api, slug, project, truth) == 20
        retrain = TaskRun.objects.filter(project=project, kind="retrain").order_by("-pk").first()
        assert retrain.pk != run.pk
        retrain = wait_for_run(retrain, [worker], [log], timeout=120)
        assert retrain.state == "done", retrain.message
    finally:
        stop(worker)

    status = budget_status(Project.objects.get(pk=project.pk))
    assert status["spent"] and status["used"] == 20, status
    assert Wave.objects.get(project=project, number=2).state == Wave.PLANNED

    opened = api.post(f"/api/projects/{slug}/waves/2/open/")
    # The budget is spent: the 20 picks planned before it was set must not go to annotators.
    assert opened.status_code == 409, (opened.status_code, opened.content)
    assert not Wave.objects.filter(project=project, state=Wave.OPEN).exists()
