"""A routing pass (a new model activates, an import's items are scored, the band or the share
changes) locks the project's row, reads the labels and the pool's scores (seconds on a large pool),
then locks the open low-confidence tasks. A lead who accepts a task in that time (the `a` key: another
request, its own database connection) locks the task, then stores the adjudication, whose foreign key
to the project waits for the pass's row lock; the pass then waits for the task: a deadlock, and
PostgreSQL cancels one of the two (the lead's accept fails, or the retrain's routing step does).
One of them should simply wait for the other.

The lead's request runs in its own thread and connection while the pass is between reading the scores
and locking the tasks (the real read runs; the wrapper only starts the request there and lets the
pass go on once the request waits on a lock)."""
import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation, ReviewTask
from labeling.annotations.review_services import model_label_name
from labeling.modeling import review
from labeling.modeling.review import route_review
from labeling.projects.models import Membership

from .review_helpers import add_version, make_items

LABELS = ("billing", "login", "fraud")


@pytest.fixture
def routed(transactional_db, project_factory, make_user):
    project = project_factory("window", labels=LABELS)
    project.band_low, project.band_high = 0.3, 0.7
    project.review_share_min, project.review_share_max = 0.0, 0.5
    project.save()
    lead = make_user("lea")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    items = make_items(project, 20)
    scores = {it.pk: (1, 0.5 if i < 4 else 0.95) for i, it in enumerate(items)}  # 4 "login" in the band
    route_review(add_version(project, 1, scores))
    tasks = list(ReviewTask.objects.filter(project=project, resolved_at__isnull=True).order_by("item_id"))
    assert len(tasks) == 4
    client = APIClient()
    client.force_authenticate(lead)
    return project, lead, client, scores, tasks


def _lead_acts_during_the_pass(monkeypatch, request_fn):
    real = review._stored_scores
    replies, errors = [], []

    def read_then_lead_acts(version):
        out = real(version)
        if not replies and not errors:
            def other():
                try:
                    replies.append(request_fn())
                except Exception as exc:  # noqa: BLE001 - reported by the test
                    errors.append(exc)
                finally:
                    connection.close()
            thread = threading.Thread(target=other, daemon=True)
            thread.start()
            read_then_lead_acts.thread = thread
            deadline = time.monotonic() + 20
            with connection.cursor() as cursor:  # until the lead's request waits on a lock (or finished)
                while time.monotonic() < deadline and thread.is_alive():
                    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
                    if cursor.fetchone()[0]:
                        break
                    time.sleep(0.05)
        return out
    monkeypatch.setattr(review, "_stored_scores", read_then_lead_acts)
    return read_then_lead_acts, replies, errors


def test_accepting_a_prediction_while_a_routing_pass_runs_does_not_deadlock(routed, monkeypatch):
    project, lead, client, scores, tasks = routed
    task = tasks[1]
    shown = [{"task": task.pk, "label": model_label_name(task), "model_version": task.model_version}]
    hook, replies, errors = _lead_acts_during_the_pass(monkeypatch, lambda: client.post(
        f"/api/projects/{project.slug}/review/bulk/", {"action": "accept", "tasks": [task.pk], "shown": shown},
        format="json"))
    routing_error = None
    try:
        route_review(add_version(project, 2, scores))  # v2: the same doubtful predictions
    except Exception as exc:  # noqa: BLE001 - reported below
        routing_error = exc
    hook.thread.join(30)
    lead_error = errors[0] if errors else (None if replies and replies[0].status_code == 200 else replies)
    assert routing_error is None and lead_error is None, (
        f"the routing pass: {routing_error!r}; the lead's accept: {lead_error!r}")
    assert Annotation.objects.filter(item_id=task.item_id, origin=Annotation.ADJUDICATION).exists()
    assert not ReviewTask.objects.filter(item_id=task.item_id, resolved_at__isnull=True).exists()

