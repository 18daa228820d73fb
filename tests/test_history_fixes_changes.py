"""What a change or clear of an answer takes back, through the change API: an open label issue whose
given label is no longer the item's label closes with a note; a clear says whether answers of others
still label the item (then it did not go back to the pool, even in a closed wave)."""
import uuid

import pytest

from labeling.annotations.models import Annotation, ReviewTask
from labeling.modeling.label_issues import LabelIssueScan, _sync_tasks
from labeling.modeling.models import ModelVersion
from labeling.projects.models import Membership
from labeling.waves.models import Wave
from labeling.waves.services import close_wave

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db
SLUG = "tone"


@pytest.fixture
def project(project_factory):
    p = project_factory(SLUG, labels=("positive", "neutral tone", "negative"))
    p.batch_size = 4
    p.overlap = 2
    p.save()
    return p


def labels(project):
    return {label.name: label for label in project.labels.all()}


def lease(client, slug: str = SLUG) -> dict[int, int]:
    """item id → assignment id of the batch the API leases."""
    r = client.post(f"/api/projects/{slug}/batches/", {}, format="json")
    assert r.status_code in (200, 201), r.content
    return {row["item"]: row["assignment"] for row in r.json()["items"]}


def give(client, assignment, label, slug: str = SLUG) -> int:
    r = client.post(f"/api/projects/{slug}/annotations/",
                    {"client_id": str(uuid.uuid4()), "assignment": assignment, "label": label.pk}, format="json")
    assert r.status_code == 201, r.content
    return r.json()["annotation"]["id"]


def change(client, answer_id, **fields):
    r = client.post(f"/api/projects/{SLUG}/annotations/change/",
                    {"client_id": str(uuid.uuid4()), "supersedes": answer_id, **fields}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def flag(project, item_ids, given, suggested):
    """Open label issues on the items the way a retrain's scan does (``_sync_tasks``)."""
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE,
                                          label_map=sorted(labels(project)))
    detail = {"model_version": 1, "given_label": given.name, "given_label_id": given.pk,
              "suggested_label": suggested.name, "suggested_label_id": suggested.pk,
              "score": 0.08, "suggested_score": 0.81, "why": "off-diagonal"}
    _sync_tasks(project, version, {item_id: dict(detail) for item_id in item_ids}, LabelIssueScan(cap=10))
    assert open_issues(project) == set(item_ids)


def open_issues(project):
    return set(ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE, resolved_at__isnull=True)
               .values_list("item_id", flat=True))


def issue_of(item_id):
    return ReviewTask.objects.get(item_id=item_id, reason=ReviewTask.LABEL_ISSUE)


def test_changing_or_clearing_the_answer_closes_the_label_issue_that_names_the_old_label(project, make_user):
    _, items = make_open_wave(project, 4, batch_size=4)
    ann = api_as(add_member(make_user, project, "ann1"))
    lead = api_as(add_member(make_user, project, "lea", role=Membership.LEAD))
    lab = labels(project)
    held = lease(ann)
    answers = {item.pk: give(ann, held[item.pk], lab["positive"]) for item in items}
    flag(project, [item.pk for item in items], lab["positive"], lab["neutral tone"])

    change(ann, answers[items[0].pk], label=lab["neutral tone"].pk)  # the audit's item 389
    change(ann, answers[items[1].pk], skipped=True, skip_reason="unclear")
    change(ann, answers[items[2].pk], clear=True)
    assert open_issues(project) == {items[3].pk}
    relabeled = issue_of(items[0].pk)
    assert relabeled.outcome == ReviewTask.EXPIRED and relabeled.resolved_at is not None
    assert relabeled.detail["closed"] == "the answer changed: the item is now labeled 'neutral tone', no longer 'positive'"
    for item in items[1:3]:
        assert issue_of(item.pk).detail["closed"] == "the answer changed: the item has no label now, no longer 'positive'"
    # The lead's queue no longer shows "labeled 'positive'" beside ann1's new answer.
    queue = lead.get(f"/api/projects/{SLUG}/review/?reason=label_issue").json()
    assert [t["item"] for t in queue["results"]] == [items[3].pk]
    assert queue["counts"]["label_issue"] == 1
    # A change to the label the issue names keeps it (the claim holds again); a lead dismissal is not recorded.
    change(ann, answers[items[3].pk], label=lab["positive"].pk)
    assert open_issues(project) == {items[3].pk}
    assert not ReviewTask.objects.filter(outcome=ReviewTask.DISMISSED).exists()


def test_a_change_that_leaves_the_item_label_keeps_the_issue(project, make_user):
    _, items = make_open_wave(project, 1, batch_size=4)
    ann = api_as(add_member(make_user, project, "ann1"))
    lab = labels(project)
    mine = give(ann, lease(ann)[items[0].pk], lab["positive"])
    for _ in range(2):  # two imported answers: the majority stays 'positive' whatever ann1 says
        Annotation.objects.create(project=project, item=items[0], label=lab["positive"], origin=Annotation.IMPORT)
    flag(project, [items[0].pk], lab["positive"], lab["neutral tone"])
    change(ann, mine, label=lab["neutral tone"].pk)
    assert open_issues(project) == {items[0].pk}


def test_a_clear_says_whether_others_answers_still_label_the_item(project, make_user):
    wave, items = make_open_wave(project, 2, batch_size=4, double={0})
    ann_user, bob_user = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    ann, bob = api_as(ann_user), api_as(bob_user)
    lab = labels(project)
    held = lease(ann)
    shared = give(ann, held[items[0].pk], lab["positive"])
    alone = give(ann, held[items[1].pk], lab["negative"])
    give(bob, lease(bob)[items[0].pk], lab["positive"])
    close_wave(Wave.objects.get(pk=wave.pk))

    body = change(ann, shared, clear=True)  # bob's answer still labels the item: not back in the pool
    assert body["reopened"] is False and body["still_labeled"] is True
    body = change(ann, alone, clear=True)  # nothing labels it now: it went back to the pool
    assert body["reopened"] is False and body["still_labeled"] is False


def test_a_clear_in_an_open_wave_and_a_change_are_not_still_labeled(project, make_user):
    _, items = make_open_wave(project, 3, batch_size=4)  # one left unanswered: the wave stays open
    ann = api_as(add_member(make_user, project, "ann"))
    lab = labels(project)
    held = lease(ann)
    first = give(ann, held[items[0].pk], lab["positive"])
    second = give(ann, held[items[1].pk], lab["positive"])
    body = change(ann, first, clear=True)
    assert body["reopened"] is True and body["still_labeled"] is False
    assert change(ann, second, label=lab["negative"].pk)["still_labeled"] is False


def test_undoing_the_last_answer_closes_the_label_issue_on_it(project, make_user):
    """The page's undo (the last answer taken back) changes the item's label as a clear does."""
    _, items = make_open_wave(project, 2, batch_size=4)
    ann = api_as(add_member(make_user, project, "ann1"))
    lab = labels(project)
    held = lease(ann)
    give(ann, held[items[0].pk], lab["positive"])
    give(ann, held[items[1].pk], lab["positive"])
    flag(project, [items[0].pk, items[1].pk], lab["positive"], lab["neutral tone"])
    r = ann.post(f"/api/projects/{SLUG}/annotations/undo/", {}, format="json")
    assert r.status_code == 200, r.content
    assert open_issues(project) == {items[0].pk}
    assert issue_of(items[1].pk).detail["closed"] == "the answer changed: the item has no label now, no longer 'positive'"
