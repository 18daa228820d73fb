"""The thresholds table's held-out precision is at the tuning mix (the pool's estimated one by
default); the per-class table's is at the labeled items' mix. The table only explained the
difference: the labeled-mix figure at the chosen threshold was not stored. Tuning now stores it
(held_out_precision_labeled_mix: the same kept predictions, at the labeled rows' own weights) and
the dashboard shows it beside the tuning-mix figure; a version trained before shows None ("—",
checked in tests/browser/test_round37_thresholds_browser.py)."""
import numpy as np
import pytest

from labeling.modeling.models import ModelVersion
from labeling.modeling.versions import active_model
from labeling.projects import dashboard
from labeling.projects.models import Label
from learner.label_shift import mix_weights
from learner.thresholds import cross_fit_thresholds
from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery
CLASSES = ["definition", "DESC", "entity"]
KEY = "held_out_precision_labeled_mix"


def _rows(seed=3, n=400):
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.2, 0.5, 0.3])
    logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return proba, y, np.arange(n) % 5


def test_the_labeled_mix_figure_is_the_same_kept_predictions_at_the_labeled_weights():
    proba, y, fold = _rows()
    labeled_w = np.ones(len(y))
    pool_w = mix_weights(y, labeled_w, np.array([0.05, 0.5, 0.45]))
    targets = {"definition": {"precision": 0.8}, "DESC": {"precision": 0.7}}
    _, table = cross_fit_thresholds(proba, y, CLASSES, targets, folds=fold, sample_weight=pool_w,
                                    labeled_weight=labeled_w)
    # Weighted only where the top prediction is right, every kept prediction counts as right: 1.0
    # wherever something is kept, whatever thresholds the folds chose.
    right_only = (proba.argmax(axis=1) == y).astype(float)
    _, right = cross_fit_thresholds(proba, y, CLASSES, targets, folds=fold, sample_weight=pool_w,
                                    labeled_weight=right_only)
    assert all(row[KEY] in (1.0, None) for row in right) and any(row[KEY] == 1.0 for row in right)
    # Weights scaled by a constant are the same mix: the same figure.
    _, doubled = cross_fit_thresholds(proba, y, CLASSES, targets, folds=fold, sample_weight=pool_w,
                                      labeled_weight=2 * labeled_w)
    assert [row[KEY] for row in doubled] == pytest.approx([row[KEY] for row in table])
    rare = table[0]
    # the rare label's confusers are more common at the pool's mix: its precision there is lower
    assert rare["held_out_precision"] < rare[KEY] - 0.05, rare
    # at the labeled weights themselves the two figures are one
    _, same = cross_fit_thresholds(proba, y, CLASSES, targets, folds=fold, sample_weight=labeled_w,
                                   labeled_weight=labeled_w)
    for row in same:
        assert row[KEY] == pytest.approx(row["held_out_precision"])
    # without labeled weights (a caller that does not reweight) no such figure is claimed
    _, plain = cross_fit_thresholds(proba, y, CLASSES, targets, folds=fold, sample_weight=labeled_w)
    assert all(KEY not in row for row in plain)


def test_labeled_weights_of_the_wrong_length_are_refused_by_name():
    proba, y, fold = _rows(n=50)
    with pytest.raises(ValueError, match=r"labeled_weight need 50 entries \(one per row\), got 50 and 3"):
        cross_fit_thresholds(proba, y, CLASSES, None, folds=fold, labeled_weight=np.ones(3))


@pytest.mark.django_db
def test_a_retrain_stores_the_figure_and_the_dashboard_shows_it_beside_the_pool_mix_one(
        project_factory, eager_celery, django_capture_on_commit_callbacks):
    project, _ = helpers.build_project(project_factory, slug="thr37", n_items=300, n_labeled=90)
    Label.objects.filter(project=project).update(precision_target=0.9)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    version = active_model(project)
    assert version.metrics["threshold_mix"]["used"] == "pool"
    stored = version.metrics["thresholds"]
    assert stored and all(KEY in row for row in stored), stored[0].keys()
    assert any(isinstance(row[KEY], float) and 0.0 <= row[KEY] <= 1.0 for row in stored), stored
    table = dashboard.dashboard_data(project)["thresholds"]
    keys = list(table["rows"][0])
    # beside the pool-mix precision and its interval, before recall
    assert keys[keys.index("held_out_precision") + 1:keys.index("held_out_recall")] == ["held_out_precision_95", KEY]
    by_label = {row["label"]: row for row in stored}
    for row in table["rows"]:
        assert row[KEY] == by_label[row["label"]][KEY]


@pytest.mark.django_db
def test_an_older_version_shows_none_and_a_labeled_mix_version_no_repeat_column(project_factory):
    project = project_factory("thr37b", labels=CLASSES)
    row = {"label": "definition", "target": {"precision": 0.9}, "threshold": 0.8, "precision_lower": 0.91,
           "feasible": True, "reason": None, "held_out_precision": 0.179, "held_out_recall": 0.2,
           "met": False, "met_reason": "held-out precision 0.179 < 0.9"}
    metrics = {"thresholds": [row], "threshold_mix": {"setting": "pool", "used": "pool", "unlabeled_rows": 844}}
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=199,
                                          label_map=CLASSES, metrics=metrics)
    shown = dashboard.dashboard_data(project)["thresholds"]["rows"][0]
    assert KEY in shown and shown[KEY] is None  # trained before the figure was stored: "—"
    # at the labeled mix the held-out precision already is the labeled-mix figure: no second column
    version.metrics = {**metrics, "threshold_mix": {"setting": "labeled", "used": "labeled"}}
    version.save(update_fields=["metrics"])
    assert KEY not in dashboard.dashboard_data(project)["thresholds"]["rows"][0]
    version.metrics = {"thresholds": [row]}  # no mix report at all: older still, at the labeled mix
    version.save(update_fields=["metrics"])
    assert KEY not in dashboard.dashboard_data(project)["thresholds"]["rows"][0]
