"""The same change sent twice at once: on a bad network the page's outbox sends a change again
(same client id) after its first send failed on the way back, while the server may still be
working on the first (the client's connection dropped; Django goes on). submit_answer answers such
a duplicate with the stored answer (its docstring: "The same answer sent twice at once ends
here too"), and a clear replays (history._replayed_clear); a change does not: the duplicate looked
up its client id before the first committed, then waited for the answer's lock, found it changed,
and is refused 409 "Answer N was already changed (answer M replaced it)" - by the change it
duplicates. The page then says "Not saved (change on item …)" and counts an answer not saved,
for a change that was stored (labeling/annotations/history.py change_answer: the client id is
looked up only before the lock, AnswerReplaced is never checked against it)."""
import uuid

import pytest
from rest_framework.test import APIClient

from labeling.annotations import leasing
from labeling.annotations.models import Annotation

from .test_annotation_helpers import add_member, make_open_wave
from .test_concurrency_races import Hold, race, response

pytestmark = pytest.mark.django_db(transaction=True)


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_a_change_sent_twice_at_once_is_stored_once_and_both_sends_hear_so(postgres_only, project_factory,
                                                                           make_user):
    project = project_factory("twicechange")
    ann = add_member(make_user, project, "ann")
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    make_open_wave(project, 1, shuffle=False)
    lease = leasing.lease_batch(project, ann, size=1).assignments[0]
    first = uuid.uuid4()
    r = api_as(ann).post(f"/api/projects/{project.slug}/annotations/",
                         {"client_id": str(first), "assignment": lease.pk, "label": billing.pk}, format="json")
    assert r.status_code == 201, r.content
    change_id = str(uuid.uuid4())  # one change, its retry sent with the same id and payload

    def send_change():
        return api_as(ann).post(f"/api/projects/{project.slug}/annotations/change/",
                                {"client_id": change_id, "supersedes_client_id": str(first), "label": login.pk,
                                 "label_name": "login"}, format="json")

    # The first send is held right after it stored the new answer (inside its transaction); the
    # retry comes meanwhile and waits for the answer's lock.
    one, two, waited = race(Hold('INSERT INTO "annotations_annotation"'), send_change, send_change)
    assert waited  # the retry waited for the first send's lock
    (s1, b1), (s2, b2) = response(one), response(two)
    assert s1 == 201, b1
    # The retry of a stored change is that change: no refusal, the same answer.
    assert s2 in (200, 201), b2
    assert b2["annotation"]["id"] == b1["annotation"]["id"]
    live = Annotation.objects.filter(project=project, undone=False)
    assert [(a.label_id, str(a.client_id)) for a in live] == [(login.pk, change_id)]
    assert Annotation.objects.filter(project=project).count() == 2
