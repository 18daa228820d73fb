""""Undone" means one thing everywhere: cleared (taken back, with no newer answer replacing it). A
change from the history also stores the old answer undone, but it was replaced, not taken back: its
row reads "undone": false, "superseded": true. The answers list's ``undone`` filter and the dashboard
throughput's ``undone`` count follow the row; throughput counts changes as ``changed``. And the
throughput's ``last_24h`` counts what ``answers`` counts (no skips), with skips beside it. Answers go
through the real answer, change, clear, undo and review services."""
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.annotations import history, leasing, services
from labeling.annotations.models import Annotation, ReviewTask
from labeling.annotations.review_services import resolve_review
from labeling.annotations.selectors import annotator_throughput
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, answer, api_as, make_open_wave

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(project_factory, make_user):
    """ann, on six items of an open wave: item 0 answered then changed from the history, item 1
    answered then cleared from the history, item 2 answered then undone (the undo of the last
    answer), item 3 skipped, item 4 answered two days ago, item 5 answered; the lead adjudicated
    item 5."""
    project = project_factory("und36", labels=("billing", "login", "fraud"))
    project.batch_size = 6
    project.save()
    ann = add_member(make_user, project, "ann")
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    _, items = make_open_wave(project, 6, batch_size=6, shuffle=False)
    labels = {label.name: label for label in project.labels.all()}
    held = {a.wave_item.item_id: a for a in leasing.lease_batch(project, ann, size=6).assignments}
    rows = {}
    rows["changed"] = answer(project, ann, held[items[0].pk], labels["billing"]).annotation
    rows["change"] = history.change_answer(project, ann, client_id=uuid.uuid4(), supersedes=rows["changed"].pk,
                                           label_id=labels["fraud"].pk).annotation
    rows["cleared"] = answer(project, ann, held[items[1].pk], labels["login"]).annotation
    history.change_answer(project, ann, client_id=uuid.uuid4(), supersedes=rows["cleared"].pk, clear=True)
    rows["undone"] = answer(project, ann, held[items[2].pk], labels["billing"]).annotation
    services.undo_last_answer(project, ann)
    rows["skip"] = answer(project, ann, held[items[3].pk], None, skipped=True, skip_reason="unclear").annotation
    rows["old"] = answer(project, ann, held[items[4].pk], labels["billing"]).annotation
    Annotation.objects.filter(pk=rows["old"].pk).update(created_at=timezone.now() - timedelta(days=2))
    rows["recent"] = answer(project, ann, held[items[5].pk], labels["login"]).annotation
    task = ReviewTask.objects.create(project=project, item=items[5], reason=ReviewTask.LEAD_REQUEST)
    resolve_review(project, lead, task_id=task.pk, label_id=labels["fraud"].pk)
    return project, ann, lead, rows


def listed(lead, **query) -> list[dict]:
    return api_as(lead).get("/api/projects/und36/answers/", query).json()["results"]


def test_the_undone_filter_returns_cleared_answers_only(answered):
    project, ann, lead, rows = answered
    undone = listed(lead, annotator="ann", undone="true")
    # the changed answer was listed here before, its own row saying "undone": false
    assert {row["id"] for row in undone} == {rows["cleared"].pk, rows["undone"].pk}
    assert all(row["undone"] and not row["superseded"] for row in undone)
    rest = listed(lead, annotator="ann", undone="false")
    assert {row["id"] for row in rest} == {rows[k].pk for k in ("changed", "change", "skip", "old", "recent")}
    assert not any(row["undone"] for row in rest)
    changed = next(row for row in rest if row["id"] == rows["changed"].pk)
    assert changed["superseded"] and changed["superseded_by"] == rows["change"].pk
    # the spellings the yes/no filters take, and a bad value, as for the other yes/no filters
    assert {row["id"] for row in listed(lead, annotator="ann", undone="1")} == {row["id"] for row in undone}
    bad = api_as(lead).get("/api/projects/und36/answers/", {"undone": "maybe"})
    assert bad.status_code == 400 and "undone" in bad.json()


def test_the_item_story_and_the_list_agree_on_a_changed_answer(answered):
    project, ann, lead, rows = answered
    story = api_as(lead).get(f"/api/projects/und36/items/{rows['changed'].item_id}/").json()["answers"]
    by_id = {row["id"]: row for row in story}
    assert (by_id[rows["changed"].pk]["undone"], by_id[rows["changed"].pk]["superseded"]) == (False, True)
    assert rows["changed"].pk not in {row["id"] for row in listed(lead, undone="true")}


def test_throughput_counts_clears_as_undone_and_changes_as_changed(answered):
    project, ann, lead, rows = answered
    row = {r["username"]: r for r in annotator_throughput(project)}["ann"]
    assert row["undone"] == 2  # was 3: the change counted as an undo
    assert row["changed"] == 1
    # the same figure as the answers list gives for the annotator's own answers
    assert row["undone"] == len(listed(lead, annotator="ann", origin="annotator", undone="true"))


def test_last_24h_counts_what_answers_counts(answered):
    project, ann, lead, rows = answered
    throughput = {r["username"]: r for r in annotator_throughput(project)}
    row = throughput["ann"]
    assert (row["answers"], row["skips"]) == (3, 1)  # the change, the two-day-old answer, the recent one
    assert row["last_24h"] == 2  # was 3: the skip counted, the answer two days old did not
    assert row["skips_last_24h"] == 1
    assert row["last_24h"] <= row["answers"]
    # a lead's adjudication is not an annotator answer: listed as an answer, not throughput
    assert len(listed(lead, annotator="lea", origin="adjudication")) == 1
    assert (throughput["lea"]["answers"], throughput["lea"]["last_24h"]) == (0, 0)
