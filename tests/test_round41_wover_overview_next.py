"""The overview's one instruction while no wave is open says what can happen next: import first (no
items), import more (no unlabeled item left in the pool), wait (a lead's plan waits for the new items'
embedding), or plan a wave. A fresh lead used to be told "plan one on the waves page" in every case, and
planning then refused."""
import re

import pytest
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.modeling.models import TaskRun
from labeling.projects.models import Membership
from learner.text import text_hash

from .test_loop_helpers import build_project

PLAN_HINT = "plan one on the waves page"


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    body = re.sub(r"(?s)<script.*?</script>", " ", response.content.decode())
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def _lead(project, make_user, client, name="lea"):
    lead = make_user(name)
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    return lead


@pytest.mark.django_db
def test_a_fresh_project_sends_the_lead_to_the_import_and_the_annotator_to_wait(project_factory, make_user, client):
    project = project_factory("fresh")
    _lead(project, make_user, client)
    response = client.get(f"/p/{project.slug}/")
    page = _text(response)
    assert PLAN_HINT not in page
    assert "No items yet: import some on the import page first" in page
    assert f'href="/p/{project.slug}/import/">import page' in response.content.decode()
    ann = make_user("ann")
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    client.force_login(ann)
    page = _text(client.get(f"/p/{project.slug}/"))
    assert "No items yet: a lead imports them" in page and "import page" not in page


@pytest.mark.django_db
def test_an_empty_pool_asks_for_more_items_as_planning_does(project_factory, make_user, client):
    project, _ = build_project(project_factory, slug="allanswered", n_items=12, n_labeled=12, wave_size=5,
                               batch_size=5)
    lead = _lead(project, make_user, client)
    page = _text(client.get(f"/p/{project.slug}/"))
    assert "0 unlabeled in the pool" in page
    assert PLAN_HINT not in page, page[page.index("No wave"):][:160]
    assert "no unlabeled item is left in the pool to plan one from: import more items on the import page" in page
    api = APIClient()
    api.force_authenticate(lead)
    refused = api.post(f"/api/projects/{project.slug}/waves/plan/")
    assert refused.status_code >= 400 and "import" in refused.content.decode().lower(), refused.content


@pytest.mark.django_db
def test_a_plan_waiting_for_embeddings_is_said_on_the_overview(project_factory, make_user, client, settings):
    settings.LONGTAIL_EMBED_AFTER_IMPORT = True
    settings.LONGTAIL_PLAN_EMBED_INLINE_MAX = 0  # any item without a vector is embedded by the workers
    project, _ = build_project(project_factory, slug="embedwait", n_items=12, n_labeled=0, wave_size=5,
                               batch_size=5)
    source = project.sources.first()
    texts = [f"new ticket about a refund number {i}" for i in range(3)]
    Item.objects.bulk_create([Item(project=project, source=source, text=t, text_hash=text_hash(t)) for t in texts])
    lead = _lead(project, make_user, client)
    page = _text(client.get(f"/p/{project.slug}/"))
    assert PLAN_HINT in page  # items in the pool, nothing pending: a lead plans
    api = APIClient()
    api.force_authenticate(lead)
    asked = api.post(f"/api/projects/{project.slug}/waves/plan/")
    assert asked.status_code == 409 and "planning starts when they are done" in asked.json()["detail"]
    run = TaskRun.objects.get(project=project, kind="embed")
    TaskRun.objects.filter(pk=run.pk).update(progress=0.4)
    page = _text(client.get(f"/p/{project.slug}/"))
    assert PLAN_HINT not in page, page[page.index("No wave"):][:160]
    assert "A planned wave waits for the new items to be embedded (40% done)" in page
    TaskRun.objects.filter(pk=run.pk).update(state=TaskRun.DONE, progress=1.0)
    assert PLAN_HINT in _text(client.get(f"/p/{project.slug}/"))
