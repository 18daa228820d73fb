"""A lead plans the next wave while wave 1 is open and new items still wait for their vectors: the
answer is 409 "planning starts when they are done". With a real worker embedding them (the bundled
encoder), the promised wave must then be planned, or the run must say why it was not."""
import pytest
from rest_framework.test import APIClient

from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop, wait_for_run
from tests.test_loop_helpers import build_project

pytestmark = pytest.mark.django_db(transaction=True)

NEW_TEXTS = ["Refund still missing after two weeks", "The app logs me out every minute",
             "Someone bought gift cards with my account", "Invoice shows the wrong company name"]


def test_plan_asked_while_embedding_is_planned_once_embedded(project_factory, make_user, settings, tmp_path):
    require_postgres()
    require_redis()
    fresh_broker()
    from labeling.items.models import Item
    from labeling.modeling.models import TaskRun
    from labeling.waves.models import Wave
    from learner.text import text_hash

    settings.LONGTAIL_PLAN_EMBED_INLINE_MAX = 0  # any item without a vector is embedded by the workers
    project, _ = build_project(project_factory, slug="planembed", n_items=80, n_labeled=30, wave_size=10,
                               batch_size=5)
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

        # New items arrive without vectors (as after an import whose embedding has not run yet).
        source = project.sources.first()
        Item.objects.bulk_create([Item(project=project, source=source, text=t, text_hash=text_hash(t))
                                  for t in NEW_TEXTS])
        asked = api.post(f"/api/projects/{slug}/waves/plan/")
        assert asked.status_code == 409, asked.content
        assert "planning starts when they are done" in asked.json()["detail"], asked.content
        embed = TaskRun.objects.filter(project=project, kind="embed").order_by("-pk").first()
        assert embed is not None and (embed.detail or {}).get("plan_when_done")
        embed = wait_for_run(embed, [worker], [log], timeout=180)
    finally:
        stop(worker)
    assert embed.state == "done", embed.message
    waves = list(Wave.objects.filter(project=project).order_by("number").values_list("number", "state"))
    planned = [number for number, state in waves if state == Wave.PLANNED]
    # The lead was promised a plan: either wave 2 waits planned, or the run says why none was made.
    assert planned or "plan" in embed.message.lower(), (waves, embed.message)
