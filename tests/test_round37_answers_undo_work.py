"""The renewal limit counts an undo of the last answer as work in the project, as it counts a
clear from the history: the undo leases the item again now (its lease time is the sign of work
that leasing.renewal_limit reads). Before, an undo wrote no row and left the lease time as it
was, so undoing an answer of an earlier batch did not keep the current batch renewable."""
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.annotations.models import Assignment

from .test_annotation_helpers import (
    add_member,
    api_as,
    earlier_and_current_batches,
    short_lease_project,
)

PERIOD = 60
SLUG = "undo-work37"


@pytest.fixture
def project(project_factory, settings):
    return short_lease_project(project_factory, settings, SLUG, lease_seconds=PERIOD)


@pytest.fixture
def ann(make_user, project):
    return add_member(make_user, project, "ann37u")


@pytest.fixture
def earlier_and_current(project, ann):
    return earlier_and_current_batches(project, ann)


def renew(user, ids):
    response = api_as(user).post(f"/api/projects/{SLUG}/batches/renew/", {"assignments": ids, "extend": True},
                                 format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_without_the_undo_the_idle_batch_is_not_extended(ann, earlier_and_current):
    _, _, current = earlier_and_current
    assert renew(ann, [a.pk for a in current])["renewed"] == 0


@pytest.mark.parametrize("by_client_id", [False, True])
def test_undoing_the_last_answer_keeps_the_batch_renewable(ann, earlier_and_current, by_client_id):
    earlier, answers, current = earlier_and_current
    last = answers[-1]
    body = {"client_id": str(last.client_id)} if by_client_id else {}
    undone = api_as(ann).post(f"/api/projects/{SLUG}/annotations/undo/", body, format="json")
    assert undone.status_code == 200 and undone.json()["id"] == last.pk, undone.content

    # The page puts the undone item back in its batch and renews it with the batch.
    names = [a.pk for a in current] + [last.assignment_id]
    renewed = renew(ann, names)
    assert renewed["lost"] == [] and renewed["renewed"] >= 2, renewed
    for a in Assignment.objects.filter(pk__in=names):
        assert a.state == Assignment.LEASED
        assert a.expires_at > timezone.now() + timedelta(seconds=PERIOD - 5)


def test_a_retried_undo_is_not_new_work(ann, earlier_and_current):
    _, answers, _ = earlier_and_current
    url = f"/api/projects/{SLUG}/annotations/undo/"
    assert api_as(ann).post(url, {"client_id": str(answers[-1].client_id)}, format="json").status_code == 200
    leased_at = Assignment.objects.get(pk=answers[-1].assignment_id).leased_at
    Assignment.objects.filter(pk=answers[-1].assignment_id).update(leased_at=leased_at - timedelta(seconds=100))
    assert api_as(ann).post(url, {"client_id": str(answers[-1].client_id)}, format="json").status_code == 200
    assert Assignment.objects.get(pk=answers[-1].assignment_id).leased_at == leased_at - timedelta(seconds=100)
