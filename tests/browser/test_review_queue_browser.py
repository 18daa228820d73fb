"""The review queue from the keyboard in Chromium: tasks grouped by the model's label, j/k to
move, a to accept, d to dismiss, a label's hotkey to relabel, x to select several for one key;
a retrain that re-scores the queue while the page is open never gets a label the lead did not see
stored."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation, ReviewTask
from labeling.annotations.selectors import resolve_item_labels
from labeling.modeling.review import route_review
from labeling.projects.models import Membership
from tests.review_helpers import add_version, make_items
from tests.test_annotation_helpers import add_member


def build(project_factory, make_user):
    project = project_factory("rq", labels=("billing", "login", "fraud"))  # hotkeys 1, 2, 3
    add_member(make_user, project, "lea", role=Membership.LEAD)
    items = make_items(project, 7, prefix="ticket <b>")
    Annotation.objects.create(project=project, item=items[6], label=project.labels.get(name="billing"),
                              origin=Annotation.IMPORT)
    low = lambda item, name, p: ReviewTask.objects.create(  # noqa: E731
        project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
        detail={"predicted": name, "prob": p, "why": f"top probability {p} inside the band 0.30–0.70"})
    tasks = [low(items[0], "fraud", 0.41), low(items[1], "fraud", 0.45), low(items[2], "login", 0.5),
             low(items[3], "fraud", 0.55), low(items[4], "login", 0.6)]
    tasks.append(ReviewTask.objects.create(project=project, item=items[5], reason=ReviewTask.DISAGREEMENT))
    tasks.append(ReviewTask.objects.create(
        project=project, item=items[6], reason=ReviewTask.LABEL_ISSUE, model_version=2,
        detail={"given_label": "billing", "suggested_label": "fraud", "score": 0.03, "suggested_score": 0.9}))
    return project, items, tasks


def names(project):
    label_names = dict(project.labels.values_list("pk", "name"))
    return {item: label_names[label] for item, label in resolve_item_labels(project).items()}


def test_keyboard_review_queue(live_server, page, login, screenshot, make_user, project_factory, js_errors):
    project, items, tasks = build(project_factory, make_user)
    login(page, "lea")
    page.goto(live_server.url + "/p/rq/review/")
    groups = page.locator(".review-group h2")
    expect(groups).to_have_count(3)  # in the project's label order, tasks without a model label last
    assert [" ".join(g.split()) for g in groups.all_inner_texts()] == ["fraud 4 tasks", "login 2 tasks",
                                                                     "(no model label) 1 task"]
    fraud = page.locator('.review-group[data-label="fraud"]')
    expect(fraud.locator(".review-task")).to_have_count(4)  # three predictions and the label issue
    issue = page.locator(f"#task-{tasks[6].pk}")
    expect(issue.locator(".reason-badge")).to_have_text("label_issue")
    expect(issue.locator(".issue-labels")).to_contain_text("labeled billing, suggested fraud (score 0.03)")
    expect(page.locator(f"#task-{tasks[0].pk} .item-text")).to_have_text("ticket <b> 0")
    expect(page.locator(f"#task-{tasks[0].pk}")).to_have_class("review-task current")
    page.set_viewport_size({"width": 1366, "height": 768})
    screenshot(page, "review-queue-1366")

    # x on the first two fraud predictions, then a: both accepted in one request.
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#selection-status")).to_have_text("2 selected")
    page.keyboard.press("a")
    expect(page.locator("#review-status")).to_have_text("Accepted: 2 tasks.")
    expect(page.locator(f"#task-{tasks[0].pk}")).to_be_hidden()
    assert names(project) == {items[0].pk: "fraud", items[1].pk: "fraud", items[6].pk: "billing"}
    # The current task moves on to the next open one (fraud, item 3); d dismisses it.
    expect(page.locator(f"#task-{tasks[3].pk}")).to_have_class("review-task current")
    page.keyboard.press("d")
    expect(page.locator(f"#task-{tasks[3].pk}")).to_be_hidden()
    assert ReviewTask.objects.get(pk=tasks[3].pk).outcome == "dismissed"
    # The label issue: accept stores the suggestion.
    page.locator(f"#task-{tasks[6].pk}").click()
    page.keyboard.press("a")
    expect(page.locator(f"#task-{tasks[6].pk}")).to_be_hidden()
    expect(fraud).to_be_hidden()  # the group is empty now
    # k back to the login group; 1 relabels its first task as billing.
    page.locator(f"#task-{tasks[5].pk}").click()
    page.keyboard.press("k")
    page.keyboard.press("k")
    expect(page.locator(f"#task-{tasks[2].pk}")).to_have_class("review-task current")
    page.keyboard.press("Shift+X")  # the whole login group
    expect(page.locator("#selection-status")).to_have_text("2 selected")
    page.keyboard.press("Escape")
    expect(page.locator("#selection-status")).to_have_text("Nothing selected")
    page.keyboard.press("1")
    expect(page.locator("#review-status")).to_have_text("Relabeled as billing: 1 task.")
    assert names(project)[items[2].pk] == "billing"
    assert names(project)[items[6].pk] == "fraud"
    # A disagreement has no model label: a refuses it with the reason and keeps it.
    page.locator(f"#task-{tasks[5].pk}").click()
    page.keyboard.press("a")
    expect(page.locator("#review-status")).to_contain_text("has no model label to accept")
    expect(page.locator(f"#task-{tasks[5].pk}")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "review-queue-phone")
    # Reloading shows the same queue the server holds.
    page.reload()
    expect(page.locator(".review-task")).to_have_count(2)
    assert js_errors == []


def test_accept_after_a_new_model_rescored_the_queue(live_server, page, login, make_user, project_factory, js_errors):
    """The page loaded under model v4; a retrain activates v5, whose routing pass re-scores the open
    tasks in place (one prediction changes, one is closed as no longer doubtful). Without a reload,
    `a` stores only a label the card showed: the changed task stays open with the server's reason,
    the closed one leaves the page, and the current card moves on to the next open one."""
    project = project_factory("rs", labels=("lost luggage", "<b>positive</b>", "negative"))
    project.band_low, project.band_high = 0.3, 0.7
    project.review_share_min, project.review_share_max = 0.0, 0.5
    project.save()
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    col = {name: i for i, name in enumerate(project.labels.order_by("order", "name").values_list("name", flat=True))}
    items = make_items(project, 10, prefix="flight <i>")
    scores = {it.pk: (col["lost luggage"], 0.5 if i < 4 else 0.95) for i, it in enumerate(items)}
    route_review(add_version(project, 4, scores))
    tasks = list(ReviewTask.objects.filter(project=project, resolved_at__isnull=True).order_by("item_id"))
    assert [t.model_version for t in tasks] == [4] * 4
    login(page, "lea")
    page.goto(live_server.url + "/p/rs/review/?reason=low_confidence")
    expect(page.locator(".review-task")).to_have_count(4)
    expect(page.locator(f"#task-{tasks[1].pk} .accept-btn")).to_contain_text("Accept “lost luggage”")

    # v5: item 1 now predicted "<b>positive</b>", item 2 confident (its task closes), items 0 and 3 unchanged.
    route_review(add_version(project, 5, {**scores, items[1].pk: (col["<b>positive</b>"], 0.55),
                                          items[2].pk: (col["lost luggage"], 0.95)}))
    assert ReviewTask.objects.get(pk=tasks[1].pk).detail["predicted"] == "<b>positive</b>"

    page.keyboard.press("j")
    expect(page.locator(f"#task-{tasks[1].pk}")).to_have_class("review-task current")
    page.keyboard.press("a")
    changed = ('the prediction changed to "<b>positive</b>" under model v5 since the page loaded '
               '(it showed "lost luggage" from model v4): reload to see it')
    expect(page.locator("#review-status")).to_have_text(f"Accepted: 0 tasks; task {tasks[1].pk} left open: {changed}.")
    # Not advanced as if done: the card stays current, with the reason on it; the label name stays text.
    card = page.locator(f"#task-{tasks[1].pk}")
    expect(card).to_be_visible()
    expect(card).to_have_class("review-task current")
    expect(card.locator(".task-note")).to_have_text(f"Left open: {changed}.")
    expect(page.locator("#review-status b, .task-note b")).to_have_count(0)
    assert not Annotation.objects.filter(item=items[1]).exists()
    stale = ReviewTask.objects.get(pk=tasks[1].pk)
    assert (stale.resolved_at, stale.outcome, stale.model_version) == (None, "", 5)

    # The next card's task was closed by v5: the page says so, drops it and moves to the next open one.
    page.keyboard.press("j")
    expect(page.locator(f"#task-{tasks[2].pk}")).to_have_class("review-task current")
    page.keyboard.press("a")
    expect(page.locator("#review-status")).to_contain_text(
        f"Accepted: 0 tasks; task {tasks[2].pk} closed meanwhile: expired, model v5 does not find the prediction doubtful")
    expect(page.locator(f"#task-{tasks[2].pk}")).to_be_hidden()
    expect(page.locator(f"#task-{tasks[3].pk}")).to_have_class("review-task current")
    assert ReviewTask.objects.get(pk=tasks[2].pk).outcome == ReviewTask.EXPIRED
    assert not Annotation.objects.filter(item=items[2]).exists()

    # An unchanged prediction (re-scored by v5, same label) is accepted as shown.
    page.keyboard.press("a")
    expect(page.locator("#review-status")).to_have_text("Accepted: 1 task.")
    expect(page.locator(f"#task-{tasks[3].pk}")).to_be_hidden()
    assert names(project) == {items[3].pk: "lost luggage"}

    # A reload shows v5's prediction; accepting it now stores it.
    page.reload()
    expect(page.locator(".review-task")).to_have_count(2)
    expect(page.locator(f"#task-{tasks[1].pk} .accept-btn")).to_contain_text("Accept “<b>positive</b>”")
    page.locator(f"#task-{tasks[1].pk}").click()
    page.keyboard.press("a")
    expect(page.locator("#review-status")).to_have_text("Accepted: 1 task.")
    assert names(project) == {items[3].pk: "lost luggage", items[1].pk: "<b>positive</b>"}
    assert ReviewTask.objects.get(pk=tasks[1].pk).resolved_by == lead
    assert js_errors == []
