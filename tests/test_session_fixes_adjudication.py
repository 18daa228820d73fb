"""A lead's adjudication is the item's decision while it stands: an annotator who changes their
answer afterwards opens no new disagreement task, a disagreement task left open beside a standing
adjudication is closed when the item's answers are looked at again, and the export never calls
an adjudicated item disputed (README: "annotators disagree and no lead has adjudicated yet")."""
import json
import uuid

import pytest

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, ReviewTask
from labeling.export.services import stream_export
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, answer, api_as, make_open_wave


@pytest.fixture
def project(project_factory):
    p = project_factory("adj", labels=("billing", "login", "fraud"))
    p.overlap = 2
    p.batch_size = 5
    p.save()
    return p


def export_row(project, item_id) -> dict:
    rows = [json.loads(line) for line in "".join(stream_export(project, "jsonl")).splitlines()]
    return next(row for row in rows if row["item_id"] == item_id)


def open_disagreements(item_id):
    return ReviewTask.objects.filter(item_id=item_id, reason=ReviewTask.DISAGREEMENT, resolved_at__isnull=True)


@pytest.fixture
def disputed(project, make_user):
    """Two annotators disagree on a double-labeled item (two more items keep its wave open)."""
    make_open_wave(project, 3, double={0, 1, 2})
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    lab = {label.name: label for label in project.labels.all()}
    first = leasing.lease_batch(project, ann).assignments[0]
    anns = answer(project, ann, first, lab["billing"]).annotation
    bobs = next(a for a in leasing.lease_batch(project, bob).assignments if a.wave_item_id == first.wave_item_id)
    task = answer(project, bob, bobs, lab["login"]).review_task
    assert task is not None and task.reason == ReviewTask.DISAGREEMENT
    return {"lead": lead, "ann": ann, "item": anns.item_id, "answer": anns, "task": task, "labels": lab}


def test_changing_an_answer_after_adjudication_reopens_no_disagreement(project, disputed):
    lab, item = disputed["labels"], disputed["item"]
    resolved = api_as(disputed["lead"]).post("/api/projects/adj/review/",
                                            {"task": disputed["task"].pk, "label": lab["fraud"].pk}, format="json")
    assert resolved.status_code == 200, resolved.content
    assert not open_disagreements(item).exists()

    changed = api_as(disputed["ann"]).post("/api/projects/adj/annotations/change/", {
        "client_id": str(uuid.uuid4()), "supersedes": disputed["answer"].pk, "label": lab["fraud"].pk}, format="json")
    assert changed.status_code == 201, changed.content
    again = api_as(disputed["ann"]).post("/api/projects/adj/annotations/change/", {
        "client_id": str(uuid.uuid4()), "supersedes": changed.json()["annotation"]["id"],
        "label": lab["billing"].pk}, format="json")
    assert again.status_code == 201, again.content  # billing vs login again: they disagree, the lead decided
    assert not open_disagreements(item).exists()

    row = export_row(project, item)
    assert (row["label"], row["label_source"], row["disputed"]) == ("fraud", "adjudication", False)
    assert sorted(v["label"] for v in row["votes"]) == ["billing", "fraud", "login"]


def test_a_disagreement_left_open_beside_an_adjudication_is_closed_and_not_disputed(project, disputed):
    lab, item = disputed["labels"], disputed["item"]
    # As an older release left it: the lead's adjudication stands and a disagreement task is open beside it.
    Annotation.objects.create(project=project, item_id=item, annotator=disputed["lead"], label=lab["fraud"],
                              origin=Annotation.ADJUDICATION)
    assert open_disagreements(item).exists()
    row = export_row(project, item)
    assert (row["label_source"], row["disputed"]) == ("adjudication", False)

    changed = api_as(disputed["ann"]).post("/api/projects/adj/annotations/change/", {
        "client_id": str(uuid.uuid4()), "supersedes": disputed["answer"].pk, "label": lab["fraud"].pk}, format="json")
    assert changed.status_code == 201, changed.content
    task = ReviewTask.objects.get(pk=disputed["task"].pk)
    assert task.resolved_at is not None and task.resolved_label == lab["fraud"] and task.resolved_by == disputed["lead"]
    assert not open_disagreements(item).exists()


def test_without_adjudication_the_disagreement_stays_disputed(project, disputed):
    row = export_row(project, disputed["item"])
    assert (row["label_source"], row["disputed"]) == ("annotator", True)
    assert open_disagreements(disputed["item"]).count() == 1
