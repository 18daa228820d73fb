"""A label chosen from the r list that is the model's own label for a task is recorded as accepted
(review_services.close_with_label), and the status line says so: before, it said "Relabeled as
<label>" for every task, so the lead read "relabeled" where the figures count "accepted"."""
from playwright.sync_api import expect

from labeling.annotations.models import ReviewTask
from labeling.projects.models import Membership
from tests.browser.test_review_round34_relabel_list import choose_after_r, stored
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member


def test_the_status_line_names_the_outcome_recorded(live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("racc", labels=("billing", "login", "spam"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    items = make_items(project, 3, prefix="ticket")
    predicted = ["billing", "login", "billing"]
    tasks = [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                       detail={"predicted": name, "prob": 0.5, "why": "inside the band"})
             for item, name in zip(items, predicted, strict=True)]
    status = page.locator("#review-status")
    login(page, "lea")
    page.goto(live_server.url + "/p/racc/review/")

    # One task, relabeled as the model's own label: recorded and told as accepted.
    choose_after_r(page, tasks[0], "billing")
    expect(status).to_have_text("Accepted billing (the model's label): 1 task.")
    assert stored(tasks[0]) == ("accepted", "billing", "lea", True)

    # Two selected, one of them the model's label: both outcomes told.
    for key in "xjx":
        page.keyboard.press(key)
    expect(page.locator("#selection-status")).to_have_text("2 selected")
    choose_after_r(page, tasks[1], "billing")  # grouped by label: billing (0, 2), then login (1)
    expect(status).to_have_text("Relabeled as billing: 2 tasks (1 of them the model's label: recorded as accepted).")
    assert [stored(t)[0] for t in tasks] == ["accepted", "relabeled", "accepted"]
    assert js_errors == []
