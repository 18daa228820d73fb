"""The figures a lead reads about annotators, checked against figures worked out independently
(sklearn's Cohen's kappa, medians by hand) on projects whose answers are known: every answer goes
through the API an annotator's page uses (lease a batch, answer, change from the History list), and
the answers' times are then set to a known timeline."""
import statistics
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from sklearn.metrics import cohen_kappa_score

from labeling.annotations.models import Annotation
from labeling.projects.models import Label, Membership

from .test_annotation_helpers import add_member, make_open_wave

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def lease(user, slug) -> dict[int, int]:
    """item id → assignment id of the batch ``user`` leases through the API."""
    reply = client_for(user).post(f"/api/projects/{slug}/batches/", {}, format="json")
    assert reply.status_code == 200, reply.content
    return {row["item"]: row["assignment"] for row in reply.json()["items"]}


def give(user, slug, assignment, label) -> dict:
    reply = client_for(user).post(f"/api/projects/{slug}/annotations/", {
        "client_id": str(uuid.uuid4()), "assignment": assignment, "label": label.pk}, format="json")
    assert reply.status_code == 201, reply.content
    return reply.json()["annotation"]


def change(user, slug, answer_id, label) -> dict:
    reply = client_for(user).post(f"/api/projects/{slug}/annotations/change/", {
        "client_id": str(uuid.uuid4()), "supersedes": answer_id, "label": label.pk}, format="json")
    assert reply.status_code in (200, 201), reply.content
    return reply.json()


def stamp(answer_id, at):
    Annotation.objects.filter(pk=answer_id).update(created_at=at)


@pytest.fixture
def taxonomy(project_factory, make_user):
    """Billing > (Refund, Late fee), Account > (Password); a lead and two annotators."""
    project = project_factory("tax", labels=())
    billing = Label.objects.create(project=project, name="Billing", hotkey="1")
    refund = Label.objects.create(project=project, name="Refund", parent=billing, hotkey="2")
    late = Label.objects.create(project=project, name="Late fee", parent=billing, hotkey="3")
    account = Label.objects.create(project=project, name="Account", hotkey="4")
    password = Label.objects.create(project=project, name="Password", parent=account, hotkey="5")
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    ann = add_member(make_user, project, "ann")
    bob = add_member(make_user, project, "bob")
    labels = {"billing": billing, "refund": refund, "late": late, "account": account, "password": password}
    return project, lead, ann, bob, labels


def test_a_coarse_labels_kappa_counts_the_fine_answers_under_it(taxonomy):
    """ann answers at the coarse level, bob at the fine level, and they never contradict each
    other: every item bob calls Refund or Late fee ann calls Billing, every Password one Account.
    On "is it Billing?" they agree on all ten items (κ 1 by sklearn, with a fine answer read as its
    coarse label, as the dashboard's counts read it); the per-label table showed Billing's κ 0.0
    from 6 pairs, telling the lead the two cannot tell Billing apart."""
    project, lead, ann, bob, lab = taxonomy
    make_open_wave(project, 10, double=range(10))
    plan = ([("billing", "refund")] * 4 + [("billing", "late")] * 2 + [("account", "password")] * 4)
    ann_items = sorted(lease(ann, "tax"))
    answers_a, answers_b = {}, {}
    for item, assignment in lease(ann, "tax").items():
        answers_a[item] = lab[plan[ann_items.index(item)][0]]
        give(ann, "tax", assignment, answers_a[item])
    for item, assignment in lease(bob, "tax").items():
        answers_b[item] = lab[plan[ann_items.index(item)][1]]
        give(bob, "tax", assignment, answers_b[item])
    assert len(answers_a) == len(answers_b) == 10

    coarse = {lab["refund"].pk: lab["billing"].pk, lab["late"].pk: lab["billing"].pk,
              lab["password"].pk: lab["account"].pk}
    items = sorted(answers_a)
    is_billing_a = [coarse.get(answers_a[i].pk, answers_a[i].pk) == lab["billing"].pk for i in items]
    is_billing_b = [coarse.get(answers_b[i].pk, answers_b[i].pk) == lab["billing"].pk for i in items]
    expected = cohen_kappa_score(is_billing_a, is_billing_b)
    assert expected == pytest.approx(1.0)

    body = client_for(lead).get("/api/projects/tax/agreement/").json()
    assert body["kappa_coarse"] == pytest.approx(1.0)  # the coarse κ the panel shows agrees
    row = next(r for r in body["per_label"] if r["label"] == "Billing")
    assert row["kappa"] == pytest.approx(expected, abs=1e-3), row
    row = next(r for r in body["per_label"] if r["label"] == "Account")
    assert row["kappa"] is None or row["kappa"] == pytest.approx(1.0, abs=1e-3), row


def test_median_time_per_answer_is_not_stretched_by_answers_changed_later(project_factory, make_user):
    """ann answers ten items 20 s apart, and an hour later (a break) changes four of them from the
    History list, a minute apart. Every gap between two of her answers in the first session was
    20 s: the median seconds per answer was 40, because the four replaced answers' times left
    the timeline and their neighbours' gaps were read as one answer each."""
    project = project_factory("thr")
    project.batch_size = 10
    project.save()
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    ann = add_member(make_user, project, "ann")
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    make_open_wave(project, 10)
    leased = lease(ann, "thr")
    start = timezone.now() - timedelta(hours=3)
    given = []
    for n, (_item, assignment) in enumerate(sorted(leased.items())):
        answer = give(ann, "thr", assignment, billing)
        stamp(answer["id"], start + timedelta(seconds=20 * n))
        given.append(answer["id"])
    later = start + timedelta(hours=1)
    for n, answer_id in enumerate(given[1:9:2]):  # the 2nd, 4th, 6th and 8th answer
        new = change(ann, "thr", answer_id, login)
        stamp(new["annotation"]["id"], later + timedelta(seconds=60 * n))

    # Independently: every answering event of hers, in time order, breaks (> 10 min) left out.
    events = [start + timedelta(seconds=20 * n) for n in range(10)] + [later + timedelta(seconds=60 * n)
                                                                       for n in range(4)]
    gaps = [(b - a).total_seconds() for a, b in zip(events, events[1:], strict=False) if b - a <= timedelta(minutes=10)]
    expected = statistics.median(gaps)
    assert expected == 20.0  # and 20 s if the changes are left out: she took 20 s an item

    row = next(r for r in client_for(lead).get("/api/projects/thr/dashboard/").json()["throughput"]
               if r["username"] == "ann")
    assert row["answers"] == 10 and row["changed"] == 4
    assert row["median_seconds_per_answer"] == pytest.approx(expected), row


def test_kappa_between_two_annotators_does_not_move_when_one_reconfirms_an_answer(taxonomy):
    """Two annotators, overlap 2, ten items: the figure is Cohen's κ between ann and bob
    (sklearn's, ann's labels against bob's). ann then reopens one answer from the History list and
    picks the same label again: every answer is what it was, yet the panel's κ moved, because the
    pair's order follows the time of the latest answer and Cohen's two raters got mixed up."""
    project, lead, ann, bob, lab = taxonomy
    make_open_wave(project, 10, double=range(10))
    b, a, r = lab["billing"], lab["account"], lab["refund"]
    plan = [(b, b), (b, b), (b, a), (b, a), (b, a), (a, a), (a, a), (r, r), (r, b), (a, a)]
    ann_items = sorted(lease(ann, "tax"))
    mine_a, mine_b, answer_ids = {}, {}, {}
    for item, assignment in lease(ann, "tax").items():
        mine_a[item] = plan[ann_items.index(item)][0]
        answer_ids[item] = give(ann, "tax", assignment, mine_a[item])["id"]
    for item, assignment in lease(bob, "tax").items():
        mine_b[item] = plan[ann_items.index(item)][1]
        give(bob, "tax", assignment, mine_b[item])
    items = sorted(mine_a)
    expected = cohen_kappa_score([mine_a[i].pk for i in items], [mine_b[i].pk for i in items])
    before = client_for(lead).get("/api/projects/tax/agreement/").json()
    assert before["kappa"] == pytest.approx(expected, abs=1e-4)

    # ann reopens her answer on the third item (Billing, where bob said Account) from the History
    # list and picks Billing again
    third = ann_items[2]
    change(ann, "tax", answer_ids[third], b)
    live = {row.item_id: row.label_id for row in Annotation.objects.filter(annotator=ann, undone=False)}
    assert live == {i: mine_a[i].pk for i in items}  # every answer is what it was

    after = client_for(lead).get("/api/projects/tax/agreement/").json()
    assert after["pairs"] == 10
    assert after["kappa"] == pytest.approx(expected, abs=1e-4), (before["kappa"], after["kappa"])


@pytest.fixture
def overlap_three(project_factory, make_user):
    """Overlap 3: ann, bob and cat each answer the same four items through the API, Billing on
    all of them but cat's fourth (Login)."""
    project = project_factory("tri")
    project.overlap = 3
    project.save()
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    people = [add_member(make_user, project, name) for name in ("ann", "bob", "cat")]
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    make_open_wave(project, 4, double=range(4))
    for person in people:
        for n, (_item, assignment) in enumerate(sorted(lease(person, "tri").items())):
            give(person, "tri", assignment, login if (person.username == "cat" and n == 3) else billing)
    body = client_for(lead).get("/api/projects/tri/dashboard/").json()
    assert body["agreement"]["items_double_labeled"] == 4 and body["agreement"]["pairs"] == 12
    return people, billing, body


def test_an_annotators_double_labeled_count_is_of_items_not_pairs_at_overlap_3(overlap_three):
    """ann double-labeled four items (she gave four answers in all); the throughput row said
    double_labeled 8, more than her answers, because each item holds two pairs with her in them."""
    people, _billing, body = overlap_three
    rows = {row["username"]: row for row in body["throughput"]}
    # Independently: the items ann answered that someone else answered too.
    answered = {u: set(Annotation.objects.filter(annotator=u, undone=False).values_list("item_id", flat=True))
                for u in people}
    shared = {i for i in answered[people[0]] if any(i in answered[o] for o in people[1:])}
    assert rows["ann"]["answers"] == len(shared) == 4
    assert rows["ann"]["double_labeled"] == len(shared), rows["ann"]


def test_a_labels_answers_in_pairs_counts_each_answer_once_at_overlap_3(overlap_three):
    """Eleven answers said Billing (every one on a double-labeled item); the per-label row
    ("Answers in pairs" on the review page, "answers" on the dashboard) said 22: each answer
    counted once per pair it is in."""
    _people, billing, body = overlap_three
    given = Annotation.objects.filter(label=billing, undone=False, skipped=False).count()
    assert given == 11
    row = next(r for r in body["agreement"]["per_label"] if r["label"] == "billing")
    assert row["answers"] == given, row


def test_what_holds_kappa_raw_agreement_skips_clears_and_a_lunch_break(project_factory, make_user):
    """Four annotators at overlap 2 with skips, a cleared answer, a changed answer (by the second
    to answer, so no pair changes order), an excluded item and a lead's adjudication: κ and raw
    agreement are sklearn's over the latest labeled answers, the counts are right, and a two-hour
    lunch is not counted as time on an item."""
    project = project_factory("four", labels=("billing", "login", "fraud"))
    project.batch_size = 6
    project.save()
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    a, b, c, d = (add_member(make_user, project, n) for n in ("ann", "bob", "cat", "dan"))
    lab = {x.name: x for x in project.labels.all()}
    make_open_wave(project, 12, double=range(12))
    holders = {}
    for person in (a, b, c, d):
        for item, assignment in lease(person, "four").items():
            holders.setdefault(item, []).append((person, assignment))
    assert len(holders) == 12 and all(len(h) == 2 for h in holders.values())
    names = ["billing", "login", "fraud"]
    t0 = timezone.now() - timedelta(hours=5)
    given, truth = {}, {}
    for n, item in enumerate(sorted(holders)):
        who, assignment = holders[item][0]
        ans = give(who, "four", assignment, lab[names[n % 3]])
        stamp(ans["id"], t0 + timedelta(seconds=30 * n))
        truth[item] = [names[n % 3], None]
    for n, item in enumerate(sorted(holders)):
        who, assignment = holders[item][1]
        if n == 0:  # a skip: no pair
            reply = client_for(who).post("/api/projects/four/annotations/", {
                "client_id": str(uuid.uuid4()), "assignment": assignment, "skipped": True,
                "skip_reason": "unclear"}, format="json")
            assert reply.status_code == 201
            stamp(reply.json()["annotation"]["id"], t0 + timedelta(hours=2, seconds=30 * n))
            continue
        name = names[n % 3] if n % 4 else names[(n + 1) % 3]
        ans = give(who, "four", assignment, lab[name])
        stamp(ans["id"], t0 + timedelta(hours=2, seconds=30 * n))  # after a two-hour lunch
        given[item] = (who, ans["id"])
        truth[item][1] = name
    # the second answer on item 5 is changed (to the first's label); the one on item 7 cleared
    items = sorted(holders)
    who, answer_id = given[items[5]]
    new = change(who, "four", answer_id, lab[truth[items[5]][0]])
    stamp(new["annotation"]["id"], t0 + timedelta(hours=2, seconds=30 * 5 + 10))
    truth[items[5]][1] = truth[items[5]][0]
    who, answer_id = given[items[7]]
    reply = client_for(who).post("/api/projects/four/annotations/change/", {
        "client_id": str(uuid.uuid4()), "supersedes": answer_id, "clear": True}, format="json")
    assert reply.status_code in (200, 201), reply.content
    truth[items[7]][1] = None
    Item = Annotation._meta.get_field("item").related_model
    Item.objects.filter(pk=items[9]).update(excluded=True)  # still labeled: still a pair

    pairs = [(x, y) for x, y in truth.values() if x is not None and y is not None]
    body = client_for(lead).get("/api/projects/four/agreement/").json()
    assert body["pairs"] == len(pairs) == 10
    assert body["kappa"] == pytest.approx(cohen_kappa_score(*zip(*pairs, strict=True)), abs=1e-4)
    assert body["raw_agreement"] == pytest.approx(sum(x == y for x, y in pairs) / len(pairs), abs=1e-4)
    rows = {r["username"]: r for r in client_for(lead).get("/api/projects/four/dashboard/").json()["throughput"]}
    # Each annotator answered in 30 s slots, in the morning or after the lunch; nobody's median
    # takes in the two hours between.
    assert {r["username"]: r["median_seconds_per_answer"] for r in rows.values() if r["role"] == "annotator"} == {
        "ann": 30.0, "bob": 30.0, "cat": 30.0, "dan": 30.0}
    assert sum(r["skips"] for r in rows.values()) == 1
    assert sum(r["undone"] for r in rows.values()) == 1 and sum(r["changed"] for r in rows.values()) == 1
