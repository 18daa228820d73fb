"""The dashboard's pool estimates: a model version's precision and recall come only from answered
picks with a known inclusion probability of waves planned after it, weighted by 1/π; a label with
too few items shows nothing rather than 1.000; the validation table does the same."""
import uuid

import numpy as np
import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.projects import dashboard
from labeling.projects.estimates import version_estimates
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem
from learner.scoring import pack_probs
from learner.text import text_hash

pytestmark = pytest.mark.django_db
CLASSES = ["billing", "fraud", "login"]


def _item(project, user, labels, n, name):
    text = f"text {n}"
    item = Item.objects.create(project=project, source=project.sources.first(), text=text, text_hash=text_hash(text))
    Annotation.objects.create(project=project, item=item, annotator=user, label=labels[name], client_id=uuid.uuid4())
    return item


def _score(version, item, top):
    proba = np.full(3, 0.1)
    proba[top] = 0.8
    ItemScore.objects.create(item=item, model_version=version, probs=pack_probs(proba), top_label=top, top_prob=0.8,
                             margin=0.7, entropy=0.5)


@pytest.fixture
def waves(make_user, project_factory):
    """v1 active. Wave 1 (cold start, before v1): 30 random picks v1 scores all wrong. Wave 2
    (planned with v1): 100 random picks, π 0.1 each: 60 billing (v1: 54 right, 6 called login),
    37 login (all right), 3 fraud (all right)."""
    project = project_factory("est", labels=CLASSES)
    user = make_user("ann")
    Membership.objects.create(user=user, project=project, role=Membership.ANNOTATOR)
    labels = {label.name: label for label in project.labels.all()}
    v1 = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=30,
                                     label_map=CLASSES, metrics={})
    w1 = Wave.objects.create(project=project, number=1, cold_start=True, state=Wave.CLOSED)
    w2 = Wave.objects.create(project=project, number=2, model_version=v1, state=Wave.CLOSED)
    n = 0
    for _ in range(30):
        item = _item(project, user, labels, n := n + 1, "billing")
        WaveItem.objects.create(wave=w1, item=item, strategy="random", inclusion_prob=0.1)
        _score(v1, item, 1)
    plan = [("billing", 0)] * 54 + [("billing", 2)] * 6 + [("login", 2)] * 37 + [("fraud", 1)] * 3
    for name, top in plan:
        item = _item(project, user, labels, n := n + 1, name)
        WaveItem.objects.create(wave=w2, item=item, strategy="random", inclusion_prob=0.1)
        _score(v1, item, top)
    return {"project": project, "v1": v1}


def test_estimates_use_only_later_waves_and_hide_thin_labels(waves):
    est = version_estimates(waves["project"])[1]
    rows = {r["label"]: r for r in est["labels"]}
    assert est["sample"]["items"] == 100 and est["sample"]["waves"] == [2]  # wave 1 came before v1
    billing, login = rows["billing"], rows["login"]
    assert billing["recall"] == pytest.approx(0.9) and billing["precision"] == pytest.approx(1.0)
    assert login["precision"] == pytest.approx(37 / 43) and login["recall"] == pytest.approx(1.0)
    lo, hi = billing["recall_ci"]
    assert lo < 0.9 < hi and hi - lo > 0.05
    assert billing["precision_ci"][0] < 1.0  # 54 of 54 is not certainty
    fraud = rows["fraud"]
    assert fraud["n"] == 3 and fraud["precision"] is None and fraud["recall"] is None
    assert "fewer than 5" in fraud["reasons"]["recall"]
    assert est["macro_f1_ci"][0] < est["macro_f1_estimate"] < est["macro_f1_ci"][1]


def test_dashboard_shows_estimates_beside_validation_and_dashes_thin_labels(waves):
    v1 = waves["v1"]
    report = {"classes": CLASSES, "macro_f1": 0.9,
              "per_class": {"billing": {"precision": 0.95, "recall": 0.9, "f1": 0.92, "support": 40, "count": 40},
                            "fraud": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 3, "count": 3},
                            "login": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "count": 0}},
              "confusion_matrix": [[36, 0, 4], [0, 3, 0], [0, 0, 0]]}
    v1.metrics = {"validation": report}
    v1.save()
    data = dashboard.dashboard_data(waves["project"])
    table = {r["label"]: r for r in data["per_class"]}
    assert table["billing"]["precision"] == 0.95
    assert table["fraud"]["precision"] is None and table["fraud"]["recall"] is None  # 3 of 3 is not 1.000
    assert table["login"]["recall"] is None and table["login"]["precision"] is None  # no support is not 0.000
    assert data["estimates"]["model"] == 1 and "inclusion probability" in data["estimates"]["source"]
    assert {r["label"] for r in data["estimates"]["labels"]} == set(CLASSES)
    point = data["learning_curve"][0]
    assert point["macro_f1_ci"] is not None and point["macro_f1_ci"][0] <= point["macro_f1_estimate"]


def test_a_new_model_has_no_estimates_until_its_next_wave_is_answered(waves):
    v2 = ModelVersion.objects.create(project=waves["project"], number=2, state=ModelVersion.READY, train_size=130,
                                     label_map=CLASSES, metrics={})
    est = version_estimates(waves["project"], [v2])[2]
    assert est["sample"]["items"] == 0 and "after model v2" in est["sample"]["reason"]
    assert est["macro_f1_estimate"] is None and all(r["precision"] is None for r in est["labels"])


def test_thresholds_table_shows_both_targets_and_the_held_out_verdict(waves):
    v1 = waves["v1"]
    v1.metrics = {"thresholds": [{
        "label": "billing", "target": {"precision": 0.9, "recall": 0.8}, "threshold": 0.7, "precision": 0.95,
        "recall": 0.85, "precision_lower": 0.91, "recall_lower": 0.8, "feasible": True, "reason": None,
        "review_share": 0.1, "held_out_precision": 0.86, "held_out_precision_ci": [0.8, 0.91],
        "held_out_recall": 0.84, "held_out_recall_ci": [0.77, 0.89], "fold_thresholds": [0.7, 0.71],
        "met": False, "met_reason": "held-out precision 0.860 < 0.9"}],
        "threshold_mix": {"setting": "pool", "used": "pool", "unlabeled_rows": 500, "reason": None}}
    v1.save()
    table = dashboard.dashboard_data(waves["project"])["thresholds"]
    assert table["source"].endswith("thresholds hold on the pool's class mix (estimated from 500 unlabeled items)")
    row = table["rows"][0]
    assert row["target"] == "precision ≥ 0.9, recall ≥ 0.8"
    assert row["met"] == "no" and row["why"].startswith("held-out precision")
    assert row["held_out_precision_95"] == "0.80–0.91" and "fold_thresholds" not in row


def test_a_label_named_like_an_estimates_key_does_not_break_the_dashboard(waves):
    from labeling.projects.models import Label

    Label.objects.filter(project=waves["project"], name="fraud").update(name="macro_f1_ci")
    est = version_estimates(waves["project"])[1]
    assert est["macro_f1_estimate"] is None and "clashes" in est["sample"]["reason"]
    assert dashboard.dashboard_data(waves["project"])["estimates"]["model"] == 1
