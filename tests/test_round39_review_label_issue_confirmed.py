"""A lead who answers a label issue by confirming the given label (the card's "Resolve as <given
label>" button, the label's key, or a bulk relabel to it) has decided the question the issue asked.
The next retrain must not put the same question ("labeled X, suggested Y") back in the queue, as it
does not after a dismissal."""
from rest_framework.test import APIClient

from labeling.annotations.models import ReviewTask
from labeling.modeling.versions import active_model
from labeling.projects.models import Membership

from . import test_loop_helpers as helpers
from .test_label_issue_review import flipped  # noqa: F401 - the fixture: 150 labels, 8 flipped

eager_celery = helpers.eager_celery


def _open_issues(project):
    return {t.item_id: t for t in ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE,
                                                            resolved_at__isnull=True)}


def test_a_label_issue_resolved_as_its_given_label_is_not_asked_again(flipped, make_user,  # noqa: F811
                                                                      django_capture_on_commit_callbacks):
    project, truth, wrong = flipped
    lead = make_user("lea")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    client = APIClient()
    client.force_authenticate(lead)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    issues = _open_issues(project)
    hit = min(set(issues) & set(wrong))
    task = issues[hit]
    given = project.labels.get(name=task.detail["given_label"])
    # The lead checks the text and decides the given label is right: "Resolve as <given label>".
    r = client.post(f"/api/projects/{project.slug}/review/bulk/",
                    {"action": "relabel", "tasks": [task.pk], "label": given.pk}, format="json")
    assert r.status_code == 200 and r.json()["done"] == [task.pk], r.content
    helpers.retrain(project, django_capture_on_commit_callbacks)
    assert active_model(project).number == 2
    again = _open_issues(project).get(hit)
    assert again is None, (
        f"the lead resolved item {hit} as {given.name!r}; model v2 asks the same question again: "
        f"labeled {again.detail['given_label']!r}, suggested {again.detail['suggested_label']!r}")
