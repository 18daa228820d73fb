"""One press or one click is one answer, and a refused change keeps the earlier answer: three audit
findings on the annotation page, driven in Chromium against the live server. A held key (auto-repeat)
and a double-click used to answer items the annotator never saw; a change another tab had already
made used to leave the History row "Not stored", not reopenable, and the batch summary counting a
label nobody stored."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation

from ..test_annotation_helpers import add_member, make_open_wave
from .annotator_pages import TEXTS, annotating, live

LABELS = ("billing", "login", "spam")


def hold(page, key, repeats=2):
    """A key held down: one keydown, then auto-repeat keydowns (repeat=true), then the key up."""
    for _ in range(1 + repeats):
        page.keyboard.down(key)
    page.keyboard.up(key)


def saved(page):
    expect(page.locator("#save-status")).to_have_text("All answers saved")


def settled(page):
    """Wait until the label buttons take clicks again (a moment after the item came up)."""
    expect(page.locator("#label-buttons .label-btn").first).not_to_have_attribute("aria-disabled", "true")


def click_middle(page, button):
    """A mouse click in the middle of ``button`` as it is now, without waiting for it to be usable."""
    box = button.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_a_held_answering_key_answers_only_the_item_shown(live_server, page, login, make_user, project_factory,
                                                         js_errors):
    project = project_factory("held", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=5, batch_size=5)
    page.evaluate("window.repeats = []; addEventListener('keydown', (e) => repeats.push(e.repeat), true)")

    hold(page, "2")  # login, held a moment too long
    expect(page.locator("#item-position")).to_have_text("Item 2 of 5")
    assert page.evaluate("repeats") == [False, True, True]  # the browser did send the repeats
    hold(page, "0")  # none of these
    expect(page.locator("#item-position")).to_have_text("Item 3 of 5")
    hold(page, ".")  # the skip form opens once; its reason key, held, skips once
    hold(page, "1")
    expect(page.locator("#item-position")).to_have_text("Item 4 of 5")
    saved(page)
    assert live(project) == {items[0].pk: ("login", False), items[1].pk: ("None of these", False),
                             items[2].pk: (None, True)}

    hold(page, "Backspace", repeats=1)  # walking the history still repeats: two answers back
    expect(page.locator("#item-text")).to_have_text(TEXTS[1])
    page.keyboard.press("Escape")
    hold(page, "3")
    expect(page.locator("#item-position")).to_have_text("Item 5 of 5")
    saved(page)
    assert Annotation.objects.filter(project=project).count() == 4
    assert js_errors == []


def test_a_held_key_while_the_next_batch_loads_answers_nothing(live_server, page, login, make_user,
                                                               project_factory, js_errors):
    project = project_factory("heldlease", labels=LABELS)
    project.batch_size = 3
    project.save()
    _, items = make_open_wave(project, 3, texts=TEXTS[:3], batch_size=3)
    add_member(make_user, project, "ann")
    login(page, "ann")
    page.goto(live_server.url + "/p/heldlease/annotate/")
    held = []

    def slow_lease(route):  # the lease hangs until the key is held and let go
        held.append(route)

    page.route("**/batches/", slow_lease)
    page.keyboard.press("Enter")
    hold(page, "1")  # typed while leasing: no item is on screen, so neither the press nor its repeats answer
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#item-position")).to_have_text("Item 1 of 3")
    # one press counted (its repeats are dropped as repeats), and nothing is called saved
    expect(page.locator("#save-status")).to_have_text("1 key(s) pressed before the batch appeared were not applied")
    page.wait_for_timeout(300)
    assert live(project) == {}
    assert js_errors == []


def test_a_double_click_answers_only_the_item_it_was_aimed_at(live_server, page, login, make_user,
                                                            project_factory, js_errors):
    project = project_factory("dbl", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=6, batch_size=6)

    page.dblclick("#label-buttons .label-btn >> text=spam")
    expect(page.locator("#item-position")).to_have_text("Item 2 of 6")
    settled(page)
    page.dblclick("#none-btn")
    expect(page.locator("#item-position")).to_have_text("Item 3 of 6")
    saved(page)
    assert live(project) == {items[0].pk: ("spam", False), items[1].pk: ("None of these", False)}

    # Two single clicks in quick succession (not one double-click): the second lands on the next
    # item's fresh button a moment after it came up, and answers nothing.
    settled(page)
    login_button = page.locator("#label-buttons .label-btn", has_text="login")
    click_middle(page, login_button)  # answers item 3
    click_middle(page, login_button)  # item 4's button, right away
    page.wait_for_timeout(100)
    expect(page.locator("#item-position")).to_have_text("Item 4 of 6")
    saved(page)
    assert Annotation.objects.filter(project=project).count() == 3

    # The item once read, a click answers it (Playwright's click waits until the buttons take one).
    login_button.click()
    expect(page.locator("#item-position")).to_have_text("Item 5 of 6")
    page.locator("#label-buttons .label-btn", has_text="billing").click()
    expect(page.locator("#item-position")).to_have_text("Item 6 of 6")
    saved(page)
    assert live(project) == {items[0].pk: ("spam", False), items[1].pk: ("None of these", False),
                             items[2].pk: ("login", False), items[3].pk: ("login", False),
                             items[4].pk: ("billing", False)}
    assert js_errors == []


def test_a_change_refused_because_another_tab_changed_it_shows_the_answer_that_stands(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("twotabs", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=2, batch_size=2)
    page.keyboard.press("1")  # item 1: billing
    saved(page)
    other = page.context.new_page()  # a second tab, opened now: it shows item 1 answered billing
    other.goto(live_server.url + "/p/twotabs/annotate/")
    expect(other.locator("#history-list .history-row")).to_have_count(1)

    page.bring_to_front()
    page.keyboard.press("Backspace")
    page.keyboard.press("2")  # this tab changes it to login
    saved(page)
    other.bring_to_front()
    other.keyboard.press("Backspace")
    other.keyboard.press("3")  # the other tab, not knowing, changes it to spam: refused (409)
    expect(other.locator("#notice")).to_contain_text("change that one instead")
    row = other.locator("#history-list .history-row")
    expect(row).to_have_count(1)
    expect(row.locator(".history-label")).to_have_text("login")  # the answer that stands, not "Not stored"
    expect(row).not_to_have_class("history-row rejected")
    expect(other.locator("#notice")).to_contain_text("Your answer stands: login.")

    other.keyboard.press("Backspace")  # still reopenable
    expect(other.locator("#reopen-banner")).to_be_visible()
    expect(other.locator("#reopen-was")).to_have_text("login")
    other.keyboard.press("Escape")
    other.keyboard.press("1")  # item 2: billing, the batch is done
    expect(other.locator("#done-panel")).to_be_visible()
    expect(other.locator("#summary-counts")).to_have_text("2 answered · 0 skipped")
    expect(other.locator("#batch-summary li")).to_have_text(["billing: 1", "login: 1"])  # no "spam"
    expect(other.locator("#save-status")).not_to_contain_text("Saving")
    assert live(project) == {items[0].pk: ("login", False), items[1].pk: ("billing", False)}
    assert js_errors == []  # the first tab's
