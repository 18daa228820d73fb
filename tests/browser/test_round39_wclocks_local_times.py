"""Times drawn by the server read the same way wherever a lead or annotator looks.

* Every server-drawn time (the item page's answers and import time, the import list, the waves
  table) is a <time> in the reader's own zone once the page's script ran, the UTC it was written in
  kept in its title; without the script it still says UTC.
* The History panel shows an answer's stored time as soon as the reply comes, for a change too: a
  browser clock minutes off never shows, and a reload shows the same time.
"""
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from playwright.sync_api import expect

from labeling.annotations.models import Annotation
from labeling.items.models import ImportBatch
from labeling.projects.models import Membership
from labeling.waves.models import Wave

from ..test_annotation_helpers import add_member
from .annotator_pages import annotating

TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9 all year


def _context(browser, live_server, zone, **extra):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url,
                                  timezone_id=zone, locale="en-GB", **extra)
    context.set_default_timeout(10_000)
    return context


def _times(page):
    """(datetime attribute, text, title, minute precision) of each server-drawn time on the page."""
    return page.eval_on_selector_all("time.local-time", "els => els.map(e => "
                                     "[e.getAttribute('datetime'), e.textContent, e.title, e.dataset.precision])")


def _written(moment: datetime, zone, minute: bool) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M" if minute else "%Y-%m-%d %H:%M:%S")


def test_server_drawn_times_show_the_readers_local_time_and_say_utc_without_the_script(
        browser, live_server, login, make_user, project_factory):
    project = project_factory("wclocks-local")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    ann_context = _context(browser, live_server, "Asia/Tokyo")
    lead_context = plain_context = None
    try:
        ann_page = ann_context.new_page()
        items = annotating(ann_page, live_server, login, make_user, project, n_items=2, batch_size=2)
        ann_page.wait_for_load_state("networkidle")
        ann_page.keyboard.press("1")
        expect(ann_page.locator("#history-list .history-row .history-time").first).not_to_contain_text("saving")
        ImportBatch.objects.create(project=project, filename="tickets.csv", created_by=lead, state=ImportBatch.DONE)
        Wave.objects.filter(project=project, number=1).update(state=Wave.CLOSED,
                                                              closed_at=timezone.now() - timedelta(hours=3))
        pages = [f"/p/{project.slug}/items/{items[0].pk}/", f"/p/{project.slug}/import/", f"/p/{project.slug}/waves/"]

        lead_context = _context(browser, live_server, "Asia/Tokyo")
        lead_page = lead_context.new_page()
        login(lead_page, "lena")
        seen = {}
        for url in pages:
            lead_page.goto(live_server.url + url)
            lead_page.wait_for_load_state("networkidle")
            expect(lead_page.locator("time.local-time[data-local]").first).to_be_attached()
            seen[url] = _times(lead_page)
            assert seen[url], f"{url} shows no time"
            for iso, text, title, precision in seen[url]:
                moment = datetime.fromisoformat(iso)
                assert text == _written(moment, TOKYO, precision == "minute"), (url, iso, text)
                assert title.endswith(_written(moment, ZoneInfo("UTC"), precision == "minute") + " UTC"), title
                assert "Asia/Tokyo" in title, title
        assert len(seen[pages[0]]) >= 2 and len(seen[pages[2]]) >= 2  # answer and import; created and closed

        # The answer's time on the item page is the one in the annotator's History panel.
        answer = Annotation.objects.get(project=project, item=items[0], undone=False)
        lead_page.goto(f"{live_server.url}{pages[0]}")
        when = lead_page.locator(f"#item-answers tr[data-answer='{answer.pk}'] time")
        expect(when).to_have_text(_written(answer.created_at, TOKYO, False))
        history = ann_page.locator("#history-list .history-row .history-time").first.inner_text()
        assert re.search(r"\d{2}:\d{2}:\d{2}", history).group(0) in when.inner_text()

        # Without the script every time still says what it is.
        plain_context = _context(browser, live_server, "Asia/Tokyo", java_script_enabled=False)
        plain_page = plain_context.new_page()
        login(plain_page, "lena")
        for url in pages:
            plain_page.goto(live_server.url + url)
            for iso, text, _, precision in _times(plain_page):
                assert text.strip() == _written(datetime.fromisoformat(iso), ZoneInfo("UTC"), precision == "minute") \
                    + " UTC", (url, text)
    finally:
        for context in (ann_context, lead_context, plain_context):
            if context is not None:
                context.close()


def _time_of(row) -> str:
    expect(row).to_be_visible()
    expect(row.locator(".history-time")).not_to_contain_text("saving")
    return re.search(r"\d{2}:\d{2}:\d{2}", row.locator(".history-time").inner_text()).group(0)


def test_a_changed_answer_shows_the_time_the_server_stored_the_change(
        browser, live_server, login, make_user, project_factory):
    project = project_factory("wclocks-change")
    context = _context(browser, live_server, "UTC")
    try:
        page = context.new_page()
        page.clock.install(time=datetime.now() - timedelta(minutes=5))  # this laptop runs five minutes slow
        items = annotating(page, live_server, login, make_user, project, n_items=2, batch_size=2)
        page.wait_for_load_state("networkidle")
        page.keyboard.press("1")
        first = page.locator("#history-list .history-row").first
        _time_of(first)
        page.keyboard.press("[")  # reopen it
        expect(page.locator("#history-list .history-row.reopened")).to_have_count(1)
        page.keyboard.press("2")  # and change it
        expect(first.locator(".history-time")).to_contain_text("changed")
        shown = _time_of(first)
        stored = Annotation.objects.get(project=project, item=items[0], undone=False)
        assert stored.supersedes_id is not None
        expected = stored.created_at.astimezone(ZoneInfo("UTC"))
        assert shown in {(expected + timedelta(seconds=d)).strftime("%H:%M:%S") for d in (-1, 0, 1)}, (
            f"the change reads {shown}; the server stored it at {expected:%H:%M:%S}")

        page.reload()
        page.wait_for_load_state("networkidle")
        assert _time_of(page.locator("#history-list .history-row").first) == shown
    finally:
        context.close()
