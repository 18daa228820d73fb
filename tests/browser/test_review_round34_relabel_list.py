"""A label chosen from the list r opens, in Chromium, is stored the same way whether one task or a
selection is relabeled: outcome "relabeled" with the label, through the bulk request (no reload),
and the status line says "Relabeled as <label>: n task(s)." in both cases. Before, with nothing
selected the list's form posted the page and went through one-by-one adjudication, which left the
task's outcome blank."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation, ReviewTask
from labeling.projects.models import Label, Membership
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member


def stored(task) -> tuple:
    """What the database holds for a review task: (outcome, label name, resolver's username, resolved)."""
    task = ReviewTask.objects.select_related("resolved_label", "resolved_by").get(pk=task.pk)
    return (task.outcome, task.resolved_label.name if task.resolved_label else None,
            task.resolved_by.username if task.resolved_by else None, task.resolved_at is not None)


def choose_after_r(page, task, name):
    """r on the current card, the label chosen from its list, then Tab to its button and Enter."""
    page.keyboard.press("r")
    select = page.locator(f"#label-{task.pk}")
    expect(select).to_be_focused()
    select.select_option(label=name)
    page.keyboard.press("Tab")
    expect(page.locator(f"#task-{task.pk} .relabel-submit")).to_be_focused()
    page.keyboard.press("Enter")


def test_r_relabels_one_task_as_it_relabels_a_selection(live_server, page, login, make_user, project_factory,
                                                         js_errors):
    project = project_factory("rone", labels=("billing", "login", "spam"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    Label.objects.create(project=project, name="refund", order=9)  # no hotkey: chosen from the list only
    items = make_items(project, 4, prefix="ticket")
    tasks = [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                       detail={"predicted": "billing", "prob": 0.5, "why": "inside the band"})
             for item in items]
    status = page.locator("#review-status")
    login(page, "lea")
    page.goto(live_server.url + "/p/rone/review/")
    page.evaluate("window.stayed = true")  # gone if the page reloads

    # Nothing selected: the current (first) task alone.
    expect(page.locator("#selection-status")).to_have_text("Nothing selected")
    choose_after_r(page, tasks[0], "refund")
    expect(status).to_have_text("Relabeled as refund: 1 task.")
    assert stored(tasks[0]) == ("relabeled", "refund", "lea", True)
    assert Annotation.objects.get(item=items[0]).origin == Annotation.ADJUDICATION
    assert [stored(t)[3] for t in tasks] == [True, False, False, False]
    assert page.evaluate("window.stayed") is True
    expect(page.locator(f"#task-{tasks[0].pk}")).to_be_hidden()
    expect(page.locator(f"#task-{tasks[1].pk}")).to_have_class("review-task current")

    # Two selected: the same outcome, told the same way.
    for key in "xjx":
        page.keyboard.press(key)
    expect(page.locator("#selection-status")).to_have_text("2 selected")
    choose_after_r(page, tasks[2], "refund")
    expect(status).to_have_text("Relabeled as refund: 2 tasks.")
    assert [stored(t) for t in tasks] == [("relabeled", "refund", "lea", True)] * 3 + [("", None, None, False)]
    assert page.evaluate("window.stayed") is True
    expect(page.locator(f"#task-{tasks[3].pk}")).to_have_class("review-task current")
    assert js_errors == []
