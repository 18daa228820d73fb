"""Dashboard data from stored model versions and pool scores: learning curve across versions with
rare-label recall, PR curves and reliability bins from the held-out report (or, for older
reports, computed from ItemScores of labeled items),
and the thresholds table's review share from the pool when the report has no table."""
import uuid

import numpy as np
import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.projects import dashboard
from labeling.projects.estimates import MIN_N
from labeling.projects.models import Membership
from learner.metrics import classification_report
from learner.scoring import pack_probs, score_stats
from learner.text import text_hash

pytestmark = pytest.mark.django_db
CLASSES = ["billing", "fraud", "login"]



@pytest.fixture
def scored(make_user, project_factory):
    """60 labeled items (fraud rare: 6), a retired v1 and an active v2 with scores for every item."""
    project = project_factory("alpha", labels=CLASSES)
    project.rare_threshold = 10
    project.save()
    user = make_user("ann")
    Membership.objects.create(user=user, project=project, role=Membership.ANNOTATOR)
    labels = {label.name: label for label in project.labels.all()}
    truth = ["billing"] * 30 + ["login"] * 24 + ["fraud"] * 6
    rng = np.random.default_rng(0)
    items = []
    for i, name in enumerate(truth):
        text = f"item {i}"
        item = Item.objects.create(project=project, source=project.sources.first(), text=text, text_hash=text_hash(text))
        Annotation.objects.create(project=project, item=item, annotator=user, label=labels[name], client_id=uuid.uuid4())
        items.append(item)
    y = np.array([CLASSES.index(n) for n in truth])
    proba = rng.dirichlet(np.ones(3), size=len(truth)) * 0.5
    proba[np.arange(len(truth)), y] += 0.5  # mostly right, with spread
    predicted = [CLASSES[i] for i in proba.argmax(axis=1)]
    report = classification_report(truth, predicted, proba, CLASSES)
    counts = {"billing": 30, "login": 24, "fraud": 6}
    ModelVersion.objects.create(project=project, number=1, state=ModelVersion.RETIRED, train_size=30,
                                label_map=CLASSES, metrics={"validation": {**report, "macro_f1": 0.4},
                                                            "class_counts": counts})
    v2 = ModelVersion.objects.create(project=project, number=2, state=ModelVersion.ACTIVE, train_size=60,
                                     label_map=CLASSES, thresholds={"billing": 0.0, "fraud": 0.9, "login": 0.6},
                                     metrics={"validation": report, "class_counts": counts})
    ModelVersion.objects.create(project=project, number=3, state=ModelVersion.FAILED, label_map=CLASSES)
    stats = score_stats(proba)
    ItemScore.objects.bulk_create([
        ItemScore(item=item, model_version=v2, probs=pack_probs(proba[i]), top_label=int(stats["top_label"][i]),
                  top_prob=float(stats["top_prob"][i]), margin=float(stats["margin"][i]),
                  entropy=float(stats["entropy"][i])) for i, item in enumerate(items)])
    return {"project": project, "proba": proba, "y": y, "report": report, "v2": v2}


def test_learning_curve_and_rare_labels(scored):
    data = dashboard.dashboard_data(scored["project"])
    assert [label["name"] for label in data["labels"] if label["rare"]] == ["fraud"]
    curve = data["learning_curve"]
    assert [p["version"] for p in curve] == [1, 2]  # the failed version is left out
    assert curve[0]["macro_f1"] == 0.4 and curve[1]["macro_f1"] == pytest.approx(scored["report"]["macro_f1"])
    assert curve[1]["rare_recall"] == pytest.approx(scored["report"]["per_class"]["fraud"]["recall"])
    assert data["model"]["number"] == 2
    assert data["labeled_per_wave"] == {"waves": [dashboard.NO_WAVE], "series": {"billing": [30], "fraud": [6], "login": [24]}}


def test_pr_curves_and_reliability_come_from_the_held_out_report(scored):
    data = dashboard.dashboard_data(scored["project"])
    report = scored["report"]
    assert data["pr_curves"]["source"].startswith("held-out validation")
    # as stored, plus whether too few positives stand behind it (every label here has 6 or more)
    assert data["pr_curves"]["curves"] == {name: {**curve, "too_few": False}
                                           for name, curve in report["pr_curves"].items()}
    assert data["reliability"]["source"].startswith("held-out validation")
    # as stored, but a bin of fewer than MIN_N items keeps its count and loses its accuracy
    assert data["reliability"]["bins"] == [
        {**b, "too_few": 0 < b["count"] < MIN_N, **({"accuracy": None} if 0 < b["count"] < MIN_N else {})}
        for b in report["reliability"]]
    assert data["reliability"]["ece"] == pytest.approx(report["ece"])


def test_pr_curves_and_reliability_from_scores_for_older_reports(scored):
    from sklearn.metrics import average_precision_score

    v2 = scored["v2"]  # a version trained before reports carried curves
    v2.metrics = {"validation": {k: v for k, v in scored["report"].items() if k not in ("pr_curves", "reliability")},
                  "class_counts": v2.metrics["class_counts"]}
    v2.save()
    data = dashboard.dashboard_data(scored["project"])
    assert data["pr_curves"]["source"].startswith("pool scores")
    half = np.vstack([np.frombuffer(pack_probs(row), dtype="<f2").astype(np.float32) for row in scored["proba"]])
    for i, name in enumerate(CLASSES):
        curve = data["pr_curves"]["curves"][name]
        assert curve["positives"] == int((scored["y"] == i).sum())
        assert curve["average_precision"] == pytest.approx(average_precision_score(scored["y"] == i, half[:, i]))
        assert curve["recall"][0] == 1.0 and curve["recall"][-1] == 0.0
    bins = data["reliability"]["bins"]
    assert len(bins) == 10 and sum(b["count"] for b in bins) == 60
    confidence = half.max(axis=1)
    correct = half.argmax(axis=1) == scored["y"]
    for b in bins:
        if b["count"]:
            inside = (confidence > b["low"]) & (confidence <= b["high"])
            assert b["count"] == int(inside.sum())
            if b["count"] < MIN_N:  # no accuracy from one or two items
                assert b["accuracy"] is None and b["too_few"]
            else:
                assert b["accuracy"] == pytest.approx(correct[inside].mean())


def test_thresholds_table_falls_back_to_pool_scores(scored):
    data = dashboard.dashboard_data(scored["project"])
    rows = {r["label"]: r for r in data["thresholds"]["rows"]}
    assert data["thresholds"]["source"] == "pool scores"
    proba = scored["proba"]
    top, top_p = proba.argmax(axis=1), proba.max(axis=1)
    for i, name in enumerate(CLASSES):
        threshold = scored["v2"].thresholds[name]
        expected = ((top == i) & (top_p < threshold)).sum() / len(top) if threshold > 0 else 0.0
        assert rows[name]["review_share"] == pytest.approx(expected, abs=1 / 60)  # float16 ties
        assert rows[name]["predicted_share"] == pytest.approx((top == i).mean())


def test_report_thresholds_table_wins(scored):
    v2 = scored["v2"]
    v2.metrics = {**v2.metrics, "thresholds": [{"label": "fraud", "kind": "precision", "target": 0.9,
                                                 "threshold": 0.8, "review_share": 0.05}]}
    v2.save()
    data = dashboard.dashboard_data(scored["project"])
    assert data["thresholds"]["source"].startswith("training report")
    assert data["thresholds"]["rows"][0]["review_share"] == 0.05
    # an older report's "met" came from the rows that chose the threshold: not shown as met
    assert data["thresholds"]["rows"][0]["target"] == "precision ≥ 0.9" and data["thresholds"]["rows"][0]["met"] == "—"


def test_find_report():
    inner = {"per_class": {}, "macro_f1": 0.5}
    assert dashboard.find_report({"validation": inner}) is inner
    assert dashboard.find_report(inner) is inner
    assert dashboard.find_report({"notes": ["too little data"]}) is None
    assert dashboard.find_report(None) is None
