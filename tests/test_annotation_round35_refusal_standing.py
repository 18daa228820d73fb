"""An answer refused on its item (already answered, in another tab too; the lease expired and the
slot was taken) comes back as a 409 with ``standing``: the annotator's answer that counts on the
item now, or null. The annotation page shows that one instead of an answer it never stored, and
drops the changes it had queued behind the refused answer (tests/browser/
test_annotate_round35_refused_chain.py)."""
import uuid
from datetime import timedelta

from django.utils import timezone

from labeling.annotations import leasing
from labeling.annotations.models import Assignment

from .test_annotation_helpers import add_member, api_as, make_open_wave


def post_answer(client, slug, **fields):
    return client.post(f"/api/projects/{slug}/annotations/", {"client_id": str(uuid.uuid4()), **fields}, format="json")


def test_an_answer_to_an_item_answered_in_another_tab_says_which_answer_stands(project_factory, make_user):
    project = project_factory("standing")
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 2, batch_size=2)
    assignment = leasing.lease_batch(project, ann).assignments[0]
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    client = api_as(ann)
    first = post_answer(client, "standing", assignment=assignment.pk, label=login.pk)  # the other tab
    assert first.status_code == 201

    refused = post_answer(client, "standing", assignment=assignment.pk, label=billing.pk)
    assert refused.status_code == 409
    body = refused.json()
    assert body["field"] == "assignment" and "already answered" in body["detail"]
    assert body["standing"]["id"] == first.json()["annotation"]["id"]
    assert body["standing"]["label_name"] == "login"
    assert body["standing"]["client_id"] == first.json()["annotation"]["client_id"]

    by_item = post_answer(client, "standing", item=assignment.wave_item.item_id, label=billing.pk)
    assert by_item.status_code == 409 and by_item.json()["standing"]["label_name"] == "login"


def test_an_answer_whose_slot_was_taken_says_nothing_stands(project_factory, make_user):
    project = project_factory("nostanding")
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 1, batch_size=1)
    assignment = leasing.lease_batch(project, ann).assignments[0]
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert leasing.lease_batch(project, add_member(make_user, project, "bob")).assignments

    refused = post_answer(api_as(ann), "nostanding", assignment=assignment.pk, label=project.labels.first().pk)
    assert refused.status_code == 409
    assert "other annotators took" in refused.json()["detail"]
    assert refused.json()["standing"] is None


def test_a_refusal_of_another_kind_carries_no_standing(project_factory, make_user):
    project = project_factory("otherrefusal")
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 1, batch_size=1)
    leasing.lease_batch(project, ann)
    mallory = add_member(make_user, project, "mallory")
    assignment = Assignment.objects.get(annotator=ann)
    refused = post_answer(api_as(mallory), "otherrefusal", assignment=assignment.pk, label=project.labels.first().pk)
    assert refused.status_code == 404 and "standing" not in refused.json()  # another's assignment: nothing told
