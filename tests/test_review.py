"""Disagreements and low-confidence predictions land in the lead's queue; adjudication resolves them."""
import uuid

import pytest
from rest_framework.test import APIClient

from labeling.annotations import leasing, services
from labeling.annotations.models import Annotation, Assignment, ReviewTask
from labeling.annotations.signals import answer_saved
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, make_open_wave  # noqa: F401


@pytest.fixture
def project(project_factory):
    return project_factory("rev", labels=("billing", "login", "fraud"))


@pytest.fixture
def people(make_user, project):
    return {
        "ann": add_member(make_user, project, "ann"),
        "bob": add_member(make_user, project, "bob"),
        "lea": add_member(make_user, project, "lea", role=Membership.LEAD),
    }


@pytest.fixture
def wave_items(project):
    # item 0 double-labeled; item 1 keeps the wave open whatever happens to item 0
    return make_open_wave(project, 2, double={0}, texts=["<i>charged</i> twice?", "spare"])[1]


def label(project, name):
    return project.labels.get(name=name)


def give(project, user, item, name=None, skip=False):
    leasing.lease_batch(project, user, size=1)
    assignment = Assignment.objects.get(annotator=user, wave_item__item=item)
    return services.submit_answer(
        project, user, client_id=uuid.uuid4(), assignment_id=assignment.pk,
        label_id=None if skip else label(project, name).pk, skipped=skip, skip_reason="unclear" if skip else "",
    )


def test_disagreeing_second_answer_opens_a_task(project, people, wave_items):
    give(project, people["ann"], wave_items[0], "billing")
    result = give(project, people["bob"], wave_items[0], "fraud")
    task = ReviewTask.objects.get()
    assert result.review_task == task
    assert (task.reason, task.item_id, task.resolved_at) == (ReviewTask.DISAGREEMENT, wave_items[0].pk, None)
    assert sorted((a["annotator"], a["label"]) for a in task.detail["answers"]) == [("ann", "billing"), ("bob", "fraud")]


def test_agreement_or_a_skip_opens_nothing(project, people, wave_items):
    give(project, people["ann"], wave_items[0], "billing")
    give(project, people["bob"], wave_items[0], skip=True)
    assert not ReviewTask.objects.exists()
    services.undo_last_answer(project, people["bob"])
    assert Assignment.objects.get(annotator=people["bob"], wave_item__item=wave_items[0]).state == Assignment.LEASED
    assignment = Assignment.objects.get(annotator=people["bob"], wave_item__item=wave_items[0])
    services.submit_answer(project, people["bob"], client_id=uuid.uuid4(), assignment_id=assignment.pk,
                           label_id=label(project, "billing").pk)
    assert not ReviewTask.objects.exists()


def test_undoing_the_disagreeing_answer_withdraws_the_task(project, people, wave_items):
    give(project, people["ann"], wave_items[0], "billing")
    give(project, people["bob"], wave_items[0], "fraud")
    assert ReviewTask.objects.count() == 1
    services.undo_last_answer(project, people["bob"])
    assert not ReviewTask.objects.exists()


def test_resolving_stores_an_adjudication_and_closes_every_open_task_of_the_item(project, people, wave_items):
    give(project, people["ann"], wave_items[0], "billing")
    give(project, people["bob"], wave_items[0], "fraud")
    # The planner's review share: a low-confidence prediction on the same item.
    ReviewTask.objects.create(project=project, item=wave_items[0], reason=ReviewTask.LOW_CONFIDENCE,
                              detail={"predicted_label": "login", "prob": 0.41})
    disagreement = ReviewTask.objects.get(reason=ReviewTask.DISAGREEMENT)
    sent = []
    answer_saved.connect(lambda sender, project, item, **kw: sent.append(item.pk), weak=False, dispatch_uid="rv")
    try:
        client = APIClient()
        client.force_authenticate(people["lea"])
        response = client.post("/api/projects/rev/review/", {"task": disagreement.pk,
                               "label": label(project, "fraud").pk}, format="json")
    finally:
        answer_saved.disconnect(dispatch_uid="rv")
    assert response.status_code == 200, response.content
    assert sent == [wave_items[0].pk]
    adjudication = Annotation.objects.get(origin=Annotation.ADJUDICATION)
    assert (adjudication.label.name, adjudication.annotator, adjudication.item_id) == (
        "fraud", people["lea"], wave_items[0].pk)
    assert ReviewTask.objects.filter(resolved_at__isnull=True).count() == 0
    assert set(ReviewTask.objects.values_list("resolved_label__name", flat=True)) == {"fraud"}

    again = client.post("/api/projects/rev/review/", {"task": disagreement.pk, "label": label(project, "login").pk},
                        format="json")
    assert again.status_code == 409 and "already resolved by lea" in again.json()["detail"]
    assert Annotation.objects.filter(origin=Annotation.ADJUDICATION).count() == 1


def test_resolve_errors_name_the_problem(project, project_factory, people, wave_items):
    other = project_factory("other", labels=("x",))
    task = ReviewTask.objects.create(project=project, item=wave_items[1], reason=ReviewTask.LOW_CONFIDENCE)
    client = APIClient()
    client.force_authenticate(people["lea"])
    bad_label = client.post("/api/projects/rev/review/", {"task": task.pk, "label": other.labels.get().pk},
                            format="json")
    assert bad_label.status_code == 400 and "is not a label of project 'rev'" in bad_label.json()["detail"]
    no_task = client.post("/api/projects/rev/review/", {"task": 987654, "label": label(project, "login").pk},
                          format="json")
    assert no_task.status_code == 404 and "Review task 987654" in no_task.json()["detail"]
    assert not Annotation.objects.exists()


def test_queue_lists_open_tasks_with_counts_and_filter(project, people, wave_items):
    give(project, people["ann"], wave_items[0], "billing")
    give(project, people["bob"], wave_items[0], "login")
    ReviewTask.objects.create(project=project, item=wave_items[1], reason=ReviewTask.LOW_CONFIDENCE,
                              detail={"predicted_label": "fraud", "prob": 0.38})
    client = APIClient()
    client.force_authenticate(people["lea"])
    data = client.get("/api/projects/rev/review/").json()
    assert data["counts"] == {"open": 2, "open_items": 2, "disagreement": 1, "low_confidence": 1, "lead_request": 0,
                              "label_issue": 0, "resolved": 0, "expired": 0, "closed": 0}
    first = data["results"][0]
    assert first["reason"] == "disagreement" and first["text"] == "<i>charged</i> twice?"
    assert [a["label_name"] for a in first["answers"]] == ["billing", "login"]
    only_low = client.get("/api/projects/rev/review/?reason=low_confidence").json()["results"]
    assert [t["reason"] for t in only_low] == ["low_confidence"] and only_low[0]["detail"]["prob"] == 0.38


def test_review_page_lists_and_resolves(project, people, wave_items, client):
    give(project, people["ann"], wave_items[0], "billing")
    give(project, people["bob"], wave_items[0], "login")
    task = ReviewTask.objects.get()
    client.force_login(people["lea"])
    page = client.get("/p/rev/review/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "&lt;i&gt;charged&lt;/i&gt; twice?" in html and "<i>charged</i>" not in html
    assert f'id="task-{task.pk}"' in html
    assert '<strong id="raw-agreement">—</strong> <span class="muted">(1 pair: fewer than 5)</span>' in html
    assert "over 1 double-labeled item" in html
    response = client.post("/p/rev/review/", {"task": task.pk, "label": label(project, "login").pk}, follow=True)
    assert "resolved as “login”" in response.content.decode()
    task.refresh_from_db()
    assert task.resolved_label.name == "login" and task.resolved_by == people["lea"]
    response = client.post("/p/rev/review/", {"task": task.pk, "label": label(project, "login").pk}, follow=True)
    assert "already resolved" in response.content.decode()


def test_review_page_roles(project, people, make_user, client):
    client.force_login(make_user("stranger"))
    assert client.get("/p/rev/review/").status_code == 404
    client.force_login(people["ann"])
    assert client.get("/p/rev/review/").status_code == 403
    client.force_login(make_user("root", superuser=True))
    assert client.get("/p/rev/review/").status_code == 200


def test_low_confidence_tasks_propose_the_models_label_in_both_detail_shapes(project, people, wave_items, client):
    pool = ReviewTask.objects.create(project=project, item=wave_items[0], reason=ReviewTask.LOW_CONFIDENCE,
                                     detail={"model_version": 3, "predicted": "fraud", "prob": 0.31,
                                             "threshold": 0.5})
    api = ReviewTask.objects.create(project=project, item=wave_items[1], reason=ReviewTask.LOW_CONFIDENCE,
                                    detail={"origin": "predict_api",
                                            "prediction": {"label": "login", "prob": 0.44, "needs_review": True}})
    client.force_login(people["lea"])
    html = client.get("/p/rev/review/?reason=low_confidence").content.decode()
    fraud, login = label(project, "fraud"), label(project, "login")
    for task, proposed in ((pool, fraud), (api, login)):
        card = html.split(f'id="task-{task.pk}"')[1].split("</section>")[0]
        assert f'name="label" value="{proposed.pk}" class="primary">{proposed.name}</button>' in card
    assert "<dt>prediction.prob</dt><dd>0.44</dd>" in html and "<dt>threshold</dt><dd>0.5</dd>" in html
