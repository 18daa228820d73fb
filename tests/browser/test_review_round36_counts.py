"""The review queue counts tasks and says so: a group's count reads "3 tasks", and after a decision
the page's script keeps saying tasks ("2 tasks", "1 task"), not a bare number that reads as items
(the item browser's "in review" counts items, and an item can have two open tasks)."""
from playwright.sync_api import expect

from labeling.annotations.models import ReviewTask
from labeling.projects.models import Membership
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member


def test_group_counts_say_tasks_after_decisions(live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("cnt36", labels=("billing", "login"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    tasks = [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                       detail={"predicted": "billing", "prob": 0.5, "why": "inside the band"})
             for item in make_items(project, 3, prefix="ticket")]
    login(page, "lea")
    page.goto(live_server.url + "/p/cnt36/review/")
    count = page.locator(".review-group .group-count")
    expect(count).to_have_text("3 tasks")
    expect(page.locator("#count-open")).to_have_text("3 open tasks on 3 items")
    page.locator(f"#task-{tasks[0].pk} .dismiss-btn").click()
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.")
    expect(count).to_have_text("2 tasks")
    page.locator(f"#task-{tasks[1].pk} .dismiss-btn").click()
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.")
    expect(count).to_have_text("1 task")
    assert js_errors == []
