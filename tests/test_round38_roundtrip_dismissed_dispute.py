"""A disagreement the lead dismisses leaves the export saying the item is not disputed.

The README defines the export's `disputed`: "annotators disagree and no lead has adjudicated yet:
the label is the majority's, ties to the newest answer". docs/loop.md: `d` dismisses, "stores
nothing". So after a lead dismisses a disagreement between two annotators (one says login, the
other fraud), nobody has adjudicated and the annotators still disagree; the row's label is the tie
broken by whichever answer came last. The export computes `disputed` from an *open* disagreement
task (labeling/export/services.py ``_chunk_extras``), so the row reads `disputed: false` with
`label_source: annotator`: a consumer who keeps the undisputed rows as clean training data keeps a
coin-flip label that no one decided. Seen in a live project: item 284, votes Other / charge,
`disputed` true before the dismissal and false after it, no answer stored in between.

Real annotation API (two annotators on a double-labeled item), real review bulk API, real export API."""
import json
import uuid

import pytest

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, ReviewTask
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db


def _answer(user, assignment, label):
    r = api_as(user).post("/api/projects/dis/annotations/",
                          {"client_id": str(uuid.uuid4()), "assignment": assignment.pk, "label": label.pk},
                          format="json")
    assert r.status_code == 201, r.content


def _row(client, item):
    r = client.get("/api/projects/dis/export/jsonl/")
    assert r.status_code == 200
    rows = [json.loads(line) for line in b"".join(r.streaming_content).decode().splitlines()]
    return next(row for row in rows if row["item_id"] == item.pk)


def test_a_dismissed_disagreement_is_still_disputed_in_the_export(project_factory, make_user):
    project = project_factory("dis", labels=("billing", "login", "fraud"))
    project.overlap = 2
    project.save()
    _wave, items = make_open_wave(project, 1, double={0})
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    labels = {label.name: label for label in project.labels.all()}
    _answer(ann, leasing.lease_batch(project, ann, size=1).assignments[0], labels["login"])
    _answer(bob, leasing.lease_batch(project, bob, size=1).assignments[0], labels["fraud"])
    task = ReviewTask.objects.get(item=items[0], reason=ReviewTask.DISAGREEMENT, resolved_at__isnull=True)
    lead_client = api_as(lead)
    before = _row(lead_client, items[0])
    assert before["disputed"] is True and before["agreement"] == 0.5

    r = lead_client.post("/api/projects/dis/review/bulk/",
                         {"action": "dismiss", "tasks": [task.pk], "shown": [{"task": task.pk, "label": None,
                                                                             "model_version": None}]},
                         format="json")
    assert r.status_code == 200 and r.json()["done"] == [task.pk], r.content
    # The dismissal stored no answer: no lead has adjudicated, the two annotators still disagree.
    assert not Annotation.objects.filter(item=items[0], origin=Annotation.ADJUDICATION).exists()
    assert sorted(Annotation.objects.filter(item=items[0], undone=False).values_list("label__name", flat=True)) == [
        "fraud", "login"]

    after = _row(lead_client, items[0])
    assert after["label_source"] == "annotator" and after["agreement"] == 0.5
    assert after["disputed"] is True, (
        f"after the dismissal the row says disputed={after['disputed']} for votes "
        f"{[(v['annotator'], v['label']) for v in after['votes']]} and label {after['label']!r}")
