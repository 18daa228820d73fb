"""After a retrain, likely mislabeled items go to the review queue as label issues (cleanlab on
out-of-fold probabilities); a later model closes the ones it no longer flags."""
import numpy as np
import pytest

from labeling.annotations.models import Annotation, ReviewTask
from labeling.modeling.label_issues import scan_label_issues
from labeling.modeling.versions import active_model
from learner.oof_proba import out_of_fold_proba

from . import test_loop_helpers as helpers

eager_celery = helpers.eager_celery
FLIPS = 8


@pytest.fixture
def flipped(db, project_factory, eager_celery):
    """150 labeled items of 300, 8 of them (about 5 %) given a wrong label at random."""
    project, truth = helpers.build_project(project_factory, slug="issues", n_labeled=150, seed=3)
    rng = np.random.default_rng(7)
    labels = {label.name: label for label in project.labels.all()}
    imported = list(Annotation.objects.filter(project=project).order_by("item_id"))
    wrong = {}
    for annotation in rng.choice(imported, size=FLIPS, replace=False):
        other = rng.choice(sorted(set(labels) - {annotation.label.name}))
        annotation.label = labels[other]
        annotation.save(update_fields=["label"])
        wrong[annotation.item_id] = other
    return project, truth, wrong


def open_issues(project):
    return {t.item_id: t for t in ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE,
                                                            resolved_at__isnull=True)}


def test_a_retrain_sends_flipped_labels_to_review_with_the_detail(flipped, django_capture_on_commit_callbacks):
    project, truth, wrong = flipped
    helpers.retrain(project, django_capture_on_commit_callbacks)
    version = active_model(project)
    issues = open_issues(project)
    hits = set(issues) & set(wrong)
    # measured on this fixture: every flip found, nothing else flagged; the bounds leave room
    assert len(hits) >= FLIPS - 2, (sorted(issues), sorted(wrong))
    assert len(hits) >= 0.7 * len(issues)
    assert len(issues) <= int(project.review_share_max * 150)
    for item_id in hits:
        detail = issues[item_id].detail
        assert detail["given_label"] == wrong[item_id]
        assert detail["suggested_label"] == truth[item_id]
        assert 0 <= detail["score"] < detail["suggested_score"] <= 1
        assert issues[item_id].model_version == version.number
    # Relabeling fixes the items; the next model's scan closes their tasks.
    labels = {label.name: label for label in project.labels.all()}
    for item_id in wrong:
        Annotation.objects.create(project=project, item_id=item_id, label=labels[truth[item_id]],
                                  origin=Annotation.ADJUDICATION)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    assert active_model(project).number == version.number + 1
    closed = ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE, outcome=ReviewTask.EXPIRED)
    assert hits <= set(closed.values_list("item_id", flat=True))
    assert not hits & set(open_issues(project))


def test_too_few_labels_flag_nothing(db, project_factory, eager_celery, django_capture_on_commit_callbacks):
    project, _ = helpers.build_project(project_factory, slug="few", n_labeled=12)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    scan = scan_label_issues(active_model(project))
    assert scan.flagged == 0 and "too few" in scan.note
    assert not open_issues(project)


def test_out_of_fold_rows_are_scored_by_models_that_never_saw_them():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    y = np.array(["a", "b"] * 30, dtype=object)  # labels unrelated to X
    X[:, 0] += np.where(y == "a", 3.0, -3.0)
    # Row 0 gets the label of the other cluster: in-sample it would be fitted, out of fold it is not.
    y[0] = "b"
    rows, proba, classes = out_of_fold_proba(X, y, folds=5)
    assert classes == ["a", "b"] and len(rows) == 60
    assert np.allclose(proba.sum(axis=1), 1)
    assert proba[list(rows).index(0), classes.index("b")] < 0.2
    with pytest.raises(ValueError, match="groups has 3 rows"):
        out_of_fold_proba(X, y, groups=[1, 2, 3])


def test_the_scan_runs_on_the_train_queue():
    from config.celery import app
    from labeling.loop import tasks

    assert app.amqp.router.route({}, tasks.train_label_issues.name)["queue"].name == "train"
