"""The annotator figures' rules beyond the plain cases: the median seconds per answer keeps a changed
answer's time and drops a cleared one's, the same in PostgreSQL and in Python (SQLite's path); κ is
Cohen's κ between two annotators whoever answered an item first, and deleting an account does not
move it; at overlap 3 a label's answers and an annotator's double-labeled items are counted once,
deleted accounts' answers included; a coarse label's row counts the fine answers under it."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from sklearn.metrics import cohen_kappa_score

from labeling.annotations import history, leasing, selectors
from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.models import Label, Membership
from learner.text import text_hash

from .test_annotation_helpers import add_member, answer, api_as, make_open_wave

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def at(answer_id, seconds):
    Annotation.objects.filter(pk=answer_id).update(created_at=T0 + timedelta(seconds=seconds))


def new_item(project):
    text = f"{project.slug} item {Item.objects.count()}"
    return Item.objects.create(project=project, text=text, text_hash=text_hash(text))


def given(project, plan, seconds=None):
    """``plan``: per item, ``(user, label)`` in the order they answer; the answers' times follow it."""
    clock = 0
    for answers in plan:
        item = new_item(project)
        for user, label in answers:
            row = Annotation.objects.create(project=project, item=item, annotator=user, label=label)
            at(row.pk, clock if seconds is None else seconds)
            clock += 1


def test_a_changed_answers_time_stays_and_a_cleared_ones_leaves_in_both_paths(postgres_only, project_factory,
                                                                                  make_user):
    """ann answers four items at 0, 10, 30 and 60 s. After a break she changes the second answer
    (at 1000 s) and clears the third, answering its item again at 1005 s. Her answering events:
    0, 10, 60 and 1000, 1005: the changed answer at 10 s was a finished answer and stays; the
    cleared one at 30 s was given back and answered again, so its time is the item's and leaves.
    Gaps 10, 50 and 5 (the break is no gap): median 10. Dropping the changed answer too read 32.5
    (gaps 60 and 5), keeping the cleared one 15 (10, 20, 30, 5)."""
    project = project_factory("gaps", labels=("billing", "login"))
    project.batch_size = 4
    project.save()
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    ann = add_member(make_user, project, "ann")
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    make_open_wave(project, 4, shuffle=False)
    held = leasing.lease_batch(project, ann).assignments
    first = [answer(project, ann, assignment, billing).annotation for assignment in held]
    for row, seconds in zip(first, (0, 10, 30, 60), strict=True):
        at(row.pk, seconds)
    changed = history.change_answer(project, ann, client_id=uuid.uuid4(), supersedes=first[1].pk, label_id=login.pk)
    at(changed.annotation.pk, 1000)
    history.change_answer(project, ann, client_id=uuid.uuid4(), supersedes=first[2].pk, clear=True)
    again = answer(project, ann, next(a for a in held if a.wave_item.item_id == first[2].item_id), login)
    at(again.annotation.pk, 1005)
    assert Annotation.objects.filter(annotator=ann, undone=True).count() == 2  # one changed, one cleared

    assert selectors.median_answer_gaps_sql(project) == {ann.pk: 10.0}
    assert selectors.median_answer_gaps_python(project) == {ann.pk: 10.0}
    row = next(r for r in api_as(lead).get("/api/projects/gaps/dashboard/").json()["throughput"]
               if r["username"] == "ann")
    assert (row["answers"], row["changed"], row["undone"], row["median_seconds_per_answer"]) == (4, 1, 1, 10.0)


def test_kappa_is_between_the_two_annotators_whoever_answered_first(project_factory, make_user):
    """Ten items: ann answered seven of them first, bob the other three. Cohen's κ between ann and
    bob (sklearn's, ann's labels against bob's) is the panel's figure; reading the first to answer
    as the first rater gave another κ. Deleting one of the two accounts leaves it where it was."""
    project = project_factory("mixed", labels=("billing", "login", "fraud"))
    billing, login, fraud = (project.labels.get(name=n) for n in ("billing", "login", "fraud"))
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    says = [(billing, billing), (billing, login), (billing, billing), (login, login), (fraud, billing),
            (billing, billing), (login, fraud), (login, login), (fraud, fraud), (billing, login)]
    bob_first = {1, 4, 9}
    given(project, [[(bob, b), (ann, a)] if n in bob_first else [(ann, a), (bob, b)]
                    for n, (a, b) in enumerate(says)])
    expected = cohen_kappa_score([a.pk for a, _ in says], [b.pk for _, b in says])
    by_time = cohen_kappa_score([(b if n in bob_first else a).pk for n, (a, b) in enumerate(says)],
                                [(a if n in bob_first else b).pk for n, (a, b) in enumerate(says)])
    assert abs(by_time - expected) > 0.01  # the order by time is another figure: this test tells them apart

    assert selectors.agreement_summary(project)["kappa"] == pytest.approx(expected, abs=1e-4)
    get_user_model().objects.get(pk=ann.pk).delete()  # the lower id goes: every pair turns round at once
    body = api_as(lead).get("/api/projects/mixed/agreement/").json()
    assert body["pairs"] == 10 and body["kappa"] == pytest.approx(expected, abs=1e-4)


@pytest.fixture
def three_levels(project_factory, make_user):
    """Billing > Refund, Account (no fine labels); ann, bob and cat each answer five items."""
    project = project_factory("tri3", labels=())
    billing = Label.objects.create(project=project, name="Billing")
    refund = Label.objects.create(project=project, name="Refund", parent=billing)
    account = Label.objects.create(project=project, name="Account")
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    ann, bob, cat = (add_member(make_user, project, n) for n in ("ann", "bob", "cat"))
    plan = [(billing, refund, refund), (billing, billing, refund), (account, account, account),
            (refund, refund, billing), (billing, refund, account)]
    given(project, [list(zip((ann, bob, cat), labels, strict=True)) for labels in plan])
    return project, lead, (ann, bob, cat), {"Billing": billing, "Refund": refund, "Account": account}, plan


def test_answers_and_items_are_counted_once_at_overlap_3_deleted_accounts_too(three_levels):
    """Each label's answers are the answers that chose it (Billing's: its own and the Refund
    answers under it), each once; bob and cat leave, and on the first item both had said Refund:
    two answers still, though neither has an account to tell them apart."""
    project, lead, (ann, bob, cat), labels, plan = three_levels
    answers = [label for item in plan for label in item]
    expected = {"Refund": answers.count(labels["Refund"]), "Account": answers.count(labels["Account"]),
                "Billing": answers.count(labels["Billing"]) + answers.count(labels["Refund"])}
    assert expected == {"Refund": 6, "Account": 4, "Billing": 11}

    def per_label():
        body = api_as(lead).get("/api/projects/tri3/agreement/").json()
        assert (body["items_double_labeled"], body["pairs"]) == (5, 15)
        return {row["label"]: row["answers"] for row in body["per_label"]}

    assert per_label() == expected
    rows = {r["username"]: r for r in api_as(lead).get("/api/projects/tri3/dashboard/").json()["throughput"]}
    assert {n: (rows[n]["answers"], rows[n]["double_labeled"], rows[n]["pairs"]) for n in ("ann", "bob", "cat")} == {
        n: (5, 5, 10) for n in ("ann", "bob", "cat")}
    get_user_model().objects.filter(pk__in=[bob.pk, cat.pk]).delete()
    assert per_label() == expected
    rows = {r["username"]: r for r in api_as(lead).get("/api/projects/tri3/dashboard/").json()["throughput"]}
    assert (rows["ann"]["double_labeled"], rows["ann"]["pairs"]) == (5, 10)


def test_a_coarse_labels_row_reads_fine_answers_as_it_fine_rows_stay_exact(three_levels):
    """Billing's row: "is it Billing or under it?"; Refund's row: "is it Refund?" (a Billing answer
    is not Refund). Each is sklearn's κ over the pairs, read that way."""
    project, lead, _people, labels, plan = three_levels
    billing, refund = labels["Billing"], labels["Refund"]
    pairs = [(item[i], item[j]) for item in plan for i, j in ((0, 1), (0, 2), (1, 2))]
    under_billing = {billing, refund}
    want_billing = cohen_kappa_score([a in under_billing for a, _ in pairs], [b in under_billing for _, b in pairs])
    want_refund = cohen_kappa_score([a == refund for a, _ in pairs], [b == refund for _, b in pairs])
    rows = {row["label"]: row for row in api_as(lead).get("/api/projects/tri3/agreement/").json()["per_label"]}
    assert rows["Billing"]["kappa"] == pytest.approx(want_billing, abs=1e-4)
    assert rows["Billing"]["pairs"] == sum(1 for a, b in pairs if {a, b} & under_billing) == 12
    assert rows["Refund"]["kappa"] == pytest.approx(want_refund, abs=1e-4)
    assert rows["Refund"]["pairs"] == sum(1 for a, b in pairs if refund in (a, b))
