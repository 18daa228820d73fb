"""The label-issue scan after a retrain reads the labels and the lead's dismissals first, then spends
the out-of-fold training (seconds to minutes on a real project) before it writes the queue. A lead
working the queue meanwhile dismisses or relabels a label issue; the scan must not then open a fresh
task with the question the lead just answered ("labeled X, suggested Y"), nor one claiming a label the
item no longer has.

The lead's request is made, through the bulk API, at the point where the scan's out-of-fold step has
finished (the real step runs; the wrapper only places the request in that window)."""
from rest_framework.test import APIClient

from labeling.annotations.models import ReviewTask
from labeling.annotations.review_services import model_label_name
from labeling.modeling import label_issues
from labeling.projects.models import Membership

from . import test_loop_helpers as helpers
from .test_label_issue_review import flipped  # noqa: F401 - the fixture: 150 labels, 8 flipped

eager_celery = helpers.eager_celery


def _open_issues(project):
    return {t.item_id: t for t in ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE,
                                                            resolved_at__isnull=True)}


def _lead_client(project, make_user):
    lead = make_user("lea")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    client = APIClient()
    client.force_authenticate(lead)
    return client


def _during_scan(monkeypatch, action):
    real = label_issues.out_of_fold_proba
    done = []

    def oof_then_lead_acts(*args, **kwargs):
        out = real(*args, **kwargs)
        if not done:
            done.append(action())
        return out
    monkeypatch.setattr(label_issues, "out_of_fold_proba", oof_then_lead_acts)
    return done


def test_a_label_issue_dismissed_while_the_next_scan_runs_does_not_come_back(
        flipped, make_user, monkeypatch, django_capture_on_commit_callbacks):  # noqa: F811
    project, truth, wrong = flipped
    client = _lead_client(project, make_user)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    issues = _open_issues(project)
    hit = min(set(issues) & set(wrong))
    task = issues[hit]

    def dismiss():
        r = client.post(f"/api/projects/{project.slug}/review/bulk/",
                        {"action": "dismiss", "tasks": [task.pk],
                         "shown": [{"task": task.pk, "label": model_label_name(task),
                                    "model_version": task.model_version}]}, format="json")
        assert r.status_code == 200 and r.json()["done"] == [task.pk], r.content
        return r
    done = _during_scan(monkeypatch, dismiss)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    assert done, "the scan did not run"
    assert ReviewTask.objects.get(pk=task.pk).outcome == ReviewTask.DISMISSED
    back = _open_issues(project).get(hit)
    assert back is None, (
        f"the lead dismissed task {task.pk} (item {hit}: the label {task.detail['given_label']!r} stands); "
        f"the retrain running meanwhile opened task {back.pk} with the same question: labeled "
        f"{back.detail['given_label']!r}, suggested {back.detail['suggested_label']!r}")
    # and the next retrain keeps it closed (the dismissal holds)
    monkeypatch.undo()
    helpers.retrain(project, django_capture_on_commit_callbacks)
    assert hit not in _open_issues(project)


def test_a_label_issue_relabeled_while_the_next_scan_runs_gets_no_task_claiming_the_old_label(
        flipped, make_user, monkeypatch, django_capture_on_commit_callbacks):  # noqa: F811
    project, truth, wrong = flipped
    client = _lead_client(project, make_user)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    issues = _open_issues(project)
    hit = min(set(issues) & set(wrong))
    task = issues[hit]
    right = project.labels.get(name=truth[hit])

    def relabel():
        r = client.post(f"/api/projects/{project.slug}/review/bulk/",
                        {"action": "relabel", "tasks": [task.pk], "label": right.pk}, format="json")
        assert r.status_code == 200 and r.json()["done"] == [task.pk], r.content
        return r
    done = _during_scan(monkeypatch, relabel)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    assert done, "the scan did not run"
    stale = [t for t in ReviewTask.objects.filter(item_id=hit, reason=ReviewTask.LABEL_ISSUE, resolved_at__isnull=True)
             if t.detail.get("given_label_id") != right.pk]
    assert not stale, (
        f"item {hit} is labeled {right.name!r} by the lead; the retrain running meanwhile opened "
        f"{[(t.pk, t.detail['given_label'], t.detail['suggested_label']) for t in stale]} "
        "claiming it is labeled otherwise")
