"""The annotation page for people without a mouse, without a Latin keyboard, or without sight, and
with label names that carry right-to-left text: driven in Chromium against the live server, the
answers checked in the database."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation
from labeling.projects.models import Label

from ..test_annotation_helpers import add_member, make_open_wave
from .annotator_pages import TEXTS, annotating, live, press_key
from .conftest import save_screenshot

# Every polite or assertive region's text, each time it changes (what a screen reader announces).
WATCH_LIVE_REGIONS = """() => {
  window.__heard = [];
  for (const el of document.querySelectorAll('[aria-live], [role=status], [role=alert]')) {
    new MutationObserver(() => window.__heard.push(el.textContent.replace(/\\s+/g, ' ').trim()))
      .observe(el, {childList: true, characterData: true, subtree: true});
  }
}"""


def heard(page):
    return " | ".join(page.evaluate("window.__heard"))


def taxonomy(project_factory, slug):
    project = project_factory(slug, labels=())
    Label.objects.create(project=project, name="billing", hotkey="b", order=1)
    payments = Label.objects.create(project=project, name="Payments", hotkey="p", order=2)
    Label.objects.create(project=project, name="Refund", hotkey="1", parent=payments, order=1)
    Label.objects.create(project=project, name="Chargeback", hotkey="2", parent=payments, order=2)
    return project


def label_button(page, name):
    return page.locator("#label-buttons .label-btn", has_text=name)


def focused_id(page):
    return page.evaluate("document.activeElement.id || document.activeElement.tagName")


def test_a_phone_clears_a_reopened_answer_and_goes_back_with_buttons(live_server, browser, login, make_user,
                                                                      project_factory):
    project = project_factory("phone", labels=("billing", "login"))
    project.batch_size = 3
    project.save()
    _, items = make_open_wave(project, 3, texts=TEXTS[:3], batch_size=3)
    add_member(make_user, project, "ann")
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                  base_url=live_server.url)
    context.set_default_timeout(10_000)
    phone = context.new_page()
    errors = []
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        login(phone, "ann")
        phone.goto(live_server.url + "/p/phone/annotate/")
        phone.tap("#start-btn")
        expect(phone.locator("#item-position")).to_have_text("Item 1 of 3")
        phone.tap("#label-buttons .label-btn >> text=billing")
        expect(phone.locator("#item-position")).to_have_text("Item 2 of 3")
        phone.tap("#undo-btn")
        expect(phone.locator("#reopen-banner")).to_be_visible()
        phone.tap("#reopen-back")  # Esc's "goes back", without a keyboard
        expect(phone.locator("#reopen-banner")).to_be_hidden()
        expect(phone.locator("#item-position")).to_have_text("Item 2 of 3")

        phone.tap("#undo-btn")
        expect(phone.locator("#reopen-was")).to_have_text("billing")
        save_screenshot(phone, "annotate-reopened-phone")
        phone.tap("#reopen-clear")  # Delete's "clears it", without a keyboard
        expect(phone.locator("#reopen-banner")).to_be_hidden()
        expect(phone.locator("#item-position")).to_have_text("Item 1 of 3")  # it waits for an answer again
        expect(phone.locator("#save-status")).to_have_text("All answers saved")
        assert live(project) == {}
        phone.tap("#label-buttons .label-btn >> text=login")
        expect(phone.locator("#save-status")).to_have_text("All answers saved")
        assert live(project) == {items[0].pk: ("login", False)}
        assert errors == []
    finally:
        context.close()


def test_hotkeys_follow_the_physical_key_under_russian_and_hebrew_layouts(live_server, page, login, make_user,
                                                                          project_factory, js_errors):
    project = project_factory("layouts", labels=())
    for order, (name, hotkey) in enumerate((("billing", "q"), ("login", "w"), ("fraud", "7"))):
        Label.objects.create(project=project, name=name, hotkey=hotkey, order=order)
    items = annotating(page, live_server, login, make_user, project, n_items=6, batch_size=6)
    cdp = page.context.new_cdp_session(page)

    press_key(cdp, "KeyQ", "й")  # Russian: physical Q
    expect(page.locator("#item-position")).to_have_text("Item 2 of 6")
    press_key(cdp, "KeyW", "Ц", shift=True)  # Russian, Shift held: still the w label
    expect(page.locator("#item-position")).to_have_text("Item 3 of 6")
    press_key(cdp, "KeyQ", "/")  # Hebrew: physical Q types "/"; it is the q label, not the filter
    expect(page.locator("#item-position")).to_have_text("Item 4 of 6")
    assert focused_id(page) != "label-filter"

    press_key(cdp, "Slash", "/")  # a Latin layout's "/" still opens the filter
    expect(page.locator("#label-filter")).to_be_focused()
    page.keyboard.press("Escape")
    press_key(cdp, "Digit7", "/", shift=True)  # German: Shift+7 types "/": the filter, not label 7
    expect(page.locator("#label-filter")).to_be_focused()
    page.keyboard.press("Escape")
    press_key(cdp, "Digit7", "7")
    expect(page.locator("#item-position")).to_have_text("Item 5 of 6")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("login", False),
                             items[2].pk: ("billing", False), items[3].pk: ("fraud", False)}
    assert js_errors == []


def test_a_screen_reader_hears_the_answer_the_position_and_an_opened_coarse_label(
        live_server, page, login, make_user, project_factory, js_errors):
    project = taxonomy(project_factory, "heard")
    items = annotating(page, live_server, login, make_user, project, n_items=4, batch_size=4)
    page.evaluate(WATCH_LIVE_REGIONS)

    page.keyboard.press("b")
    expect(page.locator("#item-position")).to_have_text("Item 2 of 4")
    said = heard(page)
    assert "billing" in said and "item 1 of 4" in said and "item 2 of 4" in said, said
    page.evaluate("window.__heard = []")
    page.keyboard.press("p")
    expect(page.locator("#coarse-step")).to_be_visible()
    assert "In Payments: pick a fine label" in heard(page)
    page.keyboard.press("2")
    expect(page.locator("#item-position")).to_have_text("Item 3 of 4")
    said = heard(page)
    assert "Payments › Chargeback" in said and "item 2 of 4" in said and "item 3 of 4" in said, said
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("Chargeback", False)}
    assert js_errors == []


def test_tab_then_enter_or_space_activates_a_button_and_a_click_still_never_does(
        live_server, page, login, make_user, project_factory, js_errors):
    project = taxonomy(project_factory, "tabbing")
    items = annotating(page, live_server, login, make_user, project, n_items=6, batch_size=6)
    page.evaluate(WATCH_LIVE_REGIONS)

    page.focus("#item-text")  # the item, then Tab into the labels: billing, Payments
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(label_button(page, "Payments")).to_be_focused()
    page.keyboard.press("Enter")  # opens its fine labels; the focus goes on among them
    expect(page.locator("#coarse-step")).to_be_visible()
    expect(label_button(page, "Refund")).to_be_focused()
    assert "In Payments: pick a fine label" in heard(page)
    page.keyboard.press(" ")  # Space on the focused fine label answers with it
    expect(page.locator("#item-position")).to_have_text("Item 2 of 6")
    expect(page.locator("#item-text")).to_be_focused()  # a screen reader reads the next item

    page.keyboard.press("Tab")
    expect(label_button(page, "billing")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 3 of 6")
    expect(page.locator("#item-text")).to_be_focused()

    page.locator("#none-btn").focus()  # where Tab reaches it
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 4 of 6")

    # A click never leaves a button for Enter or Space, even one Tab had focused before.
    page.focus("#item-text")
    page.keyboard.press("Tab")
    expect(label_button(page, "billing")).to_be_focused()
    page.click("#none-btn")  # item 4, by mouse
    expect(page.locator("#item-position")).to_have_text("Item 5 of 6")
    page.keyboard.press("Enter")
    page.keyboard.press(" ")
    page.click("#undo-btn")  # reopens item 4
    expect(page.locator("#reopen-banner")).to_be_visible()
    page.keyboard.press("Enter")
    page.keyboard.press(" ")
    expect(page.locator("#history-list .reopened")).to_have_count(1)
    expect(page.locator("#reopen-was")).to_have_text("None of these")
    page.keyboard.press("Escape")
    expect(page.locator("#item-position")).to_have_text("Item 5 of 6")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("Refund", False), items[1].pk: ("billing", False),
                             items[2].pk: ("None of these", False), items[3].pk: ("None of these", False)}
    assert Annotation.objects.filter(project=project).count() == 4
    assert js_errors == []


def test_a_right_to_left_override_in_a_label_name_stays_inside_the_name(live_server, page, login, make_user,
                                                                         project_factory, js_errors):
    project = project_factory("bidi", labels=())
    refund = Label.objects.create(project=project, name="refund\u202e", hotkey="r", order=1)
    Label.objects.create(project=project, name="partial", hotkey="1", parent=refund)
    Label.objects.create(project=project, name="login", hotkey="l", order=2)
    annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)

    page.keyboard.press("r")  # opens "In refund‮:" and its fine labels
    expect(page.locator("#coarse-step")).to_be_visible()
    page.keyboard.press("Enter")  # keeps the coarse label
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    page.keyboard.press("Backspace")
    expect(page.locator("#reopen-banner")).to_be_visible()
    # "A label key changes it" reads left to right after the name: "label" left of "changes".
    order = page.evaluate("""() => {
      const walker = document.createTreeWalker(document.getElementById('reopen-banner'), NodeFilter.SHOW_TEXT);
      let node;
      while ((node = walker.nextNode()) && !node.data.includes('label key changes')) {}
      const at = (word) => { const r = document.createRange(); const i = node.data.indexOf(word);
        r.setStart(node, i); r.setEnd(node, i + word.length); return r.getBoundingClientRect(); };
      const a = at('label'), b = at('changes');
      return {sameLine: Math.abs(a.top - b.top) < 2, leftToRight: a.left < b.left};
    }""")
    assert order == {"sameLine": True, "leftToRight": True}
    # Every place a label name sits inside a sentence isolates it.
    isolated = page.evaluate("""() => ['reopen-was', 'coarse-name', 'suggestion-label'].map((id) => {
      for (let el = document.getElementById(id); el && el.id !== 'annotate-app'; el = el.parentElement) {
        if (getComputedStyle(el).unicodeBidi.startsWith('isolate')) return [id, true];
      }
      return [id, false];
    })""")
    assert isolated == [["reopen-was", True], ["coarse-name", True], ["suggestion-label", True]]
    history_name = page.locator("#history-list .history-label").first
    assert history_name.evaluate("el => getComputedStyle(el).unicodeBidi") == "isolate"
    assert js_errors == []


def test_the_skip_error_goes_once_a_skip_or_another_answer_is_given(live_server, page, login, make_user,
                                                                    project_factory, js_errors):
    project = project_factory("skiperr", labels=("billing", "login"))
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    notice = page.locator("#notice")

    page.keyboard.press(".")
    expect(page.locator("#skip-form")).to_be_visible()
    page.keyboard.press("Enter")  # nothing chosen
    expect(notice).to_have_text("Pick or type a reason to skip.")
    page.keyboard.press("1")
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    expect(notice).to_be_hidden()

    page.keyboard.press(".")
    page.keyboard.press("Enter")
    expect(notice).to_have_text("Pick or type a reason to skip.")
    page.click("#label-buttons .label-btn >> text=login")  # answered another way
    expect(page.locator("#item-position")).to_have_text("Item 3 of 3")
    expect(notice).to_be_hidden()
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: (None, True), items[1].pk: ("login", False)}
    assert js_errors == []
