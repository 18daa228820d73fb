"""The label-issue scan of a model version that was replaced while it ran must not rewrite the
review queue over the scan of the version that serves now.

``train_label_issues`` runs on the train queue beside the planning (docs/loop.md), and a deployment
with two workers on that queue (the CPU worker and the GPU worker of docker-compose.yml) runs it
beside the next retrain. The task checks that its version is active only when it starts; the
out-of-fold training then takes seconds to minutes. When the next version activates and scans
meanwhile, the older scan ends last and its ``_sync_tasks`` wins: label issues the serving model
found on labels given since (items the older scan never read) are closed as "model v1's out-of-fold
models no longer flag the label", and the tasks left are stamped with the retired version.

The newer version is trained, activated and scanned at the point where v1's scan has finished its
out-of-fold step (a wrapper around the real step only places the other work in that window)."""
import numpy as np

from labeling.annotations.models import Annotation, ReviewTask
from labeling.modeling import label_issues, scores, versions
from labeling.modeling.versions import active_model

from . import test_loop_helpers as helpers
from .test_label_issue_review import flipped  # noqa: F401 - the fixture: 150 labels, 8 flipped

eager_celery = helpers.eager_celery


def _open_issues(project):
    return {t.item_id: t for t in ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE,
                                                            resolved_at__isnull=True)}


def _label_more_with_flips(project, truth, n=60, flips=6, seed=11):
    """``n`` more imported labels on unlabeled items, ``flips`` of them wrong. Returns the flipped ids."""
    rng = np.random.default_rng(seed)
    labels = {label.name: label for label in project.labels.all()}
    labeled = set(Annotation.objects.filter(project=project).values_list("item_id", flat=True))
    fresh = [item_id for item_id in sorted(truth) if item_id not in labeled][:n]
    wrong = set(rng.choice(fresh, size=flips, replace=False).tolist())
    for item_id in fresh:
        name = truth[item_id]
        if item_id in wrong:
            name = str(rng.choice(sorted(set(labels) - {name})))
        Annotation.objects.create(project=project, item_id=item_id, label=labels[name], origin=Annotation.IMPORT)
    return wrong


def test_a_replaced_versions_scan_does_not_overwrite_the_serving_versions_label_issues(flipped, monkeypatch):  # noqa: F811
    from labeling.loop import tasks

    project, truth, _ = flipped
    v1 = versions.train_version(project)
    scores.score_version(v1)
    versions.activate_version(v1)

    real = label_issues.out_of_fold_proba
    state = {"inside": False, "v2": None, "v2_open": None, "new_flips": None}

    def oof_then_the_next_version_serves(*args, **kwargs):
        out = real(*args, **kwargs)
        if state["inside"] or state["v2"] is not None:
            return out
        state["inside"] = True
        try:  # v1's scan is past its out-of-fold step: new labels come in, v2 trains, activates, scans
            state["new_flips"] = _label_more_with_flips(project, truth)
            v2 = versions.train_version(project)
            scores.score_version(v2)
            versions.activate_version(v2)
            tasks.train_label_issues(v2.pk)
            state["v2"], state["v2_open"] = v2, _open_issues(project)
        finally:
            state["inside"] = False
        return out

    monkeypatch.setattr(label_issues, "out_of_fold_proba", oof_then_the_next_version_serves)
    tasks.train_label_issues(v1.pk)  # started while v1 served, as the worker ran it
    v2 = state["v2"]
    assert v2 is not None and active_model(project).pk == v2.pk
    found_by_v2 = set(state["v2_open"]) & state["new_flips"]
    assert found_by_v2, "precondition: v2's scan flags some of the labels given after v1's scan read them"

    now = _open_issues(project)
    lost = sorted(found_by_v2 - set(now))
    stamped = sorted({t.model_version for t in now.values()})
    closed = [ReviewTask.objects.get(project=project, item_id=i, reason=ReviewTask.LABEL_ISSUE).detail.get("closed")
              for i in lost[:2]]
    assert not lost and stamped in ([], [v2.number]), (
        f"model v{v2.number} serves and flagged items {sorted(found_by_v2)}; after the replaced v{v1.number}'s "
        f"scan ended, {lost} of them are closed ({closed}) and the open label issues are stamped with versions "
        f"{stamped}")


def test_with_a_real_two_process_worker_the_replaced_versions_scan_lands_last(transactional_db, project_factory,
                                                                               tmp_path):
    """The same on the real stack: one Celery worker with two processes on every queue (as
    docker-compose's CPU worker runs). v1 (torch head: its out-of-fold scan takes a while) serves;
    right after its retrain ends, 60 more labels come in and a logistic-regression v2 retrains in the
    other process, activates and scans, before v1's scan ends."""
    import time

    from labeling.loop.triggers import request_retrain
    from labeling.modeling.models import TaskRun
    from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop, wait_for_run

    require_redis()
    require_postgres()
    fresh_broker()
    project, truth = helpers.build_project(project_factory, slug="twoproc", n_labeled=150, seed=3)
    project.head = "torch"
    project.save()
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [start_worker(path, LONGTAIL_ARTIFACT_DIR=str(tmp_path / "artifacts")) for path in logs]

    def scans() -> list[str]:
        lines = [line for path in logs for line in path.read_text().splitlines() if "label issues for twoproc" in line]
        return sorted(lines)  # each line starts with its time

    try:
        first = wait_for_run(request_retrain(project), workers, logs)
        assert first.state == TaskRun.DONE, first.message
        new_flips = _label_more_with_flips(project, truth)
        project.head = "logreg"
        project.save()
        second = wait_for_run(request_retrain(project), workers, logs)
        assert second.state == TaskRun.DONE, second.message
        deadline = time.monotonic() + 120
        while len(scans()) < 2:
            assert time.monotonic() < deadline, [path.read_text()[-2000:] for path in logs]
            time.sleep(0.3)
    finally:
        for worker in workers:
            stop(worker)
    order = [line.split("label issues for twoproc ")[1][:3] for line in scans()]
    v2 = active_model(project)
    # label issues closed by the scan of a version that no longer served when it wrote
    by_stale = [(t.item_id, t.detail.get("closed")) for t in ReviewTask.objects.filter(
        project=project, reason=ReviewTask.LABEL_ISSUE, outcome=ReviewTask.EXPIRED)
        if str(t.detail.get("closed", "")).startswith("model v") and
        not str(t.detail.get("closed", "")).startswith(f"model v{v2.number}'s")]
    stamped = sorted({t.model_version for t in _open_issues(project).values()})
    assert not by_stale and stamped in ([], [v2.number]), (
        f"scans ended in the order {order}; model v{v2.number} serves, yet label issues were closed by "
        f"the replaced version's scan: {by_stale[:4]} ({len(by_stale)} in all; new wrong labels "
        f"{sorted(new_flips)}), open ones stamped {stamped}")
