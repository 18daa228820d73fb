"""Round 41 (dashboard small-n figures): the learning curve's means, the ECE and the confusion
matrix follow the rule of every other dashboard figure, and the matrix accounts for every
held-out row, coarse fallbacks included — through the dashboard API on a real project."""
from types import SimpleNamespace

import numpy as np
import pytest

from labeling.modeling.models import ModelVersion
from labeling.projects import dashboard
from labeling.projects.estimates import MIN_N
from labeling.projects.figures import FALLBACK_COLUMN
from labeling.projects.models import Membership
from learner.metrics import classification_report

CLASSES = ["billing", "fraud", "login", "password"]


def _version(report, counts, number=1):
    return SimpleNamespace(number=number, state="active", train_size=sum(counts.values()),
                           metrics={"validation": report, "class_counts": counts})


def test_the_curve_keeps_its_points_from_min_n_items_per_label_on():
    truth = ["billing"] * 6 + ["login"] * 6 + ["fraud"] * 5 + ["password"] * 3  # 20 = 4 labels × 5
    predicted = ["billing"] * 6 + ["login"] * 5 + ["billing"] + ["fraud"] * 5 + ["password"] * 3
    report = classification_report(truth, predicted, None, CLASSES)
    counts = {"billing": 600, "login": 600, "fraud": 5, "password": 3}
    point = dashboard.learning_curve([_version(report, counts)], rare_threshold=100)[0]
    assert point["macro_f1"] == report["macro_f1"] and point["macro_f1_reason"] is None
    assert point["held_out_n"] == 20
    # the rare labels (fraud, password) hold 8 held-out items: fewer than MIN_N for each of the two
    assert point["rare_recall"] is None
    assert point["rare_recall_reason"] == f"8 held-out items over 2 rare labels: fewer than {MIN_N} per label"


def test_a_stored_report_gives_no_ece_when_no_bin_is_drawn():
    few = [{"low": 0.5, "high": 0.6, "count": 2, "accuracy": 1.0, "confidence": 0.55},
           {"low": 0.9, "high": 1.0, "count": 3, "accuracy": 1.0, "confidence": 0.95}]
    out = dashboard.reliability({"per_class": {}, "reliability": few, "ece": 0.2}, None)
    assert out["ece"] is None and out["ece_reason"] == f"5 items, every bin fewer than {MIN_N}"
    enough = [*few, {"low": 0.8, "high": 0.9, "count": MIN_N, "accuracy": 0.8, "confidence": 0.85}]
    out = dashboard.reliability({"per_class": {}, "reliability": enough, "ece": 0.2}, None)
    assert out["ece"] == 0.2 and out["ece_reason"] is None


def test_weighted_rows_predicted_outside_the_classes_are_kept_per_row():
    truth = ["billing", "billing", "login", "login"]
    predicted = ["billing", "account", "account", "login"]
    report = classification_report(truth, predicted, None, ["billing", "login"], sample_weight=[1.0, 2.5, 0.5, 1.0])
    assert report["predicted_outside"] == [2.5, 0.5]
    rows = np.asarray(report["confusion_matrix"]).sum(axis=1) + report["predicted_outside"]
    assert rows.tolist() == [report["per_class"][c]["support"] for c in ("billing", "login")]


def test_an_older_report_without_the_count_still_gets_its_fallback_column():
    report = {"classes": ["billing", "login"], "confusion_matrix": [[1, 0], [0, 1]],
              "per_class": {"billing": {"support": 3.0, "count": 3}, "login": {"support": 1.0, "count": 1}}}
    shown = dashboard.confusion(report)
    assert shown["extra_columns"] == [FALLBACK_COLUMN] and shown["matrix"] == [[1, 0, 2], [0, 1, 0]]
    assert shown["fallbacks"] == 2
    # a report whose cells add up: no extra column
    whole = dashboard.confusion({**report, "per_class": {"billing": {"support": 1.0}, "login": {"support": 1.0}}})
    assert whole["extra_columns"] == [] and whole["matrix"] == [[1, 0], [0, 1]]


@pytest.mark.django_db
def test_the_dashboard_api_accounts_for_every_validation_row(project_factory, make_user, client):
    project = project_factory("dash41", labels=CLASSES)
    truth = ["billing"] * 3 + ["login"] * 3 + ["fraud"] * 2 + ["password"] * 2
    predicted = ["billing", "account", "account", "billing"] + ["account"] * 6
    ModelVersion.objects.create(project=project, number=2, state=ModelVersion.ACTIVE, train_size=10, label_map=CLASSES,
                                metrics={"validation": classification_report(truth, predicted, None, CLASSES)})
    lead = make_user("lea")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    data = client.get(f"/api/projects/{project.slug}/dashboard/").json()
    shown = data["confusion"]
    assert shown["classes"] == CLASSES and shown["extra_columns"] == [FALLBACK_COLUMN] and shown["fallbacks"] == 8
    assert [sum(row) for row in shown["matrix"]] == [3, 2, 3, 2]  # billing, fraud, login, password
    point = data["learning_curve"][0]
    assert point["macro_f1"] is None and point["held_out_n"] == 10
    assert point["macro_f1_reason"] == f"10 held-out items over 4 labels: fewer than {MIN_N} per label"
