"""A team in several time zones reads one answer's time on two pages: the annotation page's History
panel writes it in the browser's time zone (toLocaleTimeString), the item page writes the server's
TIME_ZONE (UTC) with no zone named. In Tokyo the same answer reads 21:07:30 in one and 12:07:30 in
the other, and nothing says which is which. A time shown on a page must either be the reader's
local time, as the History panel shows it, or say its zone."""
import re

from playwright.sync_api import expect

from labeling.annotations.models import Annotation
from labeling.projects.models import Membership

from ..test_annotation_helpers import add_member
from .annotator_pages import annotating

TOKYO = "Asia/Tokyo"  # UTC+9 all year: no daylight-saving ambiguity in the comparison


def _tokyo_page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url,
                                  timezone_id=TOKYO, locale="en-GB")
    context.set_default_timeout(10_000)
    return context, context.new_page()


def test_one_answers_time_reads_the_same_on_the_history_panel_and_the_item_page(
        browser, live_server, login, make_user, project_factory):
    project = project_factory("clocks-tz")
    add_member(make_user, project, "lena", role=Membership.LEAD)
    ann_context, ann_page = _tokyo_page(browser, live_server)
    lead_context = None
    try:
        items = annotating(ann_page, live_server, login, make_user, project, n_items=2, batch_size=2)
        ann_page.wait_for_load_state("networkidle")
        ann_page.keyboard.press("1")
        row = ann_page.locator("#history-list .history-row").first
        expect(row).to_be_visible()
        expect(row.locator(".history-time")).not_to_contain_text("saving")
        answer = Annotation.objects.get(project=project, item=items[0], undone=False)
        # Reloaded, the panel shows the stored answer's time (the server's created_at), as the item page does.
        ann_page.reload()
        ann_page.wait_for_load_state("networkidle")
        row = ann_page.locator("#history-list .history-row").first
        expect(row).to_be_visible()
        history_time = re.search(r"\d{2}:\d{2}:\d{2}", row.locator(".history-time").inner_text()).group(0)

        lead_context, lead_page = _tokyo_page(browser, live_server)
        login(lead_page, "lena")
        lead_page.goto(f"{live_server.url}/p/{project.slug}/items/{items[0].pk}/")
        item_time = lead_page.locator(f"#item-answers tr[data-answer='{answer.pk}'] td").first.inner_text().strip()

        names_zone = bool(re.search(r"UTC|GMT|Z\b|[+-]\d{2}:?\d{2}\b", item_time))
        assert history_time in item_time or names_zone, (
            f"the same answer reads {history_time} in the annotator's History panel (browser time, {TOKYO}) and "
            f"{item_time!r} on the item page, which names no zone")
    finally:
        ann_context.close()
        if lead_context is not None:
            lead_context.close()
