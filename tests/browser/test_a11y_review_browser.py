"""The review queue for keyboard and non-Latin users, in Chromium: a key acts on the card the
keyboard focus is in (Tab used to leave the "current" card behind, so d dismissed a task the lead
was not looking at); the keys work under a Russian layout (by the key's place: code KeyJ) and with
Caps Lock on (J is j; only Shift+x selects a whole group); right-to-left texts and names are laid
out right to left without carrying the words and numbers around them along."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation, ReviewTask
from labeling.items.models import Item
from labeling.projects.models import Label, Membership
from learner.text import text_hash
from tests.test_annotation_helpers import add_member

from .annotator_pages import press_key as press

# What Chromium sends for the physical keys under a Russian layout: code is the key's place on a US
# keyboard, key the character the layout types there.
RUSSIAN = {"KeyJ": "о", "KeyK": "л", "KeyX": "ч", "KeyA": "ф", "KeyD": "в", "KeyQ": "й"}


def add_item(project, text: str) -> Item:
    return Item.objects.create(project=project, source=project.sources.first(), text=text, text_hash=text_hash(text))


def low_confidence(project, item, predicted: str) -> ReviewTask:
    return ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                     detail={"predicted": predicted, "prob": 0.5, "why": "top probability 0.50"})


def build(project_factory, make_user, n: int = 3):
    """n low-confidence tasks, all predicted billing (one group); login's hotkey is q."""
    project = project_factory("kb", labels=("billing", "login", "fraud"))
    Label.objects.filter(project=project, name="login").update(hotkey="q")
    add_member(make_user, project, "lea", role=Membership.LEAD)
    items = [add_item(project, f"ticket {i}") for i in range(n)]
    return project, items, [low_confidence(project, item, "billing") for item in items]


def current(page) -> str | None:
    return page.evaluate("(document.querySelector('.review-task.current') || {}).id || null")


def outcomes(tasks) -> list[str]:
    return [ReviewTask.objects.get(pk=t.pk).outcome for t in tasks]


def test_a_key_acts_on_the_card_the_focus_is_in(live_server, page, login, make_user, project_factory, js_errors):
    project, items, tasks = build(project_factory, make_user)
    login(page, "lea")
    page.goto(live_server.url + "/p/kb/review/")
    first, second = (f"task-{t.pk}" for t in tasks[:2])
    expect(page.locator(f"#{first}")).to_have_class("review-task current")
    focus = "() => { const a = document.activeElement; const card = a.closest('.review-task'); " \
            "return [card ? card.id : null, a.className]; }"
    for _ in range(40):  # Tab through the first card's controls into the second's, up to its Dismiss button
        page.keyboard.press("Tab")
        if page.evaluate(focus) == [second, "dismiss-btn"]:
            break
    assert page.evaluate(focus) == [second, "dismiss-btn"]
    # The focused card is the current one now, and the focus stayed on its button.
    assert current(page) == second
    page.keyboard.press("d")
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.")
    expect(page.locator(f"#{second}")).to_be_hidden()
    expect(page.locator(f"#{first}")).to_be_visible()
    assert outcomes(tasks) == ["", "dismissed", ""]  # before: the first task, which the focus had left
    # The next card becomes current, and a click into a card's controls makes it current too.
    expect(page.locator(f"#task-{tasks[2].pk}")).to_have_class("review-task current")
    page.locator(f"#{first} .relabel-select").focus()
    page.keyboard.press("Escape")  # back from the list to the card, which is the first one now
    page.keyboard.press("a")
    expect(page.locator("#review-status")).to_have_text("Accepted: 1 task.")
    assert outcomes(tasks) == ["accepted", "dismissed", ""]
    assert js_errors == []


def test_keys_work_under_a_russian_layout(live_server, page, login, make_user, project_factory, js_errors):
    project, items, tasks = build(project_factory, make_user, n=4)
    login(page, "lea")
    page.goto(live_server.url + "/p/kb/review/")
    cdp = page.context.new_cdp_session(page)
    ids = [f"task-{t.pk}" for t in tasks]
    expect(page.locator(f"#{ids[0]}")).to_have_class("review-task current")
    press(cdp, "KeyJ", RUSSIAN["KeyJ"])
    expect(page.locator(f"#{ids[1]}")).to_have_class("review-task current")
    press(cdp, "KeyX", RUSSIAN["KeyX"])
    expect(page.locator("#selection-status")).to_have_text("1 selected")
    press(cdp, "KeyK", RUSSIAN["KeyK"])
    expect(page.locator(f"#{ids[0]}")).to_have_class("review-task current")
    press(cdp, "KeyX", RUSSIAN["KeyX"])
    expect(page.locator("#selection-status")).to_have_text("2 selected")
    press(cdp, "KeyA", RUSSIAN["KeyA"])
    expect(page.locator("#review-status")).to_have_text("Accepted: 2 tasks.")
    assert outcomes(tasks) == ["accepted", "accepted", "", ""]
    # A label's letter hotkey (login: q) by its place too; d dismisses.
    expect(page.locator(f"#{ids[2]}")).to_have_class("review-task current")
    press(cdp, "KeyQ", RUSSIAN["KeyQ"])
    expect(page.locator("#review-status")).to_have_text("Relabeled as login: 1 task.")
    press(cdp, "KeyD", RUSSIAN["KeyD"])
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.")
    assert outcomes(tasks) == ["accepted", "accepted", "relabeled", "dismissed"]
    assert Annotation.objects.get(item=items[2]).label.name == "login"
    assert js_errors == []


def test_keys_work_with_caps_lock_on(live_server, page, login, make_user, project_factory, js_errors):
    """Caps Lock turns j into J with no Shift held: the same key. Shift+x (X with Shift, or x with
    Shift under Caps Lock) selects the whole group."""
    project, items, tasks = build(project_factory, make_user, n=3)
    login(page, "lea")
    page.goto(live_server.url + "/p/kb/review/")
    expect(page.locator(".review-keys")).to_contain_text("Shift+x the whole group")
    cdp = page.context.new_cdp_session(page)
    ids = [f"task-{t.pk}" for t in tasks]
    press(cdp, "KeyJ", "J")
    expect(page.locator(f"#{ids[1]}")).to_have_class("review-task current")
    press(cdp, "KeyX", "X")  # Caps Lock x: this task only (before: the whole group)
    expect(page.locator("#selection-status")).to_have_text("1 selected")
    page.keyboard.press("Escape")
    expect(page.locator("#selection-status")).to_have_text("Nothing selected")
    press(cdp, "KeyX", "X", shift=True)
    expect(page.locator("#selection-status")).to_have_text("3 selected")
    press(cdp, "KeyX", "x", shift=True)  # Shift under Caps Lock: the group again, off
    expect(page.locator("#selection-status")).to_have_text("Nothing selected")
    press(cdp, "KeyK", "K")
    expect(page.locator(f"#{ids[0]}")).to_have_class("review-task current")
    press(cdp, "KeyD", "D")
    expect(page.locator("#review-status")).to_have_text("Dismissed: 1 task.")
    press(cdp, "KeyA", "A")
    expect(page.locator("#review-status")).to_have_text("Accepted: 1 task.")
    assert outcomes(tasks) == ["dismissed", "accepted", ""]
    assert js_errors == []


# Where a piece of text is drawn: the left edge of the first text node under `root` that holds it.
LEFT_OF = """([root, text]) => {
  const walker = document.createTreeWalker(document.querySelector(root), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.textContent.indexOf(text);
    if (at < 0) continue;
    const range = document.createRange(); range.setStart(node, at); range.setEnd(node, at + text.length);
    return range.getBoundingClientRect().left;
  }
  return null; }"""


def left_of(page, root: str, text: str) -> float:
    x = page.evaluate(LEFT_OF, [root, text])
    assert x is not None, f"{text!r} not found under {root}"
    return x


def test_right_to_left_texts_and_names(live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("rtl", labels=("חיוב", "login"))  # hotkeys 1, 2
    add_member(make_user, project, "lea", role=Membership.LEAD)
    arabic = add_item(project, "هل يمكنني استرداد المبلغ؟")
    english = add_item(project, "where is my refund?")
    disputed = add_item(project, "two answers")
    hebrew_label = project.labels.get(name="חיוב")
    for name, label in (("דוד", hebrew_label), ("anna", project.labels.get(name="login"))):
        Annotation.objects.create(project=project, item=disputed, label=label,
                                  annotator=add_member(make_user, project, name))
    tasks = [low_confidence(project, arabic, "חיוב"), low_confidence(project, english, "חיוב"),
             ReviewTask.objects.create(project=project, item=disputed, reason=ReviewTask.DISAGREEMENT)]
    login(page, "lea")
    page.goto(live_server.url + "/p/rtl/review/")

    # The card's text takes its direction from its first strong letter: the Arabic question ends on the left.
    direction = "(el) => getComputedStyle(el).direction"
    assert page.locator(f"#task-{tasks[0].pk} .item-text").evaluate(direction) == "rtl"
    assert page.locator(f"#task-{tasks[1].pk} .item-text").evaluate(direction) == "ltr"
    arabic_text = f"#task-{tasks[0].pk} .item-text"
    assert left_of(page, arabic_text, "؟") < left_of(page, arabic_text, "هل")
    # The group's count stays after its Hebrew name (before: the number was drawn to its left).
    heading = '.review-group[data-label="חיוב"] h2'
    assert left_of(page, heading, "2") > left_of(page, heading, "חיוב")
    # "דוד: חיוב": the annotator first, then the answer (before: the two swapped places).
    answer = f"#task-{tasks[2].pk} .review-answers li:first-child"
    assert left_of(page, answer, "חיוב") > left_of(page, answer, "דוד")
    # The status after relabeling (the disagreement: no model label, so "relabeled"): the count after the name.
    page.locator(f"#task-{tasks[2].pk}").click()
    page.keyboard.press("1")
    expect(page.locator("#review-status")).to_have_text("Relabeled as חיוב: 1 task.")
    assert left_of(page, "#review-status", "1 task") > left_of(page, "#review-status", "חיוב")
    assert js_errors == []


def test_a_latin_layout_keeps_its_letters(live_server, page, login, make_user, project_factory, js_errors):
    """Only a character that is no Latin letter falls back to its key's place (a Russian "в" on the
    D key is d). Dvorak's "e" on the D key is e, no key of the page: it must not dismiss; AZERTY's
    "a" on the Q key accepts, not login's q."""
    project, items, tasks = build(project_factory, make_user, n=3)
    login(page, "lea")
    page.goto(live_server.url + "/p/kb/review/")
    cdp = page.context.new_cdp_session(page)
    press(cdp, "KeyD", "e")
    press(cdp, "KeyQ", "a")
    expect(page.locator("#review-status")).to_have_text("Accepted: 1 task.")
    assert outcomes(tasks) == ["accepted", "", ""]
    assert js_errors == []
