"""The review queue's deciding keys in Chromium: a held key decides one card, not the cards after
it; a label chosen from the list r opens covers the selected tasks; and a key pressed while the
last decision is still saving is refused with a word in the status, never dropped silently nor
applied to a card the lead did not see."""
from playwright.sync_api import expect

from labeling.annotations.models import ReviewTask
from labeling.annotations.selectors import resolve_item_labels
from labeling.projects.models import Label, Membership
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member

# Every bulk request waits this long before it leaves the page (a slow connection).
SLOW_BULK = """(() => {
  const real = window.fetch.bind(window);
  window.fetch = async (url, options) => {
    if (String(url).includes("review/bulk/")) await new Promise((r) => setTimeout(r, 1500));
    return real(url, options);
  };
})();"""


def queue(project_factory, make_user, slug, n=4):
    """A project (billing, login, spam: hotkeys 1, 2, 3) with n low-confidence tasks, all predicted
    billing, shown in one group in task order; its lead "lea"."""
    project = project_factory(slug, labels=("billing", "login", "spam"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    items = make_items(project, n, prefix="ticket")
    tasks = [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                       detail={"predicted": "billing", "prob": 0.5, "why": "inside the band"})
             for item in items]
    return project, items, tasks


def labeled(project) -> dict[int, str]:
    names = dict(project.labels.values_list("pk", "name"))
    return {item: names[label] for item, label in resolve_item_labels(project).items()}


def open_tasks(tasks) -> list[int]:
    return list(ReviewTask.objects.filter(pk__in=[t.pk for t in tasks], resolved_at__isnull=True)
                .order_by("pk").values_list("pk", flat=True))


def hold(page, key, repeats):
    """Hold a key: its first keydown, then auto-repeated keydowns (repeat=true) ~30 a second."""
    page.keyboard.down(key)
    for _ in range(repeats):
        page.wait_for_timeout(40)
        page.keyboard.down(key)
    page.keyboard.up(key)


def test_a_held_key_decides_one_card(live_server, page, login, make_user, project_factory, js_errors):
    project, items, tasks = queue(project_factory, make_user, "held")
    login(page, "lea")
    page.goto(live_server.url + "/p/held/review/")
    expect(page.locator(f"#task-{tasks[0].pk}")).to_have_class("review-task current")
    # a held past its first save: the repeats that come after it must not accept the next cards.
    page.keyboard.down("a")
    expect(page.locator("#review-status")).to_have_text("Accepted: 1 task.")
    hold(page, "a", 12)
    page.wait_for_timeout(500)
    expect(page.locator("#review-status")).to_have_text("Accepted: 1 task.")
    assert labeled(project) == {items[0].pk: "billing"}
    expect(page.locator(f"#task-{tasks[1].pk}")).to_have_class("review-task current")
    # x held selects once (its repeats used to toggle the selection on and off).
    hold(page, "x", 3)
    expect(page.locator("#selection-status")).to_have_text("1 selected")
    page.keyboard.press("Escape")
    expect(page.locator("#selection-status")).to_have_text("Nothing selected")
    # A label's hotkey held: one relabel.
    page.keyboard.down("2")
    expect(page.locator("#review-status")).to_have_text("Relabeled as login: 1 task.")
    hold(page, "2", 8)
    page.wait_for_timeout(500)
    expect(page.locator("#review-status")).to_have_text("Relabeled as login: 1 task.")
    assert labeled(project) == {items[0].pk: "billing", items[1].pk: "login"}
    assert open_tasks(tasks) == [tasks[2].pk, tasks[3].pk]
    assert js_errors == []


def test_a_label_chosen_after_r_covers_the_selection(live_server, page, login, make_user, project_factory,
                                                      js_errors):
    project, items, tasks = queue(project_factory, make_user, "rsel")
    Label.objects.create(project=project, name="refund", order=9)  # no hotkey: chosen from the list only
    login(page, "lea")
    page.goto(live_server.url + "/p/rsel/review/")
    page.evaluate("window.stayed = true")  # gone if the page reloads
    for key in "xjxjx":
        page.keyboard.press(key)
    expect(page.locator("#selection-status")).to_have_text("3 selected")
    current = page.locator(f"#task-{tasks[2].pk}")
    expect(current).to_have_class("review-task current selected")
    expect(current.locator(".relabel-submit")).to_have_text("Resolve 3 selected")
    page.keyboard.press("r")
    select = page.locator(f"#label-{tasks[2].pk}")
    expect(select).to_be_focused()
    select.select_option(label="refund")
    page.keyboard.press("Tab")
    expect(current.locator(".relabel-submit")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#review-status")).to_have_text("Relabeled as refund: 3 tasks.")
    assert labeled(project) == {items[0].pk: "refund", items[1].pk: "refund", items[2].pk: "refund"}
    assert open_tasks(tasks) == [tasks[3].pk]
    assert page.evaluate("window.stayed") is True
    expect(page.locator("#selection-status")).to_have_text("Nothing selected")
    expect(page.locator(f"#task-{tasks[3].pk}")).to_have_class("review-task current")
    expect(page.locator(f"#task-{tasks[3].pk} .relabel-submit")).to_have_text("Resolve")
    assert js_errors == []


def test_keys_pressed_while_saving_are_refused_aloud(live_server, page, login, make_user, project_factory,
                                                     js_errors):
    project, items, tasks = queue(project_factory, make_user, "slow", n=5)
    page.add_init_script(SLOW_BULK)
    login(page, "lea")
    page.goto(live_server.url + "/p/slow/review/")
    status = page.locator("#review-status")
    # a, a, a, each meant for the next card: the first saves, the two others are refused, and say so.
    page.keyboard.press("a")
    page.wait_for_timeout(300)
    page.keyboard.press("a")
    expect(status).to_have_text("Saving… Not applied: accept, pressed while saving; press it again once saved.")
    page.wait_for_timeout(300)
    page.keyboard.press("a")
    expect(status).to_have_text("Accepted: 1 task. Not applied: accept, accept, pressed while saving; "
                                "press them again.")
    assert labeled(project) == {items[0].pk: "billing"}
    expect(page.locator(f"#task-{tasks[1].pk}")).to_have_class("review-task current")
    # a, then j to the next card and d while the a saves: the d is refused, not lost without a word.
    page.keyboard.press("a")
    page.keyboard.press("j")
    page.keyboard.press("d")
    expect(status).to_have_text("Accepted: 1 task. Not applied: dismiss, pressed while saving; press it again.")
    assert open_tasks(tasks) == [tasks[2].pk, tasks[3].pk, tasks[4].pk]
    expect(page.locator(f"#task-{tasks[2].pk}")).to_have_class("review-task current")
    # Pressed again once saved, it applies, to the card it was pressed on.
    page.keyboard.press("d")
    expect(status).to_have_text("Dismissed: 1 task.")
    assert ReviewTask.objects.get(pk=tasks[2].pk).outcome == ReviewTask.DISMISSED
    # A card's button clicked while a decision saves is refused too, rather than leaving the page.
    page.evaluate("window.stayed = true")
    page.keyboard.press("a")
    page.locator(f"#task-{tasks[4].pk} .dismiss-btn").click()
    expect(status).to_have_text("Accepted: 1 task. Not applied: dismiss, pressed while saving; press it again.")
    assert page.evaluate("window.stayed") is True
    assert open_tasks(tasks) == [tasks[4].pk]
    assert js_errors == []
