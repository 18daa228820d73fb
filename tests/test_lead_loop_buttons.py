"""The wave page's buttons drive the real loop: plan (cold start, opened for annotators), close,
and retrain (one pipeline per project); the API does the same."""
import pytest
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.modeling.models import TaskRun
from labeling.projects.models import Membership
from labeling.waves.models import Wave
from learner.text import text_hash

pytestmark = pytest.mark.django_db



@pytest.fixture
def pool(make_user, project_factory):
    from labeling.modeling.embedding import embed_project

    project = project_factory("alpha")
    project.wave_size = 12
    project.batch_size = 4
    project.save()
    lead = make_user("lena")
    annotator = make_user("ann")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=annotator, project=project, role=Membership.ANNOTATOR)
    sources = list(project.sources.all())
    for i in range(40):
        text = f"{['refund my order', 'cannot sign in', 'card stolen', 'invoice wrong'][i % 4]} number {i} case"
        Item.objects.create(project=project, source=sources[i % 2], text=text, text_hash=text_hash(text))
    embed_project(project)
    return {"project": project, "lead": lead, "annotator": annotator}


def test_plan_close_and_retrain_buttons(client, pool):
    project = pool["project"]
    client.force_login(pool["annotator"])
    assert client.post("/p/alpha/waves/plan/").status_code == 403
    client.force_login(pool["lead"])
    response = client.post("/p/alpha/waves/plan/", follow=True)
    body = response.content.decode()
    wave = Wave.objects.get(project=project)
    assert wave.state == Wave.OPEN and wave.cold_start and 0 < wave.size <= 12
    assert wave.size == wave.picks.count()
    assert f"Wave {wave.number} planned ({wave.size} items) and opened for annotators." in body
    # The page shows the composition table of the open wave.
    assert 'id="composition"' in body and "Wave 1 · open" in body
    assert sum(row["count"] for row in response.context["composition"]) == wave.size

    body = client.post("/p/alpha/waves/close/", {"wave": "1"}, follow=True).content.decode()
    wave.refresh_from_db()
    assert wave.state == Wave.CLOSED and "Wave 1 closed." in body
    body = client.post("/p/alpha/waves/close/", {"wave": "1"}, follow=True).content.decode()
    assert "Wave 1 is already closed; no wave is open or planned now. Nothing was closed" in body

    body = client.post("/p/alpha/models/retrain/", follow=True).content.decode()
    run = TaskRun.objects.get(project=project, kind="retrain")
    # The message tells the run as it is after the request: finished in-process (no broker), or
    # under way with its stage; never "pending" for a run the table shows done.
    run.refresh_from_db()
    if run.state == TaskRun.DONE:
        assert f"Retrain finished (task {run.pk}). Done:" in body and "pending" not in body
    else:
        assert f"Retraining (task {run.pk}, queued)" in body or f"Retraining (task {run.pk}, embedding)" in body
    client.post("/p/alpha/models/retrain/")
    assert TaskRun.objects.filter(project=project, kind="retrain").count() == 1  # one pipeline at a time
    status = client.get("/p/alpha/waves/status.json").json()
    assert status["tasks"][0]["id"] == run.pk and status["tasks"][0]["kind"] == "retrain"


def test_budget_spent_is_reported(client, pool):
    project = pool["project"]
    project.label_budget = 0
    project.save()
    client.force_login(pool["lead"])
    body = client.post("/p/alpha/waves/plan/", follow=True).content.decode()
    assert not Wave.objects.filter(project=project).exists()
    assert 'class="error"' in body and "budget" in body.lower()


def test_wave_buttons_over_the_api(pool):
    api = APIClient()
    api.force_authenticate(pool["lead"])
    planned = api.post("/api/projects/alpha/waves/plan/")
    assert planned.status_code == 201 and planned.json()["state"] == "open"
    number = planned.json()["number"]
    comp = api.get(f"/api/projects/alpha/waves/{number}/composition/").json()
    size = planned.json()["size"]
    assert size > 0 and sum(r["count"] for r in comp["rows"]) == size and comp["planner"]["size"] == size
    # While wave 1 is open a new plan stays planned; here the planner refuses with the real reason:
    # the 40 texts form 4 near-duplicate groups and wave 1 holds one item of each.
    again = api.post("/api/projects/alpha/waves/plan/")
    assert again.status_code == 409, again.json()
    assert "are exact or near duplicates of answered or picked items" in again.json()["detail"]
    assert "No item is left to plan" not in again.json()["detail"]
    closed = api.post(f"/api/projects/alpha/waves/{number}/close/")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert api.post(f"/api/projects/alpha/waves/{number}/close/").status_code == 409
    waiting = Wave.objects.filter(project=pool["project"], state=Wave.PLANNED).first() or Wave.objects.create(
        project=pool["project"], number=number + 1, state=Wave.PLANNED)
    opened = api.post(f"/api/projects/alpha/waves/{waiting.number}/open/")
    assert opened.status_code == 200 and opened.json()["state"] == "open"
    retrain = api.post("/api/projects/alpha/models/retrain/")
    assert retrain.status_code == 202 and retrain.json()["kind"] == "retrain"
    tasks = api.get("/api/projects/alpha/tasks/").json()["results"]
    assert tasks[0]["id"] == retrain.json()["id"]
