"""The review page's counts line after decisions reads as the page would after a reload: the same
words (singular, the "sent by a lead" part only while there is such a task), the whole queue's figures
(another lead's decision made meanwhile included). When the figures cannot be read again, the line
says it is not up to date rather than show the old figures as current."""
import re

from playwright.sync_api import expect
from rest_framework.test import APIClient

from labeling.annotations.models import ReviewTask
from labeling.annotations.review_services import model_label_name
from labeling.projects.models import Membership
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member


def _line(page) -> str:
    return " ".join(page.locator("#review-counts").inner_text().split())


def _queue(project, n_predictions=3):
    billing = project.labels.get(name="billing")
    items = make_items(project, n_predictions + 1, prefix="ticket")
    predictions = [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE,
                                             model_version=2, detail={"predicted": "billing",
                                                                      "predicted_label_id": billing.pk,
                                                                      "prob": 0.5, "why": "inside the band"})
                   for item in items[:n_predictions]]
    request = ReviewTask.objects.create(project=project, item=items[-1], reason=ReviewTask.LEAD_REQUEST, detail={})
    return predictions, request


def test_the_counts_line_reads_as_after_a_reload(live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("wcnt", labels=("billing", "login"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    other = add_member(make_user, project, "leb", role=Membership.LEAD)
    predictions, request = _queue(project)
    login(page, "lea")
    page.goto(live_server.url + "/p/wcnt/review/")
    page.wait_for_load_state("networkidle")
    assert _line(page).startswith("4 open tasks on 4 items (0 disagreements, 3 low-confidence predictions, "
                                  "0 label issues, 1 sent by a lead) · 0 resolved by a lead"), _line(page)

    # Another lead dismisses the third prediction meanwhile; this page still shows its card.
    client = APIClient()
    client.force_authenticate(other)
    third = predictions[2]
    r = client.post("/api/projects/wcnt/review/bulk/", {"action": "dismiss", "tasks": [third.pk], "shown": [
        {"task": third.pk, "label": model_label_name(third), "model_version": 2}]}, format="json")
    assert r.status_code == 200 and r.json()["done"] == [third.pk], r.content

    page.keyboard.press("a")  # the first card: accept billing
    expect(page.locator("#review-status")).to_have_text("Accepted: 1 task.")
    assert _line(page).startswith("2 open tasks on 2 items (0 disagreements, 1 low-confidence prediction, "
                                  "0 label issues, 1 sent by a lead) · 2 resolved by a lead"), _line(page)
    page.locator(f"#task-{request.pk} .task-head").click()
    page.keyboard.press("2")  # the lead's own request: relabel as login
    expect(page.locator("#review-status")).to_contain_text("Relabeled as login: 1 task")
    after = _line(page)
    page.reload()
    page.wait_for_load_state("networkidle")
    assert after == _line(page), f"after the decisions: {after!r}; after a reload: {_line(page)!r}"
    assert after.startswith("1 open task on 1 item (0 disagreements, 1 low-confidence prediction, 0 label issues) ·"), after
    assert js_errors == []


def test_the_counts_line_says_when_it_could_not_be_updated(live_server, page, login, make_user, project_factory):
    project = project_factory("wstl", labels=("billing", "login"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    _queue(project)
    login(page, "lea")
    page.goto(live_server.url + "/p/wstl/review/")
    page.wait_for_load_state("networkidle")
    counts_read = re.compile(r"/api/projects/wstl/review/\?limit=1$")
    page.route(counts_read, lambda route: route.abort())
    page.keyboard.press("d")
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.")
    expect(page.locator("#counts-stale")).to_be_visible()
    expect(page.locator("#counts-stale")).to_contain_text("reload the page")
    page.unroute(counts_read)
    page.keyboard.press("d")
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.")
    expect(page.locator("#counts-stale")).to_be_hidden()
    expect(page.locator("#count-open")).to_have_text("2 open tasks on 2 items")
    expect(page.locator("#count-resolved")).to_have_text("2 resolved by a lead")
