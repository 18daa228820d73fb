"""An undo naming someone else's answer (or one of another project) answers 404 naming client_id,
as change/ answers it: it used to answer 409 "not stored yet … undo again once it is saved", which
a client following that advice retries forever. An answer stored nowhere yet still answers 409."""
import uuid

import pytest

from labeling.annotations import leasing
from labeling.annotations.models import Annotation
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, make_open_wave
from .test_lease_close_undo import api_for, post_answer

pytestmark = pytest.mark.django_db


def test_undo_of_another_users_answer_is_404_naming_client_id(project_factory, make_user):
    project = project_factory("undoother")
    other_project = project_factory("undoelse")
    ann = add_member(make_user, project, "ann")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    Membership.objects.create(user=lead, project=other_project, role=Membership.ANNOTATOR)
    make_open_wave(project, 2, batch_size=2)
    make_open_wave(other_project, 2, batch_size=2)
    batch = leasing.lease_batch(project, ann)
    theirs = uuid.uuid4()
    assert post_answer(api_for(ann), "undoother", batch.assignments[0].pk, project.labels.first(),
                       theirs).status_code == 201
    lead_api = api_for(lead)

    undo = lead_api.post("/api/projects/undoother/annotations/undo/", {"client_id": str(theirs)}, format="json")
    change = lead_api.post("/api/projects/undoother/annotations/change/",
                           {"client_id": str(uuid.uuid4()), "supersedes_client_id": str(theirs),
                            "label": project.labels.last().pk}, format="json")
    assert (undo.status_code, change.status_code) == (404, 404)
    assert undo.json()["field"] == "client_id"
    assert undo.json()["detail"] == (f"Answer {theirs} is not one of your answers in project 'undoother', "
                                     "so nothing was undone.")
    assert not Annotation.objects.get(client_id=theirs).undone

    # the lead's own answer, but in another project: not one of theirs in this one either
    mine = uuid.uuid4()
    elsewhere = leasing.lease_batch(other_project, lead)
    assert post_answer(lead_api, "undoelse", elsewhere.assignments[0].pk, other_project.labels.first(),
                       mine).status_code == 201
    undo = lead_api.post("/api/projects/undoother/annotations/undo/", {"client_id": str(mine)}, format="json")
    assert undo.status_code == 404 and "not one of your answers in project 'undoother'" in undo.json()["detail"]
    assert not Annotation.objects.get(client_id=mine).undone

    # an answer stored nowhere may still be on the way: 409, as before
    in_flight = lead_api.post("/api/projects/undoother/annotations/undo/", {"client_id": str(uuid.uuid4())},
                              format="json")
    assert in_flight.status_code == 409 and "not stored yet" in in_flight.json()["detail"]
    assert in_flight.json()["field"] == "client_id"
