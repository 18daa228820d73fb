"""Pruning model versions (labeling.modeling.retention) on versions made by real retrains: the old
versions' pool scores and head files go, their rows and metrics stay (the dashboard's learning curve
is unchanged), their scores of wave picks stay (the estimates read them); the active version, the
newest ``keep`` and a version an open task run holds keep everything and still load. A second run
frees nothing; a version that falls out of the newest ``keep`` after another retrain goes next."""
from types import SimpleNamespace

import pytest

from labeling.modeling.artifact_paths import head_file_path, pruned_message
from labeling.modeling.models import ItemScore, ModelVersion, TaskRun
from labeling.modeling.retention import prune_project, retention_plan
from labeling.modeling.versions import _CLASSIFIERS, load_classifier
from labeling.projects.dashboard import dashboard_data
from tests import test_loop_helpers as helpers
from tests.test_retention_helpers import picked_items, retrain_once, retrained, score_counts, tree_bytes

eager_celery = helpers.eager_celery


@pytest.fixture(scope="module")
def _built(django_db_setup, django_db_blocker, tmp_path_factory):
    """Five real retrains, once for the module (each test rolls back to them, and gets their files
    back, in ``five_versions``)."""
    root = tmp_path_factory.mktemp("retention-service")
    with helpers.shared_db_state(django_db_blocker, root / "artifacts") as capture, pytest.MonkeyPatch.context() as mp:
        project = retrained(helpers.make_project, capture, SimpleNamespace(), mp, root, versions=5)
        yield project.pk, root / "artifacts", helpers.snapshot_artifacts(root / "artifacts")


@pytest.fixture
def five_versions(_built, db, eager_celery, settings, monkeypatch):
    from labeling.modeling import versions as modeling_versions
    from labeling.projects.models import Project

    project_pk, artifacts, pristine = _built
    settings.LONGTAIL_ARTIFACT_DIR = artifacts
    monkeypatch.setattr(modeling_versions, "ARTIFACT_DB_MAX_BYTES", 0)  # every head goes to a file
    helpers.restore_artifacts(artifacts, pristine)
    _CLASSIFIERS.clear()
    return Project.objects.get(pk=project_pk)


def versions_of(project) -> dict[int, ModelVersion]:
    return {v.number: v for v in ModelVersion.objects.filter(project=project).select_related("project")}


def test_pruning_removes_old_scores_and_files_and_keeps_rows_metrics_and_recent_versions(five_versions):
    project = five_versions
    before = versions_of(project)
    heads = {n: head_file_path(v) for n, v in before.items()}
    assert all(path.is_file() for path in heads.values())
    head_bytes = {n: tree_bytes(path) for n, path in heads.items()}
    counts = score_counts(project)
    assert set(counts.values()) == {160}
    picked = picked_items(project)
    assert 0 < len(picked) < 160
    curve = dashboard_data(project)["learning_curve"]
    assert [p["version"] for p in curve] == [1, 2, 3, 4, 5] and all(p["macro_f1"] is not None for p in curve)

    report = prune_project(project, keep=2)

    assert [v.number for v in report.versions] == [1, 2, 3]
    assert all(v.skipped is None for v in report.versions)
    after = versions_of(project)
    assert set(after) == {1, 2, 3, 4, 5}  # rows stay
    for n in (1, 2, 3):
        version, entry = after[n], report.versions[n - 1]
        assert version.pruned_at is not None and version.state == before[n].state
        assert version.metrics == before[n].metrics and version.train_size == before[n].train_size
        assert version.artifact is None and version.artifact_path == ""
        assert not heads[n].exists()
        kept_rows = set(ItemScore.objects.filter(model_version=version).values_list("item_id", flat=True))
        assert kept_rows == picked  # the picks' predictions, which the estimates read
        assert entry.score_rows == counts[n] - len(picked)
        assert entry.files == [heads[n]] and entry.file_bytes == head_bytes[n]
        assert pruned_message(version).startswith(f"Model version {n} of kept was pruned on ")
    for n in (4, 5):
        assert after[n].pruned_at is None and after[n].artifact_path and heads[n].is_file()
        assert ItemScore.objects.filter(model_version=after[n]).count() == counts[n]
        _CLASSIFIERS.clear()
        assert list(load_classifier(after[n]).classes_) == after[n].label_map
    assert after[5].state == ModelVersion.ACTIVE
    assert report.kept == {5: ["active (it serves)", "among the newest 2 trained"], 4: ["among the newest 2 trained"]}
    assert dashboard_data(project)["learning_curve"] == curve


def test_a_second_run_frees_nothing_and_the_next_retrain_lets_one_more_go(five_versions,
                                                                          django_capture_on_commit_callbacks):
    project = five_versions
    prune_project(project, keep=2)
    again = prune_project(project, keep=2)
    assert again.versions == []
    retrain_once(project, django_capture_on_commit_callbacks)
    report = prune_project(project, keep=2)
    assert [v.number for v in report.versions] == [4]
    pruned = dict(ModelVersion.objects.filter(project=project, pruned_at__isnull=False).values_list("number", "state"))
    assert pruned == {1: "retired", 2: "retired", 3: "retired", 4: "retired"}


def test_a_version_an_open_task_run_holds_is_kept(five_versions):
    project = five_versions
    held = ModelVersion.objects.get(project=project, number=2)
    run = TaskRun.objects.create(project=project, kind="final_model", state=TaskRun.RUNNING,
                                 detail={"stage": "score", "model_version": 2, "model_version_id": held.pk})
    plan = retention_plan(project, keep=1)
    assert plan.kept[2] == [f"held by task run {run.pk} (final_model, still open)"]
    report = prune_project(project, keep=1)
    assert [v.number for v in report.versions] == [1, 3, 4]
    held.refresh_from_db()
    assert held.pruned_at is None and head_file_path(held).is_file()
    assert ItemScore.objects.filter(model_version=held).count() == 160


def test_failed_versions_are_pruned_and_do_not_count_as_kept(five_versions):
    project = five_versions
    ModelVersion.objects.filter(project=project, number=4).update(state=ModelVersion.FAILED, error="Scoring failed.")
    report = prune_project(project, keep=2)
    # the newest two that trained are v5 and v3: the failed v4 is no version to fall back on
    assert [v.number for v in report.versions] == [1, 2, 4]
    assert set(report.kept) == {3, 5}


def test_keep_below_one_is_refused(five_versions):
    with pytest.raises(ValueError, match="keep must be a whole number of at least 1"):
        prune_project(five_versions, keep=0)
    assert not ModelVersion.objects.filter(pruned_at__isnull=False).exists()
