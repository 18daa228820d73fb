"""The History panel stamps a new answer with the browser's own clock (``new Date()`` when the key is
pressed) and never takes the time the server stored; after a reload the same row shows the server's
``created_at``. On a laptop whose clock is five minutes slow (common on machines a team uses for
months) an answer reads 12:03 until the page is reloaded and 12:08 after, and a newer answer given
after the reload reads earlier than the older one below it."""
import re
from datetime import datetime, timedelta

from playwright.sync_api import expect

from .annotator_pages import annotating

SKEW = timedelta(minutes=5)


def _seconds(text: str) -> int:
    h, m, s = (int(x) for x in re.search(r"(\d{2}):(\d{2}):(\d{2})", text).groups())
    return h * 3600 + m * 60 + s


def _settled_time(row) -> str:
    expect(row).to_be_visible()
    expect(row.locator(".history-time")).not_to_contain_text("saving")
    return row.locator(".history-time").inner_text()


def test_an_answers_history_time_does_not_change_when_the_page_reloads(
        browser, live_server, login, make_user, project_factory):
    project = project_factory("clocks-skew")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url,
                                  timezone_id="UTC", locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.clock.install(time=datetime.now() - SKEW)  # this laptop's clock runs five minutes slow
        annotating(page, live_server, login, make_user, project, n_items=2, batch_size=2)
        page.wait_for_load_state("networkidle")
        page.keyboard.press("1")
        first = page.locator("#history-list .history-row").first
        shown_at_answer = _settled_time(first)

        page.reload()
        page.wait_for_load_state("networkidle")
        shown_after_reload = _settled_time(page.locator("#history-list .history-row").first)

        drift = abs(_seconds(shown_after_reload) - _seconds(shown_at_answer))
        assert drift <= 2, (
            f"the same answer read {shown_at_answer.strip()!r} when given and {shown_after_reload.strip()!r} after a "
            f"reload: the panel stamped it with the browser's clock, not the time the server stored")
    finally:
        context.close()
