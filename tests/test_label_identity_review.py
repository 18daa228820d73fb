"""The review queue keeps the model's label by identity through label renames: a task routed for
a class is filed under its label's name now, accepting it stores the label the model learned
(never another label that took its old name), the page's ``shown`` is compared with the name the
page shows, and the predict API's review gate reads thresholds through the class. Real label API,
real training path, routing and cleanlab scan, PostgreSQL in CI."""
import html
import re

import numpy as np
import pytest

from labeling.annotations.models import Annotation, ReviewTask
from labeling.modeling.models import Embedding, ModelVersion
from labeling.modeling.review import route_review
from labeling.projects.models import Membership
from tests import test_label_identity_helpers as helpers

pytestmark = pytest.mark.django_db
trained = helpers.trained


@pytest.fixture
def routed(trained):
    """The fixture's project with every unlabeled prediction doubtful (band 0–1) and half the pool
    routed to the queue; returns (project, client, version, labels, a task predicted as "neutral")."""
    project, client, version, labels = trained
    project.band_low, project.band_high = 0.0, 1.0
    project.review_share_min, project.review_share_max = 0.0, 0.5
    project.save()
    route_review(version)
    neutral = set(helpers.items_predicted(version, "neutral"))
    task = ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE, item_id__in=neutral,
                                     resolved_at__isnull=True).order_by("pk").first()
    assert task is not None
    return project, client, version, labels, task


def groups(client) -> dict[int, tuple[str, int | None, str | None]]:
    """task id → (group label, group label id, the task's model_label) as the review page reads them."""
    r = client.get(f"/api/projects/{helpers.SLUG}/review/groups/")
    assert r.status_code == 200, r.content
    return {task["id"]: (group["label"], group["label_id"], task["model_label"])
            for group in r.json()["groups"] for task in group["tasks"]}


def accept(client, task, shown_label):
    r = client.post(f"/api/projects/{helpers.SLUG}/review/bulk/", {
        "action": "accept", "tasks": [task.pk],
        "shown": [{"task": task.pk, "label": shown_label, "model_version": task.model_version}]}, format="json")
    assert r.status_code == 200, r.content
    return r.json()


def stored_label(task) -> int:
    return Annotation.objects.get(item_id=task.item_id, origin=Annotation.ADJUDICATION).label_id


def test_a_renamed_labels_tasks_are_filed_under_its_new_name_and_accepted_as_it(routed):
    project, client, version, labels, task = routed
    helpers.rename(client, labels["neutral"], "neutral2")
    assert groups(client)[task.pk] == ("neutral2", labels["neutral"].pk, "neutral2")
    body = accept(client, task, "neutral2")
    assert body["done"] == [task.pk], body
    assert stored_label(task) == labels["neutral"].pk


def test_after_a_swap_accept_stores_the_label_the_model_learned(routed):
    project, client, version, labels, task = routed
    helpers.swap(client, labels["neutral"], labels["positive"])
    # the class learned as "neutral" is the label now named "positive": the page shows that name
    assert groups(client)[task.pk] == ("positive", labels["neutral"].pk, "positive")
    body = accept(client, task, "positive")
    assert body["done"] == [task.pk], body
    assert stored_label(task) == labels["neutral"].pk
    assert ReviewTask.objects.get(pk=task.pk).resolved_label_id == labels["neutral"].pk


def test_a_page_that_showed_the_old_name_is_told_to_reload(routed):
    """The page loaded before the swap showed "neutral" for this task; "neutral" is another label
    now, so nothing is stored: the lead reloads and sees the label by its name now."""
    project, client, version, labels, task = routed
    helpers.swap(client, labels["neutral"], labels["positive"])
    body = accept(client, task, "neutral")
    assert body["done"] == [] and body["skipped"][0]["code"] == "prediction_changed", body
    assert not Annotation.objects.filter(item_id=task.item_id, origin=Annotation.ADJUDICATION).exists()


def test_a_routing_pass_after_a_rename_keeps_the_tasks_label(routed):
    project, client, version, labels, task = routed
    helpers.rename(client, labels["neutral"], "neutral2")
    route_review(ModelVersion.objects.get(pk=version.pk))
    task.refresh_from_db()
    assert task.resolved_at is None
    assert (task.detail["predicted"], task.detail["predicted_label_id"]) == ("neutral2", labels["neutral"].pk)


def unsure_text(version, learned: str, other: str) -> tuple[str, float]:
    """A new text whose (cached) vector lies between two classes' items, on the side of ``learned``
    with a top probability below 0.99 (the items themselves score 1.0): (text, probability)."""
    from labeling.modeling.embedding import model_id
    from labeling.modeling.embedding_store import vectors_for_items
    from labeling.modeling.versions import load_classifier
    from learner.text import exact_text_hash

    clf = load_classifier(version)
    means = [vectors_for_items(version.project_id, model_id(), helpers.items_predicted(version, name)).mean(axis=0)
             for name in (learned, other)]
    column = clf.classes_.index(learned)
    for share in np.linspace(0.5, 0.9, 81):
        vector = share * means[0] + (1 - share) * means[1]
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
        proba = clf.predict_proba(vector[None])[0]
        if proba.argmax() == column and proba[column] < 0.99:
            text = f"somewhere between {learned} and {other}"
            Embedding.objects.create(model_id=model_id(), text_hash=exact_text_hash(text), vector=vector.tobytes())
            return text, float(proba[column])
    raise AssertionError("no vector between the two classes came out unsure")


def test_the_predict_gate_reads_a_renamed_labels_threshold(trained):
    """Only the threshold makes these predictions doubtful (the band is empty): the gate must find
    the threshold the version learned for "neutral" when the API answers "neutral2"."""
    project, client, version, labels = trained
    project.band_low = project.band_high = 0.0
    project.review_share_min, project.review_share_max = 0.0, 0.5
    project.save()
    text, prob = unsure_text(version, "neutral", "negative")
    ModelVersion.objects.filter(pk=version.pk).update(thresholds={**version.thresholds, "neutral": 0.999})
    helpers.rename(client, labels["neutral"], "neutral2")
    r = client.post(f"/api/projects/{helpers.SLUG}/predict/", {"texts": [text], "queue_for_review": True},
                    format="json")
    assert r.status_code == 200, r.content
    [row] = r.json()["results"]
    assert row["label"] == "neutral2" and row["prob"] == pytest.approx(prob, abs=1e-4), row
    assert row["queued_for_review"], row["review_note"]
    task = ReviewTask.objects.get(item_id=row["queued_item"], reason=ReviewTask.LOW_CONFIDENCE)
    assert task.detail["predicted_label_id"] == labels["neutral"].pk
    assert task.detail["threshold"] == 0.999 and "below the threshold 1.00 of 'neutral2'" in task.detail["why"]


def test_a_label_issue_accepted_after_a_swap_stores_the_suggested_label(trained):
    """A labeled item whose label out-of-fold models find wrong: the suggestion is the label they
    learned, kept by id; accepting it after the names swapped stores that label."""
    from labeling.modeling.label_issues import scan_label_issues

    project, client, version, labels = trained
    project.review_share_max = 0.5
    project.save()
    # three items of the class learned as "neutral" labeled "negative" instead
    neutral_items = [a.item_id for a in Annotation.objects.filter(project=project, label=labels["neutral"])]
    wrong = neutral_items[:3]
    Annotation.objects.filter(item_id__in=wrong).update(label=labels["negative"])
    scan_label_issues(version)
    issues = ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE, item_id__in=wrong,
                                       detail__suggested_label="neutral")
    task = issues.order_by("pk").first()
    assert task is not None, list(ReviewTask.objects.filter(reason=ReviewTask.LABEL_ISSUE).values("item_id", "detail"))
    helpers.swap(client, labels["neutral"], labels["positive"])
    assert groups(client)[task.pk] == ("positive", labels["neutral"].pk, "positive")
    body = accept(client, task, "positive")
    assert body["done"] == [task.pk], body
    assert stored_label(task) == labels["neutral"].pk


def test_the_review_page_after_a_swap_shows_and_accepts_the_learned_label(routed):
    """The page (no JavaScript): the card shows the class learned as "neutral" by its label's name
    now, and its accept form stores that label."""
    project, client, version, labels, task = routed
    helpers.swap(client, labels["neutral"], labels["positive"])
    client.force_login(Membership.objects.get(project=project, role=Membership.LEAD).user)
    page = html.unescape(client.get(f"/p/{helpers.SLUG}/review/").content.decode())
    card = re.search(rf'<article class="review-task" id="task-{task.pk}".*?</article>', page, re.S).group(0)
    assert 'data-model-label="positive"' in card and "Accept “positive”" in card
    assert re.search(r"predicted <strong>positive</strong>", card)
    r = client.post(f"/p/{helpers.SLUG}/review/", {"action": "accept", "task": task.pk, "shown_label": "positive",
                                                  "shown_model_version": task.model_version})
    assert r.status_code in (200, 302), r.status_code
    assert stored_label(task) == labels["neutral"].pk
