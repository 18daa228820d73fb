"""Round 37 fixes through the API, on the real database: a token request with a username PostgreSQL
cannot take (NUL, lone surrogate) is a 400 naming it; a review relabel whose label another lead
renamed is refused with the current labels; a concurrent second "send to review" counts what it
opened; the bulk endpoints refuse unknown fields; an invisible-only skip reason is no reason."""
import threading
import time
import uuid

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation, ReviewTask
from labeling.items import bulk
from labeling.projects.models import Label, Membership

from .db_threads import backends_waiting_on_locks, in_thread
from .review_helpers import make_items
from .test_annotation_helpers import add_member, make_open_wave

pytestmark = pytest.mark.django_db


def api_as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def project(project_factory):
    return project_factory("fx3")


@pytest.fixture
def lead(make_user, project):
    return add_member(make_user, project, "lea", role=Membership.LEAD)


# --- token: username checked before the database sees it ---------------------------------------
@pytest.mark.parametrize(("body", "content_type"), [
    ("username=lena%00&password=x", "application/x-www-form-urlencoded"),
    ('{"username": "lena\\u0000", "password": "x"}', "application/json"),
    ('{"username": "\\ud800", "password": "x"}', "application/json"),
])
def test_token_username_nul_or_surrogate_is_a_400_naming_it(make_user, body, content_type):
    make_user("lena")
    response = APIClient().generic("POST", "/api/auth/token/", body, content_type=content_type)
    assert response.status_code == 400, response.content
    assert "username" in response.json()


def test_token_still_issued_for_a_plain_username(make_user):
    make_user("lena")
    response = APIClient().post("/api/auth/token/", {"username": "lena", "password": "pw-Longtail-123"}, format="json")
    assert response.status_code == 200 and response.json()["token"]


# --- review relabel: the shown name must still be the label's ----------------------------------
@pytest.fixture
def queue(project, lead):
    items = make_items(project, 2)
    tasks = [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LEAD_REQUEST, detail={})
             for item in items]
    return tasks


def relabel(lead, tasks, label, name):
    body = {"action": "relabel", "tasks": [t.pk for t in tasks], "label": label.pk}
    if name is not None:
        body["label_name"] = name
    return api_as(lead).post("/api/projects/fx3/review/bulk/", body, format="json")


def test_relabel_after_another_lead_swapped_names_is_refused_with_the_current_labels(project, lead, queue):
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    # The page showed billing (id billing.pk); another lead then swaps the two names.
    Label.objects.filter(pk=billing.pk).update(name="zz-swap")
    Label.objects.filter(pk=login.pk).update(name="billing")
    Label.objects.filter(pk=billing.pk).update(name="login")
    response = relabel(lead, queue, billing, "billing")
    assert response.status_code == 409, response.content
    data = response.json()
    assert data["field"] == "label_name"
    assert "“billing”" in data["detail"] and "now named “login”" in data["detail"] and "nothing was stored" in data["detail"]
    assert {label["id"]: label["name"] for label in data["labels"]}[billing.pk] == "login"
    assert data["labels_version"]
    assert not Annotation.objects.exists()
    assert ReviewTask.objects.filter(resolved_at__isnull=True).count() == 2


def test_relabel_with_the_name_or_full_name_shown_is_stored(project, lead, queue):
    billing = project.labels.get(name="billing")
    fraud = project.labels.get(name="fraud")
    Label.objects.filter(pk=fraud.pk).update(parent=billing)
    done = relabel(lead, queue[:1], billing, "billing")
    assert done.status_code == 200 and done.json()["done"] == [queue[0].pk]
    # The page's list shows a fine label as "Coarse › Fine".
    fine = relabel(lead, queue[1:], fraud, "billing › fraud")
    assert fine.status_code == 200 and fine.json()["done"] == [queue[1].pk]
    assert sorted(Annotation.objects.values_list("label__name", flat=True)) == ["billing", "fraud"]


def test_relabel_without_label_name_still_goes_by_id_and_name_is_relabel_only(project, lead, queue):
    login = project.labels.get(name="login")
    assert relabel(lead, queue[:1], login, None).status_code == 200
    refused = api_as(lead).post("/api/projects/fx3/review/bulk/", {
        "action": "dismiss", "tasks": [queue[1].pk], "shown": [{"task": queue[1].pk, "label": None}],
        "label_name": "login"}, format="json")
    assert refused.status_code == 400 and refused.json()["field"] == "label_name"


# --- unknown fields on the bulk endpoints ---------------------------------------------------------
def test_review_bulk_refuses_an_unknown_field(project, lead, queue):
    response = api_as(lead).post("/api/projects/fx3/review/bulk/", {
        "action": "dismiss", "tasks": [queue[0].pk], "shown": [{"task": queue[0].pk, "label": None}], "bogus": 1},
        format="json")
    assert response.status_code == 400 and "bogus" in response.json()
    assert ReviewTask.objects.filter(resolved_at__isnull=True).count() == 2


def test_items_bulk_refuses_an_unknown_field(project, lead):
    item = make_items(project, 1)[0]
    response = api_as(lead).post("/api/projects/fx3/items/bulk/", {"action": "exclude", "items": [item.pk],
                                                                   "bogus": 1}, format="json")
    assert response.status_code == 400 and "bogus" in response.json()
    item.refresh_from_db()
    assert item.excluded is False


# --- send to review twice at once -----------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_send_to_review_twice_at_once_counts_only_what_each_opened(project, lead, postgres_only):
    ids = [item.pk for item in make_items(project, 5)]
    first_done, release = threading.Event(), threading.Event()

    def first():
        with transaction.atomic():
            result = bulk.apply(project, "review", ids, lead)
            first_done.set()
            release.wait(10)  # holds its tasks uncommitted while the second request comes
        return result

    thread_a, outcome_a = in_thread(first)
    assert first_done.wait(10)
    thread_b, outcome_b = in_thread(bulk.apply, project, "review", ids, lead)
    deadline = time.monotonic() + 10
    while backends_waiting_on_locks() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    release.set()
    thread_a.join(10)
    thread_b.join(10)
    assert "error" not in outcome_a and "error" not in outcome_b, (outcome_a, outcome_b)
    assert outcome_a["result"].changed == 5
    assert outcome_b["result"].changed == 0, outcome_b["result"].message
    assert outcome_b["result"].message == "Send to review: 0 of 5 items changed (5 already were)."
    assert ReviewTask.objects.filter(reason=ReviewTask.LEAD_REQUEST, resolved_at__isnull=True).count() == 5
    connection.close()


# --- skip reason --------------------------------------------------------------------------------
@pytest.mark.parametrize("reason", ["\u200b\u200b", " \u200b\ufeff ", "\u2060"])
def test_an_invisible_only_skip_reason_is_refused(project, make_user, reason):
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 2)
    client = api_as(ann)
    assignment = client.post("/api/projects/fx3/batches/", {}, format="json").json()["items"][0]["assignment"]
    response = client.post("/api/projects/fx3/annotations/", {
        "client_id": str(uuid.uuid4()), "assignment": assignment, "skipped": True, "skip_reason": reason},
        format="json")
    assert response.status_code == 400, response.content
    assert "skip_reason" in response.json()
    assert not Annotation.objects.exists()
    visible = client.post("/api/projects/fx3/annotations/", {
        "client_id": str(uuid.uuid4()), "assignment": assignment, "skipped": True,
        "skip_reason": "\u200bunclear"}, format="json")
    assert visible.status_code == 201, visible.content


def test_a_blank_label_name_on_a_relabel_is_a_400(project, lead, queue):
    """An empty label_name names no label: it was taken for a rename ("“” is now named …", 409)."""
    response = relabel(lead, queue[:1], project.labels.first(), "")
    assert response.status_code == 400 and "label_name" in response.json(), response.content
    assert not ReviewTask.objects.filter(pk=queue[0].pk, resolved_at__isnull=False).exists()
