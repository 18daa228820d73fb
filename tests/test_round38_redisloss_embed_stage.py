"""Round 38 (redisloss): an import's embedding run reads "queued" while it runs, and still "queued"
once the sweep has failed it mid-embedding.

Seen while Redis lost the embedding's chunk messages mid-run: the waves page's task table (and
``GET /api/projects/<slug>/tasks/``) showed ``embed | running | queued | 12% | Embedding 399 items in
8 chunk(s).`` for the whole run, then ``failed | queued`` with "Interrupted: no heartbeat …" after
the sweep gave it up. README: the stage is one of "queued, …, embedding, …, done; a failed run keeps
the stage it failed in". ``tasks.start_embedding`` moves the run to ``running`` without moving its
stage, so nothing tells the lead the run ever left the queue.

Real broker (REDIS_URL) with no worker: the chord of chunks is sent and waits in the embed queue.
"""
import pytest
from rest_framework.test import APIClient

from tests.service_processes import fresh_broker, require_redis


@pytest.fixture
def broker():
    require_redis()
    fresh_broker()
    yield
    fresh_broker()  # the chunks left queued here must not reach a later test's worker


def test_a_running_embedding_run_does_not_read_queued(broker, db, project_factory, django_user_model):
    from labeling.items.models import Item
    from labeling.loop import tasks
    from labeling.loop.triggers import request_embedding
    from labeling.modeling.models import TaskRun
    from labeling.projects.models import Membership
    from learner.text import text_hash

    project = project_factory(slug="embed-stage")
    for i in range(3):
        text = f"my card was charged twice, order {i}"
        Item.objects.create(project=project, text=text, text_hash=text_hash(text))
    lead = django_user_model.objects.create_user("lena")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    run = request_embedding(project)

    tasks.start_embedding.run(run.pk)  # the task's body, as a worker runs it: the chunks go to the broker

    run.refresh_from_db()
    assert run.state == TaskRun.RUNNING, (run.state, run.message)
    client = APIClient()
    client.force_authenticate(lead)
    shown = next(r for r in client.get("/api/projects/embed-stage/tasks/").json()["results"] if r["id"] == run.pk)
    assert shown["state"] == "running"
    assert shown["stage"] != "queued", (
        f"the embedding run is running ({shown['message']!r}) but its stage reads {shown['stage']!r}")
