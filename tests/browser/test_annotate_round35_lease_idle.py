"""A tab nobody works in lets its leases go: the page asks to extend them only when the annotator
did something in it since they were last extended (a key, the pointer, scrolling, coming back to
the tab), so someone reading keeps the batch and a forgotten tab does not hold its items overnight.
Its check-ins still bring what changed. When the annotator comes back after the items went to
someone else, the page says so before a key answers one of them. Playwright's clock jumps the
renewal interval (a third of the lease, at least 10 s)."""
import time

from playwright.sync_api import expect

from labeling.annotations import leasing
from labeling.annotations.models import Assignment

from ..test_annotation_helpers import add_member
from .annotator_pages import annotating, live

LABELS = ("billing", "login", "spam")


def expiries(project):
    return list(Assignment.objects.filter(wave_item__wave__project=project).order_by("pk")
                .values_list("expires_at", flat=True))


def renewal_later(page):
    with page.expect_response("**/batches/renew/") as renewal:
        page.clock.fast_forward(11_000)
    return renewal.value.request.post_data_json


def test_an_untouched_tab_checks_in_but_extends_nothing_and_a_reader_keeps_the_batch(
        live_server, page, login, make_user, project_factory, js_errors, settings):
    settings.LONGTAIL_LEASE_SECONDS = 30
    project = project_factory("forgotten", labels=LABELS)
    page.clock.install()
    annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    leased = expiries(project)
    for _ in range(4):  # nobody touches the page
        time.sleep(1)
        assert renewal_later(page)["extend"] is False
    assert expiries(project) == leased

    page.mouse.move(400, 300)  # someone reads: the pointer over the text, no answer
    page.mouse.wheel(0, 200)
    time.sleep(1)
    assert renewal_later(page)["extend"] is True
    assert all(after > before for after, before in zip(expiries(project), leased, strict=True))
    assert js_errors == []


def test_coming_back_after_the_items_went_to_someone_else_drops_them_before_a_key_answers_one(
        live_server, page, login, make_user, project_factory, js_errors, settings):
    settings.LONGTAIL_LEASE_SECONDS = 3
    project = project_factory("cameback", labels=LABELS)
    page.clock.install()
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    renewal_later(page)  # away: a check-in, nothing extended
    time.sleep(3.5)  # the leases run out; bob takes the items
    assert len(leasing.lease_batch(project, add_member(make_user, project, "bob")).assignments) == 3
    sent = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/annotations/") else None)

    page.keyboard.press("1")  # back: the key waits for the lease check, and answers nothing
    notice = page.locator("#notice")
    expect(notice).to_contain_text(f"Items {items[0].pk}, {items[1].pk} and {items[2].pk} left this batch: "
                                   "your leases on them ran out and other annotators took them.")
    expect(page.locator("#start-panel")).to_be_visible()
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert sent == [] and live(project) == {}
    assert js_errors == []
