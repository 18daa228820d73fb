"""A lead decides on what the review page showed, not on what the model says by the time the
decision arrives: a retrain re-scores open low-confidence tasks in place (``route_review``), so
accept and dismiss carry, per task, the model's label the page showed (``shown``). A task whose
label changed since is left open with the reason and nothing is stored; a request without
``shown`` is refused; tasks closed meanwhile say so, with what closed them. The JSON API and the
no-JavaScript form of the page behave alike."""
import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation, ReviewTask
from labeling.annotations.review_services import model_label_name
from labeling.modeling.review import route_review
from labeling.projects.models import Membership

from .review_helpers import add_version, make_items

pytestmark = pytest.mark.django_db
LABELS = ("lost luggage", "positive", "<i>refund</i>")  # markup in a label name must come back escaped
# Columns of the versions add_version builds: the labels in the project's order (by name here).
REFUND, LOST, POSITIVE = range(3)


def shown_for(tasks) -> list[dict]:
    """The ``shown`` entries a page rendered from these tasks (as they are now in the database) sends."""
    return [{"task": t.pk, "label": model_label_name(t), "model_version": t.model_version} for t in tasks]


@pytest.fixture
def queue(project_factory, make_user):
    """Model v4 routed four doubtful predictions to the queue; the lead's page shows them."""
    project = project_factory("stale", labels=LABELS)
    project.band_low, project.band_high = 0.3, 0.7
    project.review_share_min, project.review_share_max = 0.0, 0.5
    project.save()
    lead = make_user("lea")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    assert [lb.name for lb in project.labels.order_by("order", "name")] == ["<i>refund</i>", "lost luggage", "positive"]
    items = make_items(project, 10)
    scores = {it.pk: (LOST, 0.5 if i < 4 else 0.95) for i, it in enumerate(items)}
    route_review(add_version(project, 4, scores))
    tasks = list(ReviewTask.objects.filter(project=project, resolved_at__isnull=True).order_by("item_id"))
    assert [(t.model_version, model_label_name(t)) for t in tasks] == [(4, "lost luggage")] * 4
    client = APIClient()
    client.force_authenticate(lead)
    return project, lead, items, scores, tasks, client


def retrain(project, scores, number, changes):
    """A new active version whose routing pass re-scores (or closes) the open tasks, as a retrain does."""
    route_review(add_version(project, number, {**scores, **changes}))


def bulk(client, body):
    return client.post("/api/projects/stale/review/bulk/", body, format="json")


def test_accept_stores_only_the_label_the_page_showed(queue):
    project, lead, items, scores, tasks, client = queue
    shown = shown_for(tasks[:2])  # the page loaded under v4: "lost luggage" for both
    # v5: item 0's prediction changes to "positive"; item 1 keeps "lost luggage" (a new probability).
    retrain(project, scores, 5, {items[0].pk: (POSITIVE, 0.55), items[1].pk: (LOST, 0.45)})
    assert ReviewTask.objects.get(pk=tasks[0].pk).detail["predicted"] == "positive"
    r = bulk(client, {"action": "accept", "tasks": [tasks[0].pk, tasks[1].pk], "shown": shown})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["done"] == [tasks[1].pk] and body["labeled_items"] == [items[1].pk]
    assert body["skipped"] == [{
        "task": tasks[0].pk, "code": "prediction_changed",
        "reason": 'the prediction changed to "positive" under model v5 since the page loaded '
                  '(it showed "lost luggage" from model v4): reload to see it'}]
    # Nothing stored for the changed one: no answer, the task still open under v5.
    assert not Annotation.objects.filter(item=items[0]).exists()
    stale = ReviewTask.objects.get(pk=tasks[0].pk)
    assert (stale.resolved_at, stale.outcome, stale.model_version) == (None, "", 5)
    # The matching one stores exactly what was shown.
    kept = ReviewTask.objects.get(pk=tasks[1].pk)
    assert (kept.outcome, kept.resolved_label.name, kept.resolved_by) == ("accepted", "lost luggage", lead)
    assert list(Annotation.objects.filter(item=items[1]).values_list("label__name", "origin")) == [
        ("lost luggage", Annotation.ADJUDICATION)]
    # The page reloaded shows "positive"; accepting that now stores it.
    r = bulk(client, {"action": "accept", "tasks": [tasks[0].pk], "shown": shown_for([stale])})
    assert r.json()["done"] == [tasks[0].pk]
    assert ReviewTask.objects.get(pk=tasks[0].pk).resolved_label.name == "positive"


def test_dismiss_lets_stand_only_the_prediction_the_page_showed(queue):
    project, lead, items, scores, tasks, client = queue
    shown = shown_for(tasks[:1])
    retrain(project, scores, 5, {items[0].pk: (REFUND, 0.5)})
    r = bulk(client, {"action": "dismiss", "tasks": [tasks[0].pk], "shown": shown})
    assert r.status_code == 200 and r.json()["done"] == [], r.content
    [skip] = r.json()["skipped"]
    assert skip["code"] == "prediction_changed" and 'changed to "<i>refund</i>" under model v5' in skip["reason"]
    # Not recorded as a dismissal of "<i>refund</i>", which routing would then never ask about again.
    assert ReviewTask.objects.get(pk=tasks[0].pk).resolved_at is None
    assert not ReviewTask.objects.filter(project=project, outcome=ReviewTask.DISMISSED).exists()


def test_accept_or_dismiss_without_shown_is_refused_naming_the_field(queue):
    project, lead, items, scores, tasks, client = queue
    for action in ("accept", "dismiss"):
        r = bulk(client, {"action": action, "tasks": [tasks[0].pk]})
        assert r.status_code == 400, (action, r.content)
        assert r.json()["field"] == "shown" and f"action '{action}' needs shown" in r.json()["detail"]
    r = bulk(client, {"action": "accept", "tasks": [tasks[0].pk, tasks[1].pk], "shown": shown_for(tasks[:1])})
    assert r.status_code == 400 and r.json()["field"] == "shown"
    assert f"no entry for task {tasks[1].pk}" in r.json()["detail"]
    r = bulk(client, {"action": "accept", "tasks": [tasks[0].pk], "shown": [{"task": tasks[0].pk}]})
    assert r.status_code == 400 and "shown" in r.json()
    assert not Annotation.objects.filter(project=project).exists()
    assert not ReviewTask.objects.filter(project=project, resolved_at__isnull=False).exists()
    # relabel stores the lead's own label: it does not depend on the model's, and needs no shown.
    refund = project.labels.get(name="<i>refund</i>")
    r = bulk(client, {"action": "relabel", "tasks": [tasks[0].pk], "label": refund.pk})
    assert r.status_code == 200 and r.json()["done"] == [tasks[0].pk], r.content


def test_tasks_closed_meanwhile_say_what_closed_them(queue, make_user):
    project, lead, items, scores, tasks, client = queue
    shown = shown_for(tasks[:3])
    # v5 is confident about item 0: its routing pass closes the task (expired).
    retrain(project, scores, 5, {items[0].pk: (LOST, 0.95)})
    # Another lead accepted task 1 from another page.
    other = make_user("otto")
    Membership.objects.create(project=project, user=other, role=Membership.LEAD)
    as_other = APIClient()
    as_other.force_authenticate(other)
    assert bulk(as_other, {"action": "accept", "tasks": [tasks[1].pk],
                           "shown": shown_for(tasks[1:2])}).json()["done"] == [tasks[1].pk]
    r = bulk(client, {"action": "accept", "tasks": [t["task"] for t in shown], "shown": shown})
    assert r.status_code == 200, r.content
    assert r.json()["done"] == [tasks[2].pk]
    skipped = {s["task"]: s for s in r.json()["skipped"]}
    assert {pk: s["code"] for pk, s in skipped.items()} == {tasks[0].pk: "closed_meanwhile",
                                                            tasks[1].pk: "closed_meanwhile"}
    assert skipped[tasks[0].pk]["reason"].startswith(
        "closed meanwhile: expired, model v5 does not find the prediction doubtful")
    assert skipped[tasks[1].pk]["reason"] == 'closed meanwhile: accepted as "lost luggage" by otto'
    # Nothing of the lead's stored for either.
    assert not Annotation.objects.filter(item=items[0]).exists()
    assert list(Annotation.objects.filter(item=items[1]).values_list("annotator__username", flat=True)) == ["otto"]


def test_the_page_form_sends_what_the_card_shows_and_is_checked_the_same(queue, client):
    project, lead, items, scores, tasks, _ = queue
    client.force_login(lead)
    html = client.get("/p/stale/review/").content.decode()
    assert '<input type="hidden" name="shown_label" value="lost luggage">' in html
    assert '<input type="hidden" name="shown_model_version" value="4">' in html
    retrain(project, scores, 5, {items[0].pk: (REFUND, 0.5), items[1].pk: (LOST, 0.95)})
    form = {"action": "accept", "shown_label": "lost luggage", "shown_model_version": "4"}
    r = client.post("/p/stale/review/", {**form, "task": tasks[0].pk}, follow=True)
    page = r.content.decode()
    assert (f"Task {tasks[0].pk} left open: the prediction changed to &quot;&lt;i&gt;refund&lt;/i&gt;&quot; "
            "under model v5 since the page loaded") in page
    assert "<i>refund</i>" not in page  # escaped everywhere, the reloaded card included
    assert not Annotation.objects.filter(item=items[0]).exists()
    r = client.post("/p/stale/review/", {**form, "action": "dismiss", "task": tasks[1].pk}, follow=True)
    assert f"Task {tasks[1].pk} closed meanwhile: expired, model v5" in r.content.decode()
    # A page rendered before the field existed posts no shown_label: refused, naming the field.
    r = client.post("/p/stale/review/", {"action": "accept", "task": tasks[2].pk}, follow=True)
    assert "action &#x27;accept&#x27; needs shown" in r.content.decode()
    assert ReviewTask.objects.get(pk=tasks[2].pk).resolved_at is None
    r = client.post("/p/stale/review/", {**form, "task": tasks[2].pk}, follow=True)
    assert ReviewTask.objects.get(pk=tasks[2].pk).resolved_label.name == "lost luggage"


def test_a_lone_surrogate_in_shown_is_a_400_naming_the_field(queue):
    """The request's serializer refuses it before any reason could quote it back."""
    project, lead, items, scores, tasks, client = queue
    pk = tasks[0].pk
    body = f'{{"action": "accept", "tasks": [{pk}], "shown": [{{"task": {pk}, "label": "\\ud800", "model_version": 4}}]}}'
    r = client.post("/api/projects/stale/review/bulk/", data=body, content_type="application/json")
    assert r.status_code == 400 and "shown" in r.json(), r.content
    assert not Annotation.objects.filter(project=project, origin=Annotation.ADJUDICATION).exists()
