"""The History panel after an answer is changed: the entry takes the change's stored time (the reply's
created_at) but stays where the first answer put it, so the panel lists a newer time below older
ones, and a reload (which lists by the stored time) shows another order: the [ key then walks back
through the answers in a different order before and after the reload."""
import re

from playwright.sync_api import expect

from .annotator_pages import annotating

TEXTS = ["First ticket about billing.", "Second ticket about login.", "Third ticket about fraud.",
         "Fourth ticket, unanswered."]


def _panel(page):
    rows = page.locator("#history-list .history-row")
    expect(page.locator("#save-status")).to_have_text(re.compile("saved", re.I))
    return [(r.locator(".history-snippet").inner_text(), r.locator(".history-time").inner_text())
            for r in rows.all()]


def test_history_order_after_a_change_is_the_order_a_reload_shows(
        browser, live_server, login, make_user, project_factory):
    project = project_factory("r2b-hist", labels=("billing", "login", "fraud"))
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
            page.wait_for_timeout(1100)  # answers a second or more apart, so their times differ
        # Change the oldest answer (three back) to the second label.
        for _ in range(3):
            page.keyboard.press("[")
        expect(page.locator("#item-text")).to_have_text(TEXTS[0])
        page.keyboard.press("2")
        # Once stored, the change is the newest answer: its entry sits at the top, where a reload lists it.
        # (Its row is third only until the reply comes back, so the test does not wait on that.)
        expect(rows.first).to_contain_text("changed")
        before = _panel(page)
        page.reload()
        page.wait_for_load_state("networkidle")
        expect(page.locator("#history-list .history-row")).to_have_count(3)
        after = _panel(page)
        assert before == after, (
            f"the History panel listed {before} after the change and {after} after a reload")
    finally:
        context.close()
