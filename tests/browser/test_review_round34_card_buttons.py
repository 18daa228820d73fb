"""The review queue's per-card buttons in Chromium: Accept, Dismiss and "Resolve as <label>" act on
their own card through the bulk request, without a reload, so the tasks the lead selected stay
selected, the place in the list stays, and the status line says what happened as it does for the
keys. Without JavaScript the same buttons still post the form, and a label chosen on a card is
recorded as relabeled there too."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation, ReviewTask
from labeling.projects.models import Membership
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member


def queue(project_factory, make_user, slug, n=5):
    """n low-confidence tasks, all predicted billing (so each card offers Accept, Dismiss and
    "Resolve as billing"), in one group in task order; the lead "lea"."""
    project = project_factory(slug, labels=("billing", "login", "spam"))
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    items = make_items(project, n, prefix="ticket")
    tasks = [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                       detail={"predicted": "billing", "prob": 0.5, "why": "inside the band"})
             for item in items]
    return project, lead, tasks


def stored(task) -> tuple:
    """What the database holds for a review task: (outcome, label name, resolver's username, resolved)."""
    task = ReviewTask.objects.select_related("resolved_label", "resolved_by").get(pk=task.pk)
    return (task.outcome, task.resolved_label.name if task.resolved_label else None,
            task.resolved_by.username if task.resolved_by else None, task.resolved_at is not None)


def test_card_buttons_keep_the_selection(live_server, page, login, make_user, project_factory, js_errors):
    project, lead, tasks = queue(project_factory, make_user, "cardbtn")
    card = [page.locator(f"#task-{t.pk}") for t in tasks]
    status, selection = page.locator("#review-status"), page.locator("#selection-status")
    login(page, "lea")
    page.goto(live_server.url + "/p/cardbtn/review/")
    page.evaluate("window.stayed = true")  # gone if the page reloads
    for key in "xjx":  # the first two tasks selected
        page.keyboard.press(key)
    expect(selection).to_have_text("2 selected")

    # The fourth card's Accept: that card only, no reload; the selection stays, the next card is current.
    card[3].locator(".accept-btn").click()
    expect(status).to_have_text("Accepted: 1 task.")
    expect(card[3]).to_be_hidden()
    assert page.evaluate("window.stayed") is True
    expect(selection).to_have_text("2 selected")
    expect(card[0]).to_have_class("review-task selected")
    expect(card[1]).to_have_class("review-task selected")
    expect(card[4]).to_have_class("review-task current")
    expect(card[4]).to_be_focused()
    assert stored(tasks[3]) == ("accepted", "billing", "lea", True)
    assert [stored(t)[3] for t in tasks] == [False, False, False, True, False]

    # The third card's Dismiss, with the keyboard on the button (Enter).
    card[2].locator(".dismiss-btn").focus()
    expect(card[2]).to_have_class("review-task current")
    page.keyboard.press("Enter")
    expect(status).to_have_text("Dismissed: 1 task.")
    expect(card[2]).to_be_hidden()
    assert page.evaluate("window.stayed") is True
    expect(selection).to_have_text("2 selected")
    assert stored(tasks[2]) == ("dismissed", None, "lea", True)
    assert not Annotation.objects.filter(item_id=tasks[2].item_id).exists()

    # The last card's "Resolve as billing": a relabel of that card, told as the keys tell it.
    card[4].get_by_role("button", name="billing", exact=True).click()
    expect(status).to_have_text("Accepted billing (the model's label): 1 task.")
    expect(card[4]).to_be_hidden()
    assert page.evaluate("window.stayed") is True
    # billing is the model's own label for the task: recorded as accepted, as every path records it.
    assert stored(tasks[4]) == ("accepted", "billing", "lea", True)
    assert Annotation.objects.get(item_id=tasks[4].item_id).origin == Annotation.ADJUDICATION

    # The selection made before the three buttons is still there for a key to act on.
    expect(selection).to_have_text("2 selected")
    page.keyboard.press("a")
    expect(status).to_have_text("Accepted: 2 tasks.")
    assert [stored(t) for t in tasks[:2]] == [("accepted", "billing", "lea", True)] * 2
    expect(page.locator("#review-empty")).to_be_visible()
    assert page.evaluate("window.stayed") is True
    assert js_errors == []


def test_card_buttons_post_the_form_without_javascript(live_server, browser, login, make_user, project_factory):
    project, lead, tasks = queue(project_factory, make_user, "nojs", n=3)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = login(context.new_page(), "lea")
        page.goto(live_server.url + "/p/nojs/review/")
        with page.expect_navigation():
            page.locator(f"#task-{tasks[0].pk} .accept-btn").click()
        expect(page.locator(".messages")).to_contain_text("Accept: 1 task done.")
        assert stored(tasks[0]) == ("accepted", "billing", "lea", True)
        with page.expect_navigation():
            page.locator(f"#task-{tasks[1].pk} .dismiss-btn").click()
        assert stored(tasks[1]) == ("dismissed", None, "lea", True)
        page.locator(f"#label-{tasks[2].pk}").select_option(label="spam")
        with page.expect_navigation():
            page.locator(f"#task-{tasks[2].pk} .relabel-submit").click()
        expect(page.locator(".messages")).to_contain_text("Relabel as “spam”: 1 task done.")
        assert stored(tasks[2]) == ("relabeled", "spam", "lea", True)
        expect(page.locator(".review-task")).to_have_count(0)
    finally:
        context.close()
