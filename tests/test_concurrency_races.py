"""Races between a lead's configuration writes and annotators' answers, and between an answer's
change and its undo, on real PostgreSQL connections (one per thread). Each race is made
deterministic: one side is held inside its transaction, right after the statement that matters (a
statement hook on its own connection), until the other side is waiting on a row lock or done.

* a label deleted while an answer with it is being stored, either way round: never a 500 or a
  foreign-key error, never a partial write; the loser hears why (400 naming the label);
* two leads removing each other at once: the project keeps a lead;
* an undo racing a change of the same answer: the undo is refused (409) instead of claiming to
  have undone an answer that the change replaced meanwhile."""
import threading
import time
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, Assignment
from labeling.projects.models import Label, Membership
from labeling.waves.models import WaveItem

from .db_threads import backends_waiting_on_locks, in_thread
from .test_annotation_helpers import add_member, make_open_wave

pytestmark = pytest.mark.django_db(transaction=True)


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


class Hold:
    """A statement hook: the first statement starting with ``prefix`` runs, then its connection
    waits (inside its transaction) until ``release()``."""

    def __init__(self, prefix: str):
        self.prefix, self.paused, self.go = prefix, threading.Event(), threading.Event()

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith(self.prefix) and not self.paused.is_set():
            self.paused.set()
            self.go.wait(15)
        return result

    def release(self):
        self.go.set()


def held(hold: Hold, call):
    """call() on this thread's connection with the hook installed."""
    def run():
        with connection.execute_wrapper(hold):
            return call()
    return run


def wait_blocked_or_done(thread, timeout=10.0) -> bool:
    """True once the other side waits on a row lock; False when it finished without waiting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if backends_waiting_on_locks() >= 1:
            return True
        if not thread.is_alive():
            return False
        time.sleep(0.02)
    raise AssertionError("the second request neither waited on a lock nor finished")


def race(first: Hold, first_call, second_call):
    """Run first_call until its hook holds it, then second_call; release the first once the second
    waits on a lock (or is done). Returns both (status, body) or service outcomes."""
    one, first_out = in_thread(held(first, first_call))
    assert first.paused.wait(10), f"the first request never ran {first.prefix!r}"
    two, second_out = in_thread(second_call)
    waited = wait_blocked_or_done(two)
    first.release()
    one.join(timeout=20)
    two.join(timeout=20)
    assert not one.is_alive() and not two.is_alive()
    return first_out, second_out, waited


def response(outcome):
    """(status, json) of an API call made in a thread; an exception in the view is a failure."""
    assert "error" not in outcome, repr(outcome.get("error"))
    r = outcome["result"]
    return r.status_code, (r.json() if r.content else None)


# --- 1. deleting a label while someone answers with it ----------------------------------------------
@pytest.fixture
def label_race(postgres_only, project_factory, make_user):
    project = project_factory("race-label")
    lead = add_member(make_user, project, "lena", Membership.LEAD)
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 2, shuffle=False)
    lease = leasing.lease_batch(project, ann, size=1).assignments[0]
    temp = Label.objects.create(project=project, name="TMP1", hotkey="t", order=50)
    return project, lead, ann, lease, temp


def answer_call(project, ann, lease, label):
    return lambda: api_as(ann).post(f"/api/projects/{project.slug}/annotations/",
                                    {"client_id": str(uuid.uuid4()), "assignment": lease.pk, "label": label.pk},
                                    format="json")


def delete_call(project, lead, label):
    return lambda: api_as(lead).delete(f"/api/projects/{project.slug}/labels/{label.pk}/")


@pytest.mark.parametrize("first", ["answer", "delete"])
def test_deleting_a_label_while_it_is_answered_with(label_race, first):
    project, lead, ann, lease, temp = label_race
    answering, deleting = answer_call(project, ann, lease, temp), delete_call(project, lead, temp)
    if first == "answer":
        # The answer is written but not committed when the delete comes: the delete waits for it,
        # then finds the label in use.
        answered, deleted, _ = race(Hold('INSERT INTO "annotations_annotation"'), answering, deleting)
    else:
        # The label is deleted but not committed when the answer comes: the answer waits, then
        # finds the label gone.
        deleted, answered, _ = race(Hold('DELETE FROM "projects_label"'), deleting, answering)
    (a_status, a_body), (d_status, d_body) = response(answered), response(deleted)
    stored = Annotation.objects.filter(assignment=lease).count()
    pick = WaveItem.objects.get(pk=lease.wave_item_id)
    lease.refresh_from_db()
    if first == "answer":
        assert a_status == 201, a_body
        assert d_status == 400, d_body
        assert "“TMP1” is in use by 1 answer" in str(d_body)
        assert Label.objects.filter(pk=temp.pk).exists() and stored == 1
        assert lease.state == Assignment.DONE and (pick.slots_taken, pick.slots_done) == (1, 1)
    else:
        assert d_status == 204, d_body
        assert a_status == 400, a_body
        assert a_body["field"] == "label" and "no longer exists" in a_body["detail"]
        # nothing of the answer was written: no row, the lease still open, the counts as they were
        assert not Label.objects.filter(pk=temp.pk).exists() and stored == 0
        assert lease.state == Assignment.LEASED and (pick.slots_taken, pick.slots_done) == (1, 0)


# --- 2. two leads removing each other at once --------------------------------------------------------
def test_two_leads_removing_each_other_keep_a_lead(postgres_only, project_factory, make_user):
    project = project_factory("race-leads")
    lena = add_member(make_user, project, "lena", Membership.LEAD)
    leo = add_member(make_user, project, "leo", Membership.LEAD)
    m_lena, m_leo = (Membership.objects.get(project=project, user=u) for u in (lena, leo))

    def remove(by, membership):
        return lambda: api_as(by).delete(f"/api/projects/{project.slug}/members/{membership.pk}/")

    first, second, _ = race(Hold('DELETE FROM "projects_membership"'), remove(lena, m_leo), remove(leo, m_lena))
    (s1, b1), (s2, b2) = response(first), response(second)
    assert s1 == 204, b1
    assert s2 == 400, b2
    assert "keeps at least one lead" in str(b2)
    assert list(Membership.objects.filter(project=project, role=Membership.LEAD).values_list("user__username",
                                                                                           flat=True)) == ["lena"]


# --- 3. an undo racing a change of the same answer ----------------------------------------------------
@pytest.mark.parametrize("named", [True, False], ids=["undo-by-client-id", "undo-last"])
def test_undo_racing_a_change_of_the_same_answer(postgres_only, project_factory, make_user, named):
    project = project_factory("race-undo")
    ann = add_member(make_user, project, "ann")
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    make_open_wave(project, 2, shuffle=False)
    leases = leasing.lease_batch(project, ann, size=2).assignments
    api = api_as(ann)
    ids = [uuid.uuid4(), uuid.uuid4()]
    for lease, client_id in zip(leases, ids, strict=True):
        r = api.post(f"/api/projects/{project.slug}/annotations/",
                     {"client_id": str(client_id), "assignment": lease.pk, "label": billing.pk}, format="json")
        assert r.status_code == 201, r.content
    latest = ids[1]  # the answer both requests are about

    def change():
        return api_as(ann).post(f"/api/projects/{project.slug}/annotations/change/",
                                {"client_id": str(uuid.uuid4()), "supersedes_client_id": str(latest),
                                 "label": login.pk}, format="json")

    def undo():
        return api_as(ann).post(f"/api/projects/{project.slug}/annotations/undo/",
                                {"client_id": str(latest)} if named else {}, format="json")

    changed, undone, waited = race(Hold('INSERT INTO "annotations_annotation"'), change, undo)
    (c_status, c_body), (u_status, u_body) = response(changed), response(undone)
    assert waited  # the undo waited for the change's locks
    assert c_status == 201, c_body
    assert u_status == 409, u_body
    assert "changed" in u_body["detail"] and str(c_body["annotation"]["id"]) in u_body["detail"]
    # The change stands, and the undo took back nothing else (not the earlier answer either).
    live = list(Annotation.objects.filter(project=project, undone=False).order_by("pk"))
    assert [(a.client_id, a.label_id) for a in live[:1]] == [(ids[0], billing.pk)] and len(live) == 2
    assert live[1].pk == c_body["annotation"]["id"] and live[1].label_id == login.pk
    assert live[1].supersedes.client_id == latest
    assert Assignment.objects.filter(annotator=ann, state=Assignment.DONE).count() == 2


# --- 4. a lead's bulk relabel to a label being deleted ----------------------------------------------
def test_bulk_relabel_to_a_label_deleted_meanwhile(label_race):
    from labeling.annotations.models import ReviewTask

    project, lead, ann, lease, temp = label_race
    task = ReviewTask.objects.create(project=project, item_id=WaveItem.objects.get(pk=lease.wave_item_id).item_id,
                                     reason=ReviewTask.LEAD_REQUEST)
    relabel = lambda: api_as(lead).post(f"/api/projects/{project.slug}/review/bulk/",  # noqa: E731
                                        {"action": "relabel", "tasks": [task.pk], "label": temp.pk}, format="json")
    deleted, relabeled, waited = race(Hold('DELETE FROM "projects_label"'), delete_call(project, lead, temp), relabel)
    (d_status, d_body), (r_status, r_body) = response(deleted), response(relabeled)
    assert waited and d_status == 204, d_body
    assert r_status == 200 and r_body["done"] == [], r_body  # it was a 500: the foreign key failed at commit
    assert "was deleted meanwhile" in r_body["skipped"][0]["reason"]
    assert not Annotation.objects.filter(project=project, origin=Annotation.ADJUDICATION).exists()
    task.refresh_from_db()
    assert task.resolved_at is None
