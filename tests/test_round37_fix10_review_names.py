"""The review page and its groups API show a task's labels by their names now, where the task
stored the labels' ids: a disagreement's answers (detail.answers[].label) and a label issue's "why"
line, written when the task was routed. After two labels swapped names, each keeps its own."""
import html
import uuid

import pytest

from labeling.annotations.disagreement import sync_disagreement
from labeling.annotations.models import Annotation, ReviewTask
from labeling.items.models import Item
from learner.text import text_hash

from .test_browse_api import api_as

pytestmark = pytest.mark.django_db


def _item(project, text):
    return Item.objects.create(project=project, source=project.sources.first(), text=text, text_hash=text_hash(text))


def _rename(lead, label, name):
    answer = lead.patch(f"/api/projects/alpha/labels/{label.pk}/", {"name": name}, format="json")
    assert answer.status_code == 200, answer.content


def test_disagreement_answers_and_label_issue_why_follow_renames(client, world, make_user):
    alpha, lead = world["alpha"], api_as(world["lead"])
    labels = {label.name: label for label in alpha.labels.all()}
    torn = _item(alpha, "charged twice and locked out")
    for user, name in ((world["annotator"], "billing"), (make_user("ann2"), "login")):
        Annotation.objects.create(project=alpha, item=torn, annotator=user, label=labels[name], client_id=uuid.uuid4())
    disagreement = sync_disagreement(alpha, torn.pk, added=True)
    assert [a["label"] for a in disagreement.detail["answers"]] == ["billing", "login"]
    # a label issue as the scan stores it (labeling.modeling.label_issues): names and ids, the learner's why
    issue = ReviewTask.objects.create(
        project=alpha, item=_item(alpha, "a card payment I never made"), reason=ReviewTask.LABEL_ISSUE,
        model_version=1, detail={
            "model_version": 1, "given_label": "billing", "given_label_id": labels["billing"].pk,
            "suggested_label": "fraud", "suggested_label_id": labels["fraud"].pk, "score": 0.05,
            "suggested_score": 0.89, "why": "labeled 'billing', but out-of-fold models give it 0.05 and 'fraud' 0.89"})
    # billing ⇄ fraud swapped (by way of a temporary name), login renamed
    _rename(lead, labels["billing"], "tmp")
    _rename(lead, labels["fraud"], "billing")
    _rename(lead, labels["billing"], "fraud")
    _rename(lead, labels["login"], "sign-in")
    answer = lead.get("/api/projects/alpha/review/groups/")
    assert answer.status_code == 200, answer.content
    tasks = {task["id"]: task for group in answer.json()["groups"] for task in group["tasks"]}
    assert [(a["label_id"], a["label"]) for a in tasks[disagreement.pk]["detail"]["answers"]] == [
        (labels["billing"].pk, "fraud"), (labels["login"].pk, "sign-in")]
    shown = tasks[issue.pk]["detail"]
    assert (shown["given_label"], shown["suggested_label"]) == ("fraud", "billing")
    assert shown["why"] == "labeled 'fraud', but out-of-fold models give it 0.05 and 'billing' 0.89"
    client.force_login(world["lead"])
    page = html.unescape(client.get("/p/alpha/review/").content.decode())
    assert "labeled 'fraud', but out-of-fold models give it 0.05 and 'billing' 0.89" in page
    assert "labeled 'billing'" not in page
    # nothing stored changes: the page reads the names at read time
    issue.refresh_from_db()
    assert issue.detail["why"].startswith("labeled 'billing'")
