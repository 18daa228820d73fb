"""The renewal limit counts work the page counts as activity: changing or clearing an answer from
the history (an earlier batch) keeps the current batch's leases renewable, as an answer in the
batch does."""
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.annotations import leasing, renewal
from labeling.annotations.models import Assignment, ReviewTask
from labeling.annotations.review_services import resolve_review
from labeling.items.models import Item
from labeling.projects.models import Membership

from .test_annotation_helpers import (
    add_member,
    api_as,
    earlier_and_current_batches,
    make_open_wave,
    short_lease_project,
)

PERIOD = 60


@pytest.fixture
def project(project_factory, settings):
    return short_lease_project(project_factory, settings, "history-work", lease_seconds=PERIOD)


@pytest.fixture
def ann(make_user, project):
    return add_member(make_user, project, "ann")


def renew(user, ids):
    response = api_as(user).post("/api/projects/history-work/batches/renew/",
                                 {"assignments": ids, "extend": True}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def change(user, body):
    response = api_as(user).post("/api/projects/history-work/annotations/change/",
                                 {"client_id": str(uuid.uuid4()), **body}, format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()


@pytest.fixture
def earlier_and_current(project, ann):
    """An earlier batch answered 200 s ago, and the current batch leased 150 s ago with nobody
    answering in it since: 30 s past its renewal limit, its leases still live for 20 s."""
    return earlier_and_current_batches(project, ann)


def test_without_work_the_idle_batch_is_not_extended(ann, earlier_and_current):
    _, _, current = earlier_and_current
    assert renew(ann, [a.pk for a in current])["renewed"] == 0


def test_changing_an_earlier_answer_from_the_history_keeps_the_batch_renewable(project, ann, earlier_and_current):
    _, answers, current = earlier_and_current
    change(ann, {"supersedes": answers[0].pk, "label": project.labels.get(name="login").pk})

    body = renew(ann, [a.pk for a in current])
    assert body["renewed"] == 2 and body["lost"] == []
    for a in Assignment.objects.filter(pk__in=[a.pk for a in current]):
        assert a.expires_at > timezone.now() + timedelta(seconds=PERIOD - 5)


def test_clearing_an_earlier_answer_from_the_history_keeps_the_batch_renewable(ann, earlier_and_current):
    earlier, answers, current = earlier_and_current
    assert change(ann, {"supersedes": answers[0].pk, "clear": True})["reopened"]

    # The page names the cleared item with its batch (it joins it: static/js/annotate/actions.js).
    names = [a.pk for a in current] + [earlier[0].pk]
    body = renew(ann, names)
    assert body["lost"] == [] and body["renewed"] >= 2
    for a in Assignment.objects.filter(pk__in=names):
        assert a.state == Assignment.LEASED
        assert a.expires_at > timezone.now() + timedelta(seconds=PERIOD - 5)


def test_a_leads_adjudications_do_not_keep_their_idle_batch(project_factory, make_user, settings):
    """Only the annotator's own answers count as work in the project for the renewal limit: a lead
    deciding review tasks (answers of origin adjudication) kept their untouched annotation batch
    leased, renewal after renewal, away from the annotators."""
    lead_project = project_factory("lead-review", labels=("billing", "login"))
    lead_project.batch_size = 2
    lead_project.save()
    make_open_wave(lead_project, 4, shuffle=False)
    lead = add_member(make_user, lead_project, "lena", role=Membership.LEAD)
    held = leasing.lease_batch(lead_project, lead).assignments
    long_ago = timezone.now() - timedelta(
        seconds=settings.LONGTAIL_LEASE_SECONDS * (settings.LONGTAIL_LEASE_RENEWAL_PERIODS + 1))
    Assignment.objects.filter(pk__in=[a.pk for a in held]).update(leased_at=long_ago)
    other = Item.objects.filter(project=lead_project).exclude(pk__in=[a.wave_item.item_id for a in held]).first()
    task = ReviewTask.objects.create(project=lead_project, item=other, reason=ReviewTask.LEAD_REQUEST, detail={})
    resolve_review(lead_project, lead, task_id=task.pk, label_id=lead_project.labels.get(name="billing").pk)
    assert renewal.renew(lead_project, lead, assignment_ids=[a.pk for a in held]).renewed == 0
