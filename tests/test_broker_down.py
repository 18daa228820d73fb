"""Redis unreachable from the web process (REDIS_URL at a closed port): publishing fails fast and
is recorded. The answer that completes a wave returns at once and is stored; the retrain it
triggers is failed with the reason (never left pending) and the next wave opens with the current
model so annotators get their next batch; a retrain request answers with the error instead of
"Queued"; an upload's batch fails with a message instead of staying pending; the lead can still
plan by hand. Real gunicorn + PostgreSQL."""
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.service_processes import free_port, require_postgres, start_web, stop
from tests.test_loop_helpers import build_project

DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def web_without_broker(transactional_db, tmp_path):
    require_postgres()
    port = free_port()
    log_path = tmp_path / "web.log"
    proc = start_web(log_path, port, REDIS_URL=DOWN, CELERY_BROKER_URL=DOWN, CELERY_RESULT_BACKEND=DOWN,
                     DEBUG="1", CELERY_TASK_ALWAYS_EAGER="0")
    yield f"http://127.0.0.1:{port}", log_path
    stop(proc)


def test_broker_down_fails_fast_and_says_so(web_without_broker, project_factory, make_user):
    from django.conf import settings
    from rest_framework.authtoken.models import Token

    from labeling.items.models import ImportBatch
    from labeling.modeling.models import TaskRun
    from labeling.projects.models import Membership
    from labeling.waves import services as waves
    from labeling.waves.models import Wave

    base, log_path = web_without_broker
    project, _ = build_project(project_factory, slug="down", n_items=80, n_labeled=20, wave_size=4, batch_size=4,
                               double_label_share=0.0)
    waves.open_wave(waves.plan_next_wave(project))
    ann, lead = make_user("ann"), make_user("lena")
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    as_ann = {"Authorization": f"Token {Token.objects.create(user=ann).key}"}
    as_lead = {"Authorization": f"Token {Token.objects.create(user=lead).key}"}
    api = f"{base}/api/projects/down"
    label_id = project.labels.order_by("pk").first().pk

    batch = requests.post(f"{api}/batches/", json={"size": 4}, headers=as_ann, timeout=30)
    assert batch.status_code in (200, 201), batch.text
    items = batch.json()["items"]
    assert len(items) == 4
    seconds = []
    for it in items:
        t = time.perf_counter()
        r = requests.post(f"{api}/annotations/", json={"client_id": str(uuid.uuid4()), "assignment": it["assignment"],
                                                       "label": label_id}, headers=as_ann, timeout=60)
        seconds.append(time.perf_counter() - t)
        assert r.status_code == 201, (r.status_code, r.text, log_path.read_text()[-2000:])
    # The last answer completed the wave: it closed it and tried to queue the retrain.
    assert seconds[-1] < 2.0, seconds
    assert Wave.objects.get(project=project, number=1).state == Wave.CLOSED
    run = TaskRun.objects.get(project=project, kind="retrain")
    assert run.state == TaskRun.FAILED and run.detail.get("queue_error"), (run.state, run.message)
    assert "Could not queue" in run.message

    # A retrain request says it failed (not "Queued"), quickly.
    t = time.perf_counter()
    r = requests.post(f"{api}/models/retrain/", headers=as_lead, timeout=60)
    assert time.perf_counter() - t < 2.0
    assert r.status_code == 503, r.text
    assert "Retrain failed" in r.json()["detail"] and "Could not queue" in r.json()["detail"]
    assert not TaskRun.objects.filter(project=project, state__in=[TaskRun.PENDING, TaskRun.RUNNING]).exists()

    # An upload: the batch is failed with a message, never left pending; the file is gone.
    t = time.perf_counter()
    r = requests.post(f"{api}/imports/", files={"file": ("more.csv", b"text\nmy card was stolen\n", "text/csv")},
                      data={"skip_invalid": "false"}, headers=as_lead, timeout=60)
    assert time.perf_counter() - t < 2.0
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "failed", r.json()
    batch_row = ImportBatch.objects.get(pk=r.json()["id"])
    assert batch_row.state == ImportBatch.FAILED
    assert "could not be queued" in batch_row.errors[0]["message"] and batch_row.errors[0]["file"] == "more.csv"
    assert not list((Path(settings.MEDIA_ROOT) / "imports" / "down").glob("*more*"))

    # Annotators keep working: the web process opened the next wave with the current model itself.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not Wave.objects.filter(project=project, number=2, state=Wave.OPEN).exists():
        time.sleep(0.3)
    run.refresh_from_db()
    assert run.state == TaskRun.FAILED and run.message.startswith("Wave 2 was opened with the current model"), (
        run.message, log_path.read_text()[-2000:])
    nxt = requests.post(f"{api}/batches/", json={"size": 4}, headers=as_ann, timeout=30)
    assert nxt.status_code in (200, 201) and len(nxt.json()["items"]) == 4, nxt.text
    # The lead can still plan by hand (in the request, no broker needed).
    r = requests.post(f"{api}/waves/plan/", headers=as_lead, timeout=120)
    assert r.status_code == 201 and r.json()["number"] == 3, r.text

    # A final model request says it failed, as a retrain request does (it answered 202 "failed").
    r = requests.post(f"{api}/models/final/", headers=as_lead, timeout=60)
    assert r.status_code == 503 and "Final model failed" in r.json()["detail"], r.text
    # Closing the open wave with a retrain: the retrain cannot be queued; the next wave opens with the
    # current model all the same, as after a completed wave (no wave opened before).
    r = requests.post(f"{api}/waves/2/close/", json={"retrain": True}, headers=as_lead, timeout=60)
    assert r.status_code == 200 and r.json()["retrain"]["state"] == "failed", r.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not Wave.objects.filter(project=project, state=Wave.OPEN).exists():
        time.sleep(0.3)
    assert Wave.objects.filter(project=project, state=Wave.OPEN).exists(), log_path.read_text()[-2000:]
