"""A final model's execution that runs late: its run (and with it its version) was failed by the
stale-run sweep while it fine-tuned, so finish_version refuses its result (VersionAbandoned). The
folder it saved under LONGTAIL_ARTIFACT_DIR/<project>/final-v<N>/ is removed again, since that
version is failed and never served or exported; a version that is ready keeps its folder. The real
training path on a tiny project (a few CPU fine-tuning steps)."""
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from labeling.loop.runs import expire_stale_runs
from labeling.modeling.final import train_final_version
from labeling.modeling.models import ModelVersion, TaskRun
from labeling.modeling.versions import VersionAbandoned, discard_failed_version_folder
from tests import test_loop_helpers as helpers

tiny_finetune = helpers.tiny_finetune


@pytest.fixture
def final_run(db, project_factory, tiny_finetune, settings):
    settings.LONGTAIL_TASK_STALE_SECONDS = 60
    project, _ = helpers.build_project(project_factory, slug="late-final", n_items=40, n_labeled=16)
    run = TaskRun.objects.create(project=project, kind="final_model", state=TaskRun.RUNNING, detail={"stage": "train"})
    return project, run


def folder_of(project, version) -> Path:
    return Path(settings.LONGTAIL_ARTIFACT_DIR) / project.slug / f"final-v{version.number}"


def test_a_final_model_abandoned_by_the_sweep_leaves_no_folder(final_run):
    project, run = final_run
    swept = []

    def worker_freezes_then_goes_on(share, message):
        # The heartbeat stopped 61 s ago: the sweep fails the run and the version it trains.
        if not swept:
            TaskRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(seconds=61))
            swept.extend(expire_stale_runs(project))

    with pytest.raises(VersionAbandoned, match="late result is not stored"):
        train_final_version(project, run_id=run.pk, on_progress=worker_freezes_then_goes_on)
    assert [r.pk for r in swept] == [run.pk]
    version = ModelVersion.objects.get(project=project, config__task_run=run.pk)
    assert version.state == ModelVersion.FAILED and version.error.startswith("Interrupted")  # the sweep's reason
    # before: final-v<N>/ (encoder and head) stayed on disk for a version nothing serves
    assert not folder_of(project, version).exists()
    assert [path for path in Path(settings.LONGTAIL_ARTIFACT_DIR).rglob("*") if path.is_file()] == []


def test_a_late_execution_never_removes_the_folder_of_a_ready_version(final_run):
    project, run = final_run
    finished = []

    def another_delivery_finishes_it(share, message):
        # The same version was finished meanwhile (a second execution of the task): this one's
        # result is refused, and the folder now belongs to a ready version.
        if not finished:
            finished.append(ModelVersion.objects.filter(project=project, config__task_run=run.pk).update(
                state=ModelVersion.READY))

    with pytest.raises(VersionAbandoned, match="is ready now"):
        train_final_version(project, run_id=run.pk, on_progress=another_delivery_finishes_it)
    version = ModelVersion.objects.get(project=project, config__task_run=run.pk)
    assert version.state == ModelVersion.READY and folder_of(project, version).is_dir()
    assert discard_failed_version_folder(version, folder_of(project, version)) is False
    assert (folder_of(project, version) / "encoder" / "config.json").is_file()
    ModelVersion.objects.filter(pk=version.pk).update(state=ModelVersion.FAILED)
    assert discard_failed_version_folder(version, folder_of(project, version)) is True
    assert not folder_of(project, version).exists()
