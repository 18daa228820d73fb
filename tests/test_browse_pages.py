"""Item browser pages: roles, the same filter set as the API, escaping of user text, bulk actions
with CSRF, and a bulk exclusion that keeps the items out of the next planned wave."""
import pytest
from django.test import Client

from labeling.items.models import Item
from labeling.waves.models import WaveItem

from . import test_loop_helpers as loop_helpers
from .test_annotation_helpers import add_member
from .test_browse_helpers import make_item, planted_project

pytestmark = pytest.mark.django_db
eager_celery = loop_helpers.eager_celery


def client_for(user, *, csrf=False):
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


@pytest.fixture
def planted(world, make_user):
    return planted_project(world["alpha"], {"ann": world["annotator"], "bob": add_member(make_user, world["alpha"], "bob")})


def row_ids(html: str) -> set[int]:
    import re

    return {int(m) for m in re.findall(r'<tr data-item="(\d+)"', html)}


def test_page_roles(world, planted):
    item = planted["disputed"].id
    for path in ("/p/alpha/items/", f"/p/alpha/items/{item}/"):
        assert client_for(world["annotator"]).get(path).status_code == 403
        assert client_for(world["outsider"]).get(path).status_code == 404
        assert client_for(world["lead"]).get(path).status_code == 200
        assert client_for(world["admin"]).get(path).status_code == 200
        assert Client().get(path).status_code == 302  # to the login page
    assert client_for(world["annotator"]).post("/p/alpha/items/bulk/", {"action": "exclude", "item": [item]}).status_code == 403
    assert not Item.objects.get(pk=item).excluded


def test_page_filters_like_the_api(world, planted):
    lead = client_for(world["lead"])
    page = lead.get("/p/alpha/items/", {"q": "withdrawal", "source": "email", "predicted": "fraud", "count": "true"})
    assert row_ids(page.content.decode()) == {planted["fraud_unsure"].id}
    assert "1 item matches" in page.content.decode()
    bad = lead.get("/p/alpha/items/", {"state": "lost"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()
    assert 'href="/p/alpha/items/"' in lead.get("/p/alpha/").content.decode()  # the lead nav links here


def test_bad_cursor_goes_back_to_the_first_page(world, planted):
    response = client_for(world["lead"]).get("/p/alpha/items/", {"cursor": "bogus", "state": "labeled"})
    assert response.status_code == 302 and response["Location"] == "/p/alpha/items/?state=labeled"


def test_pages_escape_user_text(world):
    nasty = make_item(world["alpha"], '<script>alert("x")</script><img src=x onerror=alert(1)>',
                      metadata={"<b>key</b>": "<i>value</i>"})
    lead = client_for(world["lead"])
    for html in (lead.get("/p/alpha/items/").content.decode(), lead.get(f"/p/alpha/items/{nasty.id}/").content.decode()):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html
    item_html = lead.get(f"/p/alpha/items/{nasty.id}/").content.decode()
    assert "<b>key</b>" not in item_html and "&lt;i&gt;value&lt;/i&gt;" in item_html


def test_bulk_post_needs_csrf_and_returns_to_the_filtered_list(world, planted):
    lead = client_for(world["lead"], csrf=True)
    target = [planted["zeppelin"].id, planted["dup_a"].id]
    assert lead.post("/p/alpha/items/bulk/", {"action": "exclude", "item": target}).status_code == 403
    page = lead.get("/p/alpha/items/?source=chat")
    token = page.cookies["csrftoken"].value
    done = lead.post("/p/alpha/items/bulk/", {"action": "exclude", "item": target, "csrfmiddlewaretoken": token,
                                              "next": "/p/alpha/items/?source=chat"})
    assert done.status_code == 302 and done["Location"] == "/p/alpha/items/?source=chat"
    assert set(Item.objects.filter(excluded=True, project=world["alpha"]).values_list("id", flat=True)) == set(
        target) | {planted["excluded"].id}
    elsewhere = lead.post("/p/alpha/items/bulk/", {"action": "pin", "item": target, "csrfmiddlewaretoken": token,
                                                   "next": "https://evil.example/"})
    assert elsewhere["Location"] == "/p/alpha/items/"


def test_item_page_shows_the_story(world, planted):
    html = client_for(world["lead"]).get(f"/p/alpha/items/{planted['disputed'].id}/").content.decode()
    for text in ("charged twice for the same order", "disputed", "billing", "login", "ann", "bob"):
        assert text in html
    wave_html = client_for(world["lead"]).get(f"/p/alpha/items/{planted['login_wave2'].id}/").content.decode()
    assert "uncertainty" in wave_html and "margin 0.05" in wave_html and "0.5000" in wave_html


def test_bulk_exclude_keeps_items_out_of_the_next_plan(db, project_factory, eager_celery, make_user):
    """Through the lead's bulk action, then the real planner: a wave as large as the pool takes
    every eligible item, and none of the excluded ones."""
    from labeling.waves.services import plan_next_wave

    project, _ = loop_helpers.build_project(project_factory, slug="excl", n_items=80, n_labeled=20,
                                            double_label_share=0.0)
    lead = add_member(make_user, project, "lead", role="lead")
    unlabeled = list(Item.objects.filter(project=project, annotations__isnull=True).order_by("id")
                     .values_list("id", flat=True))
    excluded = unlabeled[::3]
    response = client_for(lead).post("/p/excl/items/bulk/", {"action": "exclude", "item": excluded})
    assert response.status_code == 302
    wave = plan_next_wave(project, size=len(unlabeled))
    picked = set(WaveItem.objects.filter(wave=wave).values_list("item_id", flat=True))
    assert picked and not picked & set(excluded)
    assert picked == set(unlabeled) - set(excluded)


def test_pinned_items_open_the_next_wave_once_and_lead_review_requests_are_counted(db, project_factory, eager_celery,
                                                                                    make_user):
    from labeling.annotations.models import ReviewTask
    from labeling.annotations.selectors import review_counts
    from labeling.waves.services import plan_next_wave

    project, _ = loop_helpers.build_project(project_factory, slug="pins", n_items=80, n_labeled=20,
                                            double_label_share=0.0)
    lead = add_member(make_user, project, "lead", role="lead")
    unlabeled = list(Item.objects.filter(project=project, annotations__isnull=True).order_by("id")
                     .values_list("id", flat=True))
    pinned = unlabeled[-3:]
    assert client_for(lead).post("/p/pins/items/bulk/", {"action": "pin", "item": pinned}).status_code == 302
    wave = plan_next_wave(project, size=10)
    picks = {p.item_id: p for p in WaveItem.objects.filter(wave=wave)}
    assert len(picks) == 10 and set(pinned) <= set(picks)
    assert all(picks[i].strategy == "pinned" and picks[i].inclusion_prob is None for i in pinned)
    assert not Item.objects.filter(pk__in=pinned, pinned_for_next_wave=True).exists()  # used once
    client_for(lead).post("/p/pins/items/bulk/", {"action": "review", "item": unlabeled[:2]})
    assert ReviewTask.objects.filter(project=project, reason=ReviewTask.LEAD_REQUEST).count() == 2
    assert review_counts(project)["lead_request"] == 2


def test_pinning_answered_items_says_they_are_not_pinned(db, project_factory, eager_celery, make_user):
    """The planner never asks again about an item with an answer: pinning one used to report it
    as changed and leave a pin that could never be used."""
    from labeling.items.bulk import apply

    project, _ = loop_helpers.build_project(project_factory, slug="pinlab", n_items=30, n_labeled=10,
                                            double_label_share=0.0)
    lead = add_member(make_user, project, "lead", role="lead")
    labeled = list(Item.objects.filter(project=project, annotations__isnull=False).order_by("id")
                   .values_list("id", flat=True).distinct())[:4]
    fresh = list(Item.objects.filter(project=project, annotations__isnull=True).order_by("id")
                 .values_list("id", flat=True))[:2]
    result = apply(project, "pin", labeled + fresh, lead)
    assert (result.items, result.changed, result.answered) == (6, 2, 4)
    assert "2 of 6 items changed; 4 not pinned: an item with an answer is never picked" in result.message
    assert set(Item.objects.filter(project=project, pinned_for_next_wave=True).values_list("id", flat=True)) == set(fresh)
