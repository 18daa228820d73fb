"""The review queue's own keys (j k x a d r) are reserved like the annotation page's: new projects
hand them to no label and a lead cannot give one to a label. Before, a project created with 13
labels gave the 13th the hotkey r (and 20+ labels a, d, j, k, x), which on the review page could
never relabel. A label that already holds one keeps it (its annotators know it); the review page
lists it under r, not as a relabel key."""
import re

import pytest

from labeling.annotations.models import ReviewTask
from labeling.projects import hotkeys
from labeling.projects.models import Label, Project

from .review_helpers import make_items
from .test_concurrency_races import api_as
from .test_label_rules_other import labels_page_post

pytestmark = pytest.mark.django_db

# The review page's keys and what its key list says they do (static/js/review/main.js).
REVIEW_KEYS = {"j": "next task", "k": "previous task", "x": "select for a bulk action",
               "a": "accept the model's label", "d": "dismiss", "r": "choose another label"}


def test_new_projects_never_hand_out_the_review_keys(world, client):
    lead = world["lead"]
    r = api_as(lead).post("/api/projects/", {"slug": "many", "name": "Many", "labels": [f"l{i}" for i in range(1, 41)],
                                             "other_label": True}, format="json")
    assert r.status_code == 201, r.content
    keys = dict(Project.objects.get(slug="many").labels.values_list("name", "hotkey"))
    assert keys["l13"] == "t"  # before: "r"
    assert not {k.lower() for k in keys.values()} & set(REVIEW_KEYS)  # before: r, a, d, j, k, x
    assert keys["Other"] == "0" and len({k for k in keys.values() if k}) == 9 + 20 + 1  # digits, free letters, 0
    client.force_login(lead)
    r = client.post("/projects/new/", {"slug": "paged", "name": "Paged", "labels": "\n".join(f"p{i}" for i in range(1, 14)),
                                       "sources": "web"})
    assert r.status_code == 302, r.content.decode()[:2000]
    assert Label.objects.get(project__slug="paged", name="p13").hotkey == "t"


@pytest.mark.parametrize("key", ["r", "R", "a", "d", "j", "k", "x", "X"])
def test_a_review_key_given_by_hand_is_refused_naming_hotkey(world, key):
    alpha, lead = world["alpha"], world["lead"]
    fraud = alpha.labels.get(name="fraud")
    r = api_as(lead).patch(f"/api/projects/alpha/labels/{fraud.pk}/", {"hotkey": key}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["hotkey"], r.content  # before: 200
    assert f"Hotkey “{key}” is reserved: on the review page it means “{REVIEW_KEYS[key.lower()]}”" in r.json()["hotkey"][0]
    r = api_as(lead).post("/api/projects/alpha/labels/", {"name": "theft", "hotkey": key}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["hotkey"], r.content
    assert Label.objects.get(pk=fraud.pk).hotkey == "3" and not alpha.labels.filter(name="theft").exists()


def test_the_labels_page_refuses_a_review_key(world, client):
    alpha, lead = world["alpha"], world["lead"]
    client.force_login(lead)
    body = client.post("/p/alpha/settings/labels/", labels_page_post(alpha, {"fraud": {"hotkey": "r"}}),
                       follow=True).content.decode()
    assert "Labels saved" not in body and "on the review page it means “choose another label”" in body
    assert alpha.labels.get(name="fraud").hotkey == "3"


def test_a_label_keeps_a_review_key_it_already_holds(world, client):
    alpha, lead = world["alpha"], world["lead"]
    account = Label.objects.create(project=alpha, name="account", hotkey="r", order=9)  # given before the rule
    r = api_as(lead).patch(f"/api/projects/alpha/labels/{account.pk}/", {"description": "Sign-in and profile"},
                           format="json")
    assert r.status_code == 200 and r.json()["hotkey"] == "r", r.content
    r = api_as(lead).put(f"/api/projects/alpha/labels/{account.pk}/", {"name": "account", "hotkey": "r"}, format="json")
    assert r.status_code == 200, r.content
    client.force_login(lead)
    body = client.post("/p/alpha/settings/labels/", labels_page_post(alpha, {"account": {"recall_target": "0.8"}}),
                       follow=True).content.decode()
    assert "Labels saved" in body
    account.refresh_from_db()
    assert account.hotkey == "r" and account.recall_target == 0.8
    # ... but another label cannot take it up once it is given away
    assert api_as(lead).patch(f"/api/projects/alpha/labels/{account.pk}/", {"hotkey": "v"},
                              format="json").status_code == 200
    r = api_as(lead).patch(f"/api/projects/alpha/labels/{account.pk}/", {"hotkey": "r"}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["hotkey"], r.content
    assert hotkeys.hotkey_error("r", stored="r") is None and hotkeys.hotkey_error("r", stored="v")


def test_the_review_pages_keys_are_the_reserved_ones(world, client):
    alpha, lead = world["alpha"], world["lead"]
    Label.objects.create(project=alpha, name="account", hotkey="r", order=9)
    ReviewTask.objects.create(project=alpha, item=make_items(alpha, 1)[0], reason=ReviewTask.DISAGREEMENT)
    client.force_login(lead)
    body = client.get("/p/alpha/review/").content.decode()
    assert set(re.findall(r'data-page-key="(.)"', body)) == set(REVIEW_KEYS) == set(hotkeys.REVIEW_KEYS)
    relabel = dict(re.findall(r'class="relabel-key"><kbd>(.)</kbd> relabel as ([^<]+)</li>', body))
    assert relabel == {"1": "billing", "2": "login", "3": "fraud"}  # account (r) is chosen with r
