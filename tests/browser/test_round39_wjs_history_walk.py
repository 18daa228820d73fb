"""After a changed answer is stored, [ and ] walk the History in the order the panel shows, which is
the order a reload shows (newest stored answer first): the changed answer is the first [ reopens,
before a reload as after it."""
import re

from playwright.sync_api import expect

from .annotator_pages import annotating

TEXTS = ["First ticket about billing.", "Second ticket about login.", "Third ticket about fraud.",
         "Fourth ticket, unanswered."]


def _walk(page):
    """The items [ reopens one after another, then ] back up, then the item ] leaves on."""
    seen = []
    for _ in range(3):
        page.keyboard.press("[")
        seen.append(page.locator("#item-text").inner_text())
        expect(page.locator("#history-list .history-row.reopened")).to_have_count(1)
    for _ in range(3):
        page.keyboard.press("]")
        seen.append(page.locator("#item-text").inner_text())
    return seen


def test_the_keys_walk_the_history_in_the_order_a_reload_shows(
        browser, live_server, login, make_user, project_factory):
    project = project_factory("wjs-walk", labels=("billing", "login", "fraud"))
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url,
                                  timezone_id="UTC", locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        annotating(page, live_server, login, make_user, project, n_items=4, batch_size=4, texts=TEXTS)
        page.wait_for_load_state("networkidle")
        rows = page.locator("#history-list .history-row")
        for n in range(3):
            page.keyboard.press("1")
            expect(rows).to_have_count(n + 1)
            expect(page.locator("#save-status")).to_have_text(re.compile("saved", re.I))
            page.wait_for_timeout(1100)  # answers a second or more apart, so their stored times differ
        for _ in range(3):
            page.keyboard.press("[")
        expect(page.locator("#item-text")).to_have_text(TEXTS[0])
        page.keyboard.press("2")
        expect(page.locator("#save-status")).to_have_text(re.compile("saved", re.I))
        expect(rows.first).to_contain_text("changed")
        expect(rows.first.locator(".history-snippet")).to_have_text(TEXTS[0])
        expected = [TEXTS[0], TEXTS[2], TEXTS[1], TEXTS[2], TEXTS[0], TEXTS[3]]
        assert _walk(page) == expected
        page.reload()
        page.wait_for_load_state("networkidle")
        expect(rows).to_have_count(3)
        assert _walk(page) == expected
    finally:
        context.close()
