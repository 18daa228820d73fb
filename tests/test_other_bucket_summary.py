"""The waves page's one-line model summary says how many labels the Other bucket holds, and where,
for the blend and coarse → fine structures too (their buckets sit inside the composite head)."""
from types import SimpleNamespace

import pytest

from labeling.modeling.selectors import model_choices
from tests.learner.test_other_bucket_report import train


@pytest.mark.parametrize(("hierarchy", "phrase"), [
    ("blend", "Other bucket under 5 examples (4 labels, in the flat part and 2 coarse groups)"),
    ("coarse_then_fine", "Other bucket under 5 examples (4 labels, in 2 coarse groups)"),
    ("flat", "Other bucket under 5 examples (4 labels)"),
])
def test_summary_counts_the_bucketed_labels_wherever_they_are(hierarchy, phrase):
    report = train(hierarchy).report
    summary = model_choices(SimpleNamespace(metrics=report))["summary"]
    assert phrase in summary.split(" · "), summary


def test_summary_of_a_version_saved_before_the_parts_were_recorded():
    choices = {"head": {"name": "logreg"}, "structure": "flat", "other_bucket": {"min_examples": 8, "labels": 3}}
    summary = model_choices(SimpleNamespace(metrics={"choices": choices}))["summary"]
    assert "Other bucket under 8 examples (3 labels)" in summary.split(" · ")
    choices["other_bucket"] = None
    assert "no Other bucket" in model_choices(SimpleNamespace(metrics={"choices": choices}))["summary"]
