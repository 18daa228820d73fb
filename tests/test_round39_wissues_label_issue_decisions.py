"""A lead's answer to a label issue holds across retrains, whichever way it was given: the one-by-one
adjudication (``POST review/``, the card's "Resolve as <given label>") as well as the bulk relabel,
by the label's identity (a rename since does not lift it). A scan of a version replaced while it ran
leaves the queue as it is, also when no newer scan follows (nothing else writes it then)."""
from rest_framework.test import APIClient

from labeling.annotations.models import ReviewTask
from labeling.loop import tasks
from labeling.modeling import label_issues, scores, versions
from labeling.modeling.versions import active_model
from labeling.projects.models import Membership

from . import test_loop_helpers as helpers
from .test_label_issue_review import flipped  # noqa: F401 - the fixture: 150 labels, 8 flipped
from .test_round39_models_stale_issue_scan import _label_more_with_flips

eager_celery = helpers.eager_celery


def _open_issues(project):
    return {t.item_id: t for t in ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE,
                                                            resolved_at__isnull=True)}


def test_resolving_as_the_given_label_one_by_one_holds_after_a_rename_and_a_retrain(
        flipped, make_user, django_capture_on_commit_callbacks):  # noqa: F811
    project, truth, wrong = flipped
    lead = make_user("lea")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    client = APIClient()
    client.force_authenticate(lead)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    issues = _open_issues(project)
    hit = min(set(issues) & set(wrong))
    task = issues[hit]
    given = project.labels.get(pk=task.detail["given_label_id"])
    r = client.post(f"/api/projects/{project.slug}/review/", {"task": task.pk, "label": given.pk}, format="json")
    assert r.status_code == 200, r.content
    assert ReviewTask.objects.get(pk=task.pk).outcome == ReviewTask.RELABELED
    given.name = given.name + " (renamed)"
    given.save(update_fields=["name"])
    helpers.retrain(project, django_capture_on_commit_callbacks)
    assert active_model(project).number == 2
    again = _open_issues(project).get(hit)
    assert again is None, (
        f"the lead resolved item {hit} as its given label {given.name!r} (POST review/); model v2 asks again: "
        f"labeled {again.detail['given_label']!r}, suggested {again.detail['suggested_label']!r}")
    # the other flipped items the lead did not answer are still asked about
    assert set(_open_issues(project)) & (set(wrong) - {hit})


def test_a_scan_whose_version_was_replaced_meanwhile_leaves_the_queue_as_it_is(flipped, monkeypatch):  # noqa: F811
    project, truth, _ = flipped
    v1 = versions.train_version(project)
    scores.score_version(v1)
    versions.activate_version(v1)
    tasks.train_label_issues(v1.pk)
    before = {t.pk: (t.item_id, t.model_version, t.detail) for t in _open_issues(project).values()}
    assert before, "precondition: v1's scan opened label issues"
    # 60 more labels (6 wrong) come in; v1's scan runs again (a retry of the task, say): it reads them.
    _label_more_with_flips(project, truth)

    real = label_issues.out_of_fold_proba
    state = {}

    def oof_then_v2_serves(*args, **kwargs):
        out = real(*args, **kwargs)
        if "v2" not in state:  # v2 activates (its scan not run yet: a final model's activation queues none)
            v2 = versions.train_version(project)
            scores.score_version(v2)
            state["v2"] = versions.activate_version(v2)
        return out

    monkeypatch.setattr(label_issues, "out_of_fold_proba", oof_then_v2_serves)
    result = tasks.train_label_issues(v1.pk)
    assert "v2" in state and active_model(project).number == 2
    after = {t.pk: (t.item_id, t.model_version, t.detail) for t in _open_issues(project).values()}
    assert after == before, "the scan of the replaced v1 rewrote the queue after v2 activated"
    assert result["created"] == result["expired"] == result["rescored"] == 0, result
    assert "replaced" in result["note"] and "v2" in result["note"], result
