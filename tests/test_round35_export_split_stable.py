"""Round 35: the export's split column is stable as labeling goes on. With a shuffle per export,
one more label moved 29 of 300 items to another split, 9 of the 30 test items into train, so a
model trained on a later export had seen an earlier export's test set."""
import json

import pytest

from labeling.annotations.services import undo_last_answer
from labeling.export import services

from . import test_export
from .test_export import answer, make_item

pytestmark = pytest.mark.django_db
world = test_export.world  # the export tests' project, users and labels (a fixture)
NAMES = ["payments", "card fraud", "phishing"]


def splits(project):
    return {r["item_id"]: r["split"] for r in map(json.loads, services.stream_export(project, "jsonl"))}


def moved(first, second):
    return {k: (first[k], second[k]) for k in first if k in second and first[k] != second[k]}


@pytest.fixture
def three_hundred(world):
    alpha, ann = world["alpha"], world["ann"]
    items = [make_item(alpha, f"ticket number {i}") for i in range(300)]
    for i, item in enumerate(items):
        answer(item, ann, NAMES[i % 3])
    return items


def test_one_more_label_moves_no_test_item_into_train(world, three_hundred):
    alpha, ann = world["alpha"], world["ann"]
    first = splits(alpha)
    assert sorted(list(first.values()).count(s) for s in ("train", "val", "test")) == [30, 30, 240]
    answer(make_item(alpha, "one more ticket"), ann, "payments")
    second = splits(alpha)
    changed = moved(first, second)
    assert [k for k, (a, b) in changed.items() if a == "test" and b == "train"] == []
    # At most one item across each of the two cuts, all of them "payments" (the new label's stratum).
    assert len(changed) <= 2
    labels = {r["item_id"]: r["label"] for r in map(json.loads, services.stream_export(alpha, "jsonl"))}
    assert {labels[k] for k in changed} <= {"payments"}


def test_undoing_a_label_or_labeling_a_duplicate_moves_at_most_two_other_items(world, three_hundred):
    alpha, ann = world["alpha"], world["ann"]
    first = splits(alpha)
    undone = undo_last_answer(alpha, ann)
    second = splits(alpha)
    assert undone.item_id not in second
    changed = moved(first, second)
    assert len(changed) <= 2 and ("train", "test") not in changed.values()
    assert ("test", "train") not in changed.values()
    # A labeled twin joins its duplicate group: the group stays in one split, the rest barely moves.
    twin_of = three_hundred[0]
    twin = make_item(alpha, twin_of.text, group=twin_of.pk)
    answer(twin, ann, NAMES[0])
    third = splits(alpha)
    assert third[twin.pk] == third[twin_of.pk]
    changed = moved(second, third)
    changed.pop(twin_of.pk, None)
    assert len(changed) <= 2 and ("test", "train") not in changed.values()


def test_the_split_does_not_depend_on_the_export_run(world, three_hundred):
    alpha = world["alpha"]
    assert splits(alpha) == splits(alpha)
    other_seed = {r["item_id"]: r["split"] for r in map(json.loads, services.stream_export(alpha, "jsonl", seed=7))}
    assert other_seed != splits(alpha) and set(other_seed) == set(splits(alpha))
