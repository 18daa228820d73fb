"""Annotators who leave: what their answers still count for once their account is deleted.

A deleted user's answers stay in the data (Annotation.annotator is SET_NULL): they still train the
model and the export still shows their votes. The agreement figures and the dispute rule read the
same answers, so deleting the account of someone who left must not change them."""
import pytest
from django.contrib.auth import get_user_model

from labeling.annotations import leasing
from labeling.annotations.models import ReviewTask
from labeling.annotations.selectors import agreement_summary
from labeling.export.services import iter_rows
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, answer, api_as, make_open_wave

pytestmark = pytest.mark.django_db


@pytest.fixture
def doubled(project_factory, make_user):
    """Six picks of overlap 2, each answered by ann and by bob: they agree on five, not on the last."""
    project = project_factory("churn", labels=("billing", "login", "fraud"))
    project.batch_size, project.overlap = 6, 2
    project.save()
    _, items = make_open_wave(project, 6, double=range(6), shuffle=False)
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    labels = {label.name: label for label in project.labels.all()}
    ann_says = ["billing", "login", "fraud", "billing", "login", "billing"]
    bob_says = ["billing", "login", "fraud", "billing", "login", "fraud"]
    for user, says in ((ann, ann_says), (bob, bob_says)):
        for assignment in leasing.lease_batch(project, user).assignments:
            position = [i.pk for i in items].index(assignment.wave_item.item_id)
            answer(project, user, assignment, labels[says[position]])
    return {"project": project, "items": items, "lead": lead, "ann": ann, "bob": bob}


def test_deleting_a_departed_annotator_keeps_the_agreement_of_their_answers(doubled):
    project = doubled["project"]
    before = agreement_summary(project)
    assert before["pairs"] == 6 and before["items_double_labeled"] == 6

    get_user_model().objects.get(pk=doubled["bob"].pk).delete()  # bob left; an admin tidies the accounts

    # The export still shows both votes on every double-labeled item ...
    rows = {row["item_id"]: row for row in iter_rows(project)}
    assert all(len(rows[item.pk]["votes"]) == 2 for item in doubled["items"])
    # ... and the agreement between the two people who gave them has not changed.
    after = agreement_summary(project)
    assert after["items_double_labeled"] == 6
    assert after["pairs"] == before["pairs"]
    assert after["raw_agreement"] == before["raw_agreement"]
    response = api_as(doubled["lead"]).get("/api/projects/churn/agreement/")
    assert response.status_code == 200
    assert response.json()["pairs"] == 6


def test_an_item_both_departed_annotators_disputed_stays_disputed(doubled):
    project, items = doubled["project"], doubled["items"]
    disputed_item = items[5]  # ann said billing, bob said fraud; no lead has decided
    assert ReviewTask.objects.filter(item=disputed_item, reason=ReviewTask.DISAGREEMENT,
                                     resolved_at__isnull=True).exists()
    assert {row["item_id"]: row for row in iter_rows(project)}[disputed_item.pk]["disputed"] is True

    get_user_model().objects.filter(pk__in=[doubled["ann"].pk, doubled["bob"].pk]).delete()

    # The lead's review queue still holds the disagreement, nobody has decided, the votes still differ:
    assert ReviewTask.objects.filter(item=disputed_item, reason=ReviewTask.DISAGREEMENT,
                                     resolved_at__isnull=True).exists()
    row = {row["item_id"]: row for row in iter_rows(project)}[disputed_item.pk]
    assert sorted(v["label"] for v in row["votes"]) == ["billing", "fraud"]
    # so the export (and the item browser, the estimates: the one disputed rule) still call it disputed.
    assert row["disputed"] is True
    listed = api_as(doubled["lead"]).get("/api/projects/churn/items/", {"state": "disputed"})
    assert listed.status_code == 200, listed.content
    assert [r["id"] for r in listed.json()["results"]] == [disputed_item.pk]
