"""The bulk reply lists the done tasks recorded as accepted, so a client (the review page among them)
can say which were relabeled and which got the model's own label."""
from labeling.annotations.models import ReviewTask

from .test_review_bulk import setup  # noqa: F401 (fixture)
from .test_review_stale_accept import shown_for


def test_relabel_to_the_models_label_is_listed_as_accepted(setup):  # noqa: F811
    project, lead, items, tasks, client = setup
    fraud = project.labels.get(name="fraud")
    chosen = [tasks[0], tasks[1], tasks[4]]  # the model said fraud, login, fraud
    r = client.post("/api/projects/bulk/review/bulk/",
                    {"action": "relabel", "label": fraud.pk, "tasks": [t.pk for t in chosen], "shown": shown_for(chosen)},
                    format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["done"] == [t.pk for t in chosen]
    assert body["accepted"] == [tasks[0].pk, tasks[4].pk]
    outcomes = dict(ReviewTask.objects.filter(pk__in=body["done"]).values_list("pk", "outcome"))
    assert sorted(pk for pk, outcome in outcomes.items() if outcome == ReviewTask.ACCEPTED) == body["accepted"]


def test_accept_lists_every_done_task_and_dismiss_none(setup):  # noqa: F811
    project, lead, items, tasks, client = setup
    r = client.post("/api/projects/bulk/review/bulk/",
                    {"action": "accept", "tasks": [tasks[0].pk], "shown": shown_for([tasks[0]])}, format="json")
    assert r.json()["accepted"] == [tasks[0].pk]
    r = client.post("/api/projects/bulk/review/bulk/",
                    {"action": "dismiss", "tasks": [tasks[1].pk], "shown": shown_for([tasks[1]])}, format="json")
    assert r.json()["done"] == [tasks[1].pk] and r.json()["accepted"] == []
