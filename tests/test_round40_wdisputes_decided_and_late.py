"""A lead's decision ends a pick's leases in an open wave too, a late answer on a lapsed lease never
gives one person two votes on an item, and the "nothing is waiting" message names the members to
leads only. Through the API, as the annotate page, the review page and API clients call it."""
import json
import time
import uuid

import pytest
from django.utils import timezone

from labeling.annotations.models import Annotation, Assignment, ReviewTask
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem

from .team_helpers import ProjectApi, make_team
from .test_annotation_helpers import api_as, make_open_wave

pytestmark = pytest.mark.django_db
SLUG = "decided"


API = ProjectApi(SLUG)
post, lease, answer = API.post, API.lease, API.answer


@pytest.fixture
def team(project_factory, make_user):
    return make_team(project_factory, make_user, SLUG)


def test_a_lease_held_when_the_lead_decides_is_released_and_its_answer_refused(team):
    """Overlap 3 in an open wave of two picks: ann and bob disagree on both, cy holds both when
    the lead decides one. cy's lease on it goes (her renewal says why), her answer is refused as
    decided and stores nothing, and ann's empty lease counts only the undecided pick as waiting
    for someone else."""
    project, people, labels = team
    project.overlap = 3
    project.save()
    make_open_wave(project, 2, double={0, 1})
    ann, bob, cy, lena = people["ann"], people["bob"], people["cy"], people["lena"]
    for user, label in ((ann, "billing"), (bob, "login")):
        for row in lease(user)["items"]:
            assert answer(user, row["assignment"], labels[label]).status_code == 201
    held = {row["item"]: row for row in lease(cy)["items"]}
    assert len(held) == 2
    task = ReviewTask.objects.filter(project=project, reason=ReviewTask.DISAGREEMENT).order_by("pk").first()
    assert post(lena, "review/", {"task": task.pk, "label": labels["fraud"]}).status_code == 200
    decided, other = held[task.item_id], next(row for item, row in held.items() if item != task.item_id)

    assert Assignment.objects.get(pk=decided["assignment"]).state == Assignment.EXPIRED
    assert Assignment.objects.get(pk=other["assignment"]).state == Assignment.LEASED
    renewed = post(cy, "batches/renew/", {"assignments": [decided["assignment"], other["assignment"]]})
    assert renewed.status_code == 200, renewed.content
    assert [(lost["assignment"], lost["reason"]) for lost in renewed.json()["lost"]] == [
        (decided["assignment"], "decided")]
    refused = answer(cy, decided["assignment"], labels["billing"])
    assert refused.status_code == 409, refused.content
    assert "decided the label" in refused.json()["detail"]
    by_item = post(cy, "annotations/", {"client_id": str(uuid.uuid4()), "item": decided["item"],
                                        "label": labels["billing"]})
    assert by_item.status_code == 409, by_item.content
    assert not Annotation.objects.filter(annotator=cy).exists()
    assert WaveItem.objects.get(item_id=decided["item"]).slots_taken == 2  # ann's and bob's; cy's came back
    empty = lease(ann)
    assert empty["items"] == [] and empty["waiting"]["waiting_for_others"] == 1, empty["waiting"]
    assert answer(cy, other["assignment"], labels["billing"]).status_code == 201


def test_a_late_answer_never_gives_one_person_two_votes_on_an_item(team, settings):
    """ann's wave-1 lease (overlap 1) lapses after wave 1 closed; wave 2 picks the item again and
    hands it to ann herself, who answers login; wave 2 closes. Her page then sends the billing
    answer of the old lease: stored, she would hold two live answers on the item, and the export
    would list her twice in the votes and call login a majority against bob's nothing."""
    project, people, labels = team
    settings.LONGTAIL_LEASE_SECONDS = 2
    make_open_wave(project, 1)
    ann, lena = people["ann"], people["lena"]
    (first,) = lease(ann)["items"]
    assert post(lena, "waves/1/close/", {}).status_code == 200
    deadline = time.monotonic() + 30
    while Assignment.objects.filter(pk=first["assignment"], state="leased", expires_at__gt=timezone.now()).exists():
        assert time.monotonic() < deadline, "the wave-1 lease never ran out"
        time.sleep(0.2)
    settings.LONGTAIL_LEASE_SECONDS = 600
    wave2 = Wave.objects.create(project=project, number=2, state=Wave.OPEN, size=1)
    WaveItem.objects.create(wave=wave2, item_id=first["item"], strategy="random", inclusion_prob=0.5, overlap=1)
    (again,) = lease(ann)["items"]
    assert again["item"] == first["item"] and again["assignment"] != first["assignment"]
    assert answer(ann, again["assignment"], labels["login"]).status_code == 201
    Wave.objects.filter(pk=wave2.pk).update(state=Wave.CLOSED)

    late = answer(ann, first["assignment"], labels["billing"])
    assert late.status_code == 409, late.content
    assert "the item is now in wave 2" in late.json()["detail"]
    live = Annotation.objects.filter(item_id=first["item"], undone=False)
    assert [(a.annotator_id, a.label_id) for a in live] == [(ann.pk, labels["login"])]
    response = api_as(lena).get(f"/api/projects/{SLUG}/export/jsonl/")
    rows = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines() if line]
    (row,) = [r for r in rows if r["item_id"] == first["item"]]
    assert [v["annotator"] for v in row["votes"]] == ["ann"] and row["label"] == "login"


def test_an_annotator_is_told_how_many_can_answer(team):
    """The members list is for leads (members/ refuses annotators): the annotator's empty lease
    says how many others can answer, by no name."""
    project, people, labels = team
    project.overlap = 2
    project.save()
    make_open_wave(project, 2, double={0, 1})
    ann = people["ann"]
    for row in lease(ann)["items"]:
        assert answer(ann, row["assignment"], labels["billing"]).status_code == 201
    told = lease(ann)["waiting"]["message"]
    assert "3 other members of the project can answer them." in told, told
    for name in ("bob", "cy", "lena"):
        assert name not in told, told


def test_too_few_members_is_said_by_name_to_the_lead_only(team):
    project, people, labels = team
    project.overlap = 3
    project.save()
    Membership.objects.filter(project=project, user__username__in=["bob", "cy"]).delete()
    make_open_wave(project, 1, double={0})
    ann, lena = people["ann"], people["lena"]
    for user in (ann, lena):
        (row,) = lease(user)["items"]
        assert answer(user, row["assignment"], labels["billing"]).status_code == 201
    lead_told = lease(lena)["waiting"]["message"]
    assert "The other members (ann (annotator)) can answer them, but 3 different people are needed" in lead_told
    annotator_told = lease(ann)["waiting"]["message"]
    assert "1 other member of the project can answer them, but 3 different people are needed" in annotator_told
    assert "lena" not in annotator_told
