"""A retrain failed while its version waited ``ready`` (scoring) fails that version, with a message
that names its own run (labeling.loop.runs._fail_orphaned_versions); a final model's ready version
(a finished model, kept for export) stays. The versions of several failed retrains are failed by
one UPDATE; before, one per run."""
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.test_loop_helpers import build_project

STALE = 60


def _message(run_id: int) -> str:
    return f"Not activated: its retrain (task {run_id}) was interrupted before the pool was scored under it."


def _ready_version_updates(queries) -> list[str]:
    from labeling.modeling.models import ModelVersion

    table = connection.ops.quote_name(ModelVersion._meta.db_table)
    return [q["sql"] for q in queries if q["sql"].startswith(f"UPDATE {table}") and "'ready'" in q["sql"]]


def _final_model_version(project, number):
    from labeling.modeling.models import ModelVersion, TaskRun

    final_run = TaskRun.objects.create(project=project, kind="final_model", state=TaskRun.FAILED, message="x")
    return final_run, ModelVersion.objects.create(project=project, number=number, state=ModelVersion.READY,
                                                  config={"task_run": final_run.pk, "kind": "final"})


def test_the_ready_versions_of_several_failed_retrains_fail_in_one_update(db, project_factory):
    from labeling.loop.runs import _fail_orphaned_versions
    from labeling.modeling.models import ModelVersion, TaskRun

    project, _ = build_project(project_factory, slug="orphans", n_items=20, n_labeled=8)
    final_run, kept = _final_model_version(project, 1)
    versions = {}
    for number in range(2, 6):  # each failed (one retrain is open at a time), its version left ready
        run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.FAILED, message="Interrupted")
        versions[run.pk] = ModelVersion.objects.create(project=project, number=number, state=ModelVersion.READY,
                                                       config={"task_run": run.pk})
    other = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.FAILED, message="not this one")
    untouched = ModelVersion.objects.create(project=project, number=9, state=ModelVersion.READY,
                                            config={"task_run": other.pk})
    with CaptureQueriesContext(connection) as queries:
        _fail_orphaned_versions(project.pk, [*versions, final_run.pk])
    assert len(_ready_version_updates(queries)) == 1, _ready_version_updates(queries)
    for run_id, version in versions.items():
        version.refresh_from_db()
        assert (version.state, version.error) == (ModelVersion.FAILED, _message(run_id))
    for version in (kept, untouched):
        version.refresh_from_db()
        assert version.state == ModelVersion.READY and version.error == "", version


def test_the_sweep_fails_each_projects_ready_version_with_its_own_runs_message(db, project_factory, settings):
    from labeling.loop.runs import expire_stale_runs
    from labeling.modeling.models import ModelVersion, TaskRun

    settings.LONGTAIL_TASK_STALE_SECONDS = STALE
    versions, kept = {}, []
    for n in range(3):
        project, _ = build_project(project_factory, slug=f"orphans-{n}", n_items=20, n_labeled=8)
        kept.append(_final_model_version(project, 1)[1])
        run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING, detail={"stage": "score"})
        versions[run.pk] = ModelVersion.objects.create(project=project, number=2, state=ModelVersion.READY,
                                                       config={"task_run": run.pk})
    TaskRun.objects.filter(state=TaskRun.RUNNING).update(updated_at=timezone.now() - timedelta(seconds=STALE + 1))
    assert sorted(r.pk for r in expire_stale_runs()) == sorted(versions)
    for run_id, version in versions.items():
        version.refresh_from_db()
        assert (version.state, version.error) == (ModelVersion.FAILED, _message(run_id))
    for version in kept:
        version.refresh_from_db()
        assert version.state == ModelVersion.READY, version


def test_a_retrain_given_up_fails_its_ready_version_with_the_same_message(db, project_factory):
    """A run given up (delivered too often) goes through the same rule."""
    from labeling.loop.runs import give_up_run
    from labeling.modeling.models import ModelVersion, TaskRun

    project, _ = build_project(project_factory, slug="orphans-one", n_items=20, n_labeled=8)
    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING, detail={"stage": "score"})
    version = ModelVersion.objects.create(project=project, number=2, state=ModelVersion.READY,
                                          config={"task_run": run.pk})
    give_up_run(run.pk, "Stopped: score_chunk was delivered 4 times.")
    version.refresh_from_db()
    assert (version.state, version.error) == (ModelVersion.FAILED, _message(run.pk))
