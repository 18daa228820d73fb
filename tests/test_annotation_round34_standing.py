"""A change or clear refused because the answer it names no longer stands (another tab or page of
the same annotator changed or cleared it first) carries the annotator's answer that counts on the
item now, so the page can show it and name it in its next change."""
import uuid

from labeling.annotations import leasing

from .test_annotation_helpers import add_member, answer, api_as, make_open_wave


def change_url(project):
    return f"/api/projects/{project.slug}/annotations/change/"


def test_a_refused_change_carries_the_answer_that_stands(project_factory, make_user):
    project = project_factory("standing", labels=("billing", "login", "spam"))
    make_open_wave(project, 2)
    ann = add_member(make_user, project, "ann")
    billing, login, spam = (project.labels.get(name=n) for n in ("billing", "login", "spam"))
    leased = leasing.lease_batch(project, ann)
    first = answer(project, ann, leased.assignments[0], billing).annotation
    client = api_as(ann)
    changed = client.post(change_url(project), {"client_id": str(uuid.uuid4()), "supersedes": first.pk,
                                                "label": login.pk}, format="json")
    assert changed.status_code == 201

    refused = client.post(change_url(project), {"client_id": str(uuid.uuid4()), "supersedes": first.pk,
                                                "label": spam.pk}, format="json")
    assert refused.status_code == 409
    assert refused.data["field"] == "supersedes"
    standing = refused.data["standing"]
    assert standing["id"] == changed.data["annotation"]["id"]
    assert standing["label_name"] == "login"
    assert standing["item"] == first.item_id

    cleared = client.post(change_url(project), {"client_id": str(uuid.uuid4()), "supersedes": standing["id"],
                                                "clear": True}, format="json")
    assert cleared.status_code == 201
    nothing = client.post(change_url(project), {"client_id": str(uuid.uuid4()), "supersedes": first.pk,
                                                "label": spam.pk}, format="json")
    assert nothing.status_code == 409
    assert nothing.data["standing"] is None  # nothing of ann's counts on the item now


def test_other_refusals_carry_no_standing_answer(project_factory, make_user):
    project = project_factory("nostanding", labels=("billing",))
    ann = add_member(make_user, project, "ann")
    refused = api_as(ann).post(change_url(project), {"client_id": str(uuid.uuid4()), "supersedes": 999999,
                                                     "label": project.labels.get().pk}, format="json")
    assert refused.status_code == 404
    assert "standing" not in refused.data
