"""Agreement: the pure kappa functions against scikit-learn, and the summaries the lead pages show."""
import random
import uuid

import pytest
from sklearn.metrics import cohen_kappa_score

from labeling.annotations import agreement, leasing, selectors, services
from labeling.projects.models import Label

from .test_annotation_helpers import add_member, make_open_wave  # noqa: F401


@pytest.mark.parametrize("seed", range(5))
def test_kappa_matches_scikit_learn(seed):
    rng = random.Random(seed)
    labels = ["a", "b", "c", "d"]
    pairs = []
    for _ in range(200):
        first = rng.choice(labels)
        pairs.append((first, first if rng.random() < 0.6 else rng.choice(labels)))
    a, b = zip(*pairs, strict=True)
    assert agreement.cohen_kappa(pairs) == pytest.approx(cohen_kappa_score(a, b))
    for label, kappa in agreement.per_label_kappa(pairs, labels).items():
        expected = cohen_kappa_score([x == label for x in a], [y == label for y in b])
        assert kappa == pytest.approx(expected)
    assert agreement.raw_agreement(pairs) == pytest.approx(sum(x == y for x, y in pairs) / 200)


def test_kappa_edge_cases():
    assert agreement.cohen_kappa([]) is None and agreement.raw_agreement([]) is None
    assert agreement.cohen_kappa([("a", "a"), ("a", "a")]) is None  # chance agreement is 1: undefined
    assert agreement.cohen_kappa([("a", "a"), ("b", "b")]) == 1.0
    assert agreement.cohen_kappa([("a", "b"), ("b", "a")]) == -1.0
    assert agreement.per_label_kappa([("a", "a"), ("b", "b")], ["a", "z"]) == {"a": 1.0, "z": None}
    assert agreement.per_label_kappa([], ["a"]) == {"a": None}
    assert agreement.map_pairs([(1, 2), (3, 3)], {1: 10, 2: 10}) == [(10, 10), (3, 3)]


@pytest.fixture
def project(project_factory):
    return project_factory("agree", labels=("billing", "login", "fraud"))


def answer_item(project, user, item_index, label, items):
    from labeling.annotations.models import Assignment

    assignment = Assignment.objects.get(annotator=user, wave_item__item=items[item_index])
    return services.submit_answer(project, user, client_id=uuid.uuid4(), assignment_id=assignment.pk,
                                  label_id=label.pk if label else None,
                                  skipped=label is None, skip_reason="unclear" if label is None else "")


def test_agreement_summary_from_double_labeled_items(project, make_user):
    billing, login, fraud = (project.labels.get(name=n) for n in ("billing", "login", "fraud"))
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    # 5 double-labeled items and one single: only the double ones count.
    _, items = make_open_wave(project, 7, double={0, 1, 2, 3, 4})
    leasing.lease_batch(project, ann, size=6)
    leasing.lease_batch(project, bob, size=5)
    plan = [(billing, billing), (login, login), (fraud, billing), (fraud, fraud), (billing, None)]
    for i, (a_label, b_label) in enumerate(plan):
        answer_item(project, ann, i, a_label, items)
        answer_item(project, bob, i, b_label, items)
    answer_item(project, ann, 5, login, items)

    summary = selectors.agreement_summary(project)
    pairs = [(billing.pk, billing.pk), (login.pk, login.pk), (fraud.pk, billing.pk), (fraud.pk, fraud.pk)]
    a, b = zip(*pairs, strict=True)
    assert summary["items_double_labeled"] == 4  # the skip leaves item 4 with one label
    assert summary["pairs"] == 4
    assert summary["raw_agreement"] is None  # 3 of 4 agree, but 4 pairs are fewer than MIN_N
    # 4 pairs: fewer than MIN_N, so no κ (scikit-learn's would be 0.636), and the reason says so
    assert cohen_kappa_score(a, b) == pytest.approx(0.6364, abs=1e-4)
    assert summary["kappa"] is None and summary["kappa_reason"] == "4 pairs: fewer than 5"
    per_label = {row["label"]: row for row in summary["per_label"]}
    # one pair chose login: no "1.000" from two answers
    assert per_label["login"]["kappa"] is None and per_label["login"]["answers"] == 2
    assert per_label["login"]["pairs"] == 1 and per_label["login"]["reason"] == "1 pair: fewer than 5"
    assert per_label["fraud"]["answers"] == 3
    assert summary["kappa_coarse"] is None  # flat taxonomy

    # The review page says the same: "—" with the reason, never a κ from four pairs.
    from django.test import Client

    lead = add_member(make_user, project, "lea", role="lead")
    client = Client()
    client.force_login(lead)
    page = client.get("/p/agree/review/").content.decode()
    assert '<strong id="kappa">—</strong> <span class="muted">(4 pairs: fewer than 5)</span>' in page
    assert "<td>login</td><td>— <span class=\"muted\">(1 pair: fewer than 5)</span></td><td>1</td><td>2</td>" in page

    # An undone answer leaves the pair; the re-answer replaces it.
    services.undo_last_answer(project, ann)  # ann's answer on item 5 (single) — no change to pairs
    assert selectors.agreement_summary(project)["pairs"] == 4


def test_coarse_agreement_when_the_taxonomy_has_two_levels(project_factory, make_user):
    project = project_factory("two-level", labels=())
    account = Label.objects.create(project=project, name="Account")
    reset = Label.objects.create(project=project, name="Reset", parent=account)
    takeover = Label.objects.create(project=project, name="Takeover", parent=account)
    pay = Label.objects.create(project=project, name="Payments")
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    _, items = make_open_wave(project, 6, double={0, 1, 2, 3, 4})  # item 5 keeps the wave open
    leasing.lease_batch(project, ann)
    leasing.lease_batch(project, bob)
    plan = [(reset, takeover), (reset, reset), (pay, account), (pay, pay), (takeover, pay)]
    for i, (x, y) in enumerate(plan[:3]):
        answer_item(project, ann, i, x, items)
        answer_item(project, bob, i, y, items)
    summary = selectors.agreement_summary(project)
    assert summary["pairs"] == 3 and summary["raw_agreement"] is None and summary["raw_agreement_coarse"] is None
    for i, (x, y) in enumerate(plan[3:], start=3):
        answer_item(project, ann, i, x, items)
        answer_item(project, bob, i, y, items)
    summary = selectors.agreement_summary(project)
    assert summary["raw_agreement"] == pytest.approx(2 / 5, abs=1e-4)
    assert summary["raw_agreement_coarse"] == pytest.approx(3 / 5, abs=1e-4)  # reset/takeover agree on Account


def test_annotator_throughput(project, make_user):
    billing = project.labels.get(name="billing")
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    add_member(make_user, project, "idle")
    _, items = make_open_wave(project, 4, double={0})
    leasing.lease_batch(project, ann, size=3)
    leasing.lease_batch(project, bob, size=1)
    answer_item(project, ann, 0, billing, items)
    answer_item(project, ann, 1, billing, items)
    answer_item(project, ann, 2, None, items)  # skip
    answer_item(project, bob, 0, billing, items)
    services.undo_last_answer(project, bob)
    rows = {row["username"]: row for row in selectors.annotator_throughput(project)}
    assert set(rows) == {"ann", "bob", "idle"}
    assert (rows["ann"]["answers"], rows["ann"]["skips"], rows["ann"]["undone"]) == (2, 1, 0)
    assert (rows["ann"]["last_24h"], rows["ann"]["skips_last_24h"]) == (2, 1)  # last_24h counts as answers does
    assert rows["ann"]["median_seconds_per_answer"] is not None
    assert (rows["bob"]["answers"], rows["bob"]["undone"]) == (0, 1)
    assert rows["idle"]["answers"] == 0 and rows["idle"]["median_seconds_per_answer"] is None
    assert rows["ann"]["role"] == "annotator"
    assert [r["username"] for r in selectors.annotator_throughput(project)][0] == "ann"
