"""One small-n rule for every dashboard figure: fewer than MIN_N items behind an average precision,
a reliability bin's accuracy or a κ give None ("—") with the count, never 1.000 from three items."""
import numpy as np
import pytest

from labeling.annotations import selectors
from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects import dashboard
from labeling.projects.estimates import MIN_N
from labeling.projects.models import Label
from learner.text import text_hash


def curve(positives, ap=1.0):
    return {"precision": [1.0, 1.0], "recall": [1.0, 0.0], "average_precision": ap, "positives": positives}


def test_pr_curves_below_min_n_have_no_ap_and_no_points():
    report = {"per_class": {"few": {"count": 4}, "enough": {"count": MIN_N}, "old": {"count": 2}},
              "pr_curves": {"few": curve(4), "enough": curve(MIN_N, 0.8),
                            "old": {k: v for k, v in curve(2).items() if k != "positives"}}}
    out = dashboard.pr_curves(report, None)
    assert out["min_n"] == MIN_N
    few, enough, old = (out["curves"][n] for n in ("few", "enough", "old"))
    assert few == {"precision": [], "recall": [], "average_precision": None, "positives": 4, "too_few": True}
    assert enough["average_precision"] == 0.8 and enough["recall"] == [1.0, 0.0] and not enough["too_few"]
    # a report without the curve's count: the per-class count of the label decides
    assert old["too_few"] and old["average_precision"] is None and old["positives"] == 2


def test_pr_curves_from_pool_scores_follow_the_same_rule():
    y = np.array([0] * 20 + [1] * 3)
    proba = np.zeros((23, 2), dtype=np.float32)
    proba[np.arange(23), y] = 0.9
    proba[np.arange(23), 1 - y] = 0.1
    out = dashboard.pr_curves(None, {"classes": ["big", "tiny"], "proba": proba, "y": y})
    assert out["curves"]["big"]["average_precision"] == pytest.approx(1.0) and out["curves"]["big"]["positives"] == 20
    assert out["curves"]["tiny"]["average_precision"] is None and out["curves"]["tiny"]["positives"] == 3
    assert out["curves"]["tiny"]["too_few"] and out["curves"]["tiny"]["recall"] == []


def test_reliability_bins_keep_their_count_but_no_accuracy_below_min_n():
    bins = [{"low": 0.0, "high": 0.5, "count": 0, "accuracy": None, "confidence": None},
            {"low": 0.5, "high": 0.8, "count": 2, "accuracy": 1.0, "confidence": 0.7},
            {"low": 0.8, "high": 1.0, "count": MIN_N, "accuracy": 0.8, "confidence": 0.9}]
    out = dashboard.reliability({"per_class": {}, "reliability": bins, "ece": 0.1}, None)
    assert [b["count"] for b in out["bins"]] == [0, 2, MIN_N]
    assert [b["accuracy"] for b in out["bins"]] == [None, None, 0.8]
    assert [b["too_few"] for b in out["bins"]] == [False, True, False]
    assert out["bins"][1]["confidence"] == 0.7 and out["min_n"] == MIN_N

    y = np.array([0] * 10 + [1])
    proba = np.tile([0.95, 0.05], (11, 1)).astype(np.float32)
    proba[10] = [0.35, 0.65]  # one item alone in its bin, and wrong
    scored = dashboard.reliability(None, {"classes": ["a", "b"], "proba": proba, "y": y})
    lone = next(b for b in scored["bins"] if b["count"] == 1)
    assert lone["accuracy"] is None and lone["too_few"]
    full = next(b for b in scored["bins"] if b["count"] == 10)
    assert full["accuracy"] == 1.0 and not full["too_few"]


@pytest.mark.django_db
def test_kappa_is_shown_from_min_n_pairs_on(project_factory, make_user):
    project = project_factory("kappa", labels=())
    account = Label.objects.create(project=project, name="Account")
    reset = Label.objects.create(project=project, name="Reset", parent=account)
    pay = Label.objects.create(project=project, name="Payments")
    rare = Label.objects.create(project=project, name="Rare")
    ann, bob = make_user("ann"), make_user("bob")

    def pairs(plan):
        for a, b in plan:
            text = f"item {Item.objects.count()}"
            item = Item.objects.create(project=project, text=text, text_hash=text_hash(text))
            Annotation.objects.create(project=project, item=item, label=a, annotator=ann)
            Annotation.objects.create(project=project, item=item, label=b, annotator=bob)

    pairs([(reset, reset), (pay, pay), (rare, rare), (pay, reset)])
    summary = selectors.agreement_summary(project)
    assert summary["pairs"] == 4 and summary["kappa"] is None and summary["kappa_reason"] == "4 pairs: fewer than 5"
    assert summary["kappa_coarse"] is None and summary["kappa_coarse_reason"] == "4 pairs: fewer than 5"
    assert summary["raw_agreement"] is None  # 3 of 4 agree: no "75 %" from 4 pairs either

    pairs([(reset, reset), (pay, pay), (pay, pay), (reset, pay)])
    summary = selectors.agreement_summary(project)
    assert summary["pairs"] == 8 and summary["kappa"] is not None and summary["kappa_reason"] is None
    assert summary["kappa_coarse"] is not None
    rows = {row["label"]: row for row in summary["per_label"]}
    assert rows["Payments"]["pairs"] == 5 and rows["Payments"]["kappa"] is not None
    assert rows["Reset"]["pairs"] == 4 and rows["Reset"]["kappa"] is None
    assert rows["Rare"] == {**rows["Rare"], "kappa": None, "answers": 2, "pairs": 1, "reason": "1 pair: fewer than 5"}
    # A coarse label counts the pairs of its fine labels' answers (Reset is under Account; round 39).
    assert rows["Account"]["pairs"] == 4 and rows["Account"]["reason"] == "4 pairs: fewer than 5"
