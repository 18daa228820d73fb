"""The annotation page when its leases go while it is away (a laptop that slept past the lease):
the lease renewal says which of the page's leases were lost and why, and the page takes those items
off its batch with one notice instead of offering them until every answer is refused (409); when
nothing is left to answer it offers a new batch. A lease that ran out on an item nobody took is
taken again, as an answer on it would be stored. Playwright's clock stands in for the sleep."""
import time

from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from labeling.annotations import leasing
from labeling.annotations.models import Assignment

from ..test_annotation_helpers import add_member
from .annotator_pages import annotating, live

LABELS = ("billing", "login", "spam")


def saved(page):
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")


def answers_sent(page):
    sent = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/annotations/") else None)
    return sent


def test_items_another_annotator_took_while_the_tab_slept_leave_the_batch_with_one_notice(
        live_server, page, login, make_user, project_factory, js_errors, settings):
    settings.LONGTAIL_LEASE_SECONDS = 3
    project = project_factory("sleptlost", labels=LABELS)
    page.clock.install()
    items = annotating(page, live_server, login, make_user, project, n_items=4, batch_size=4)
    page.keyboard.press("1")
    saved(page)
    time.sleep(3.5)  # the laptop sleeps past the lease
    assert len(leasing.lease_batch(project, add_member(make_user, project, "bob")).assignments) == 3
    sent = answers_sent(page)

    page.clock.fast_forward(11_000)  # on waking, the renewal is due
    notice = page.locator("#notice")
    taken = ", ".join(str(i.pk) for i in items[1:3]) + f" and {items[3].pk}"
    expect(notice).to_have_text(f"Items {taken} left this batch: your leases on them ran out and other "
                                "annotators took them. Nothing is left to answer in this batch: press Enter "
                                "for a new one.")
    expect(page.locator("#done-panel")).to_be_visible()
    expect(page.locator("#item-panel")).to_be_hidden()
    expect(page.locator("#summary-counts")).to_have_text("1 answered · 0 skipped")
    for _ in range(3):
        page.keyboard.press("2")  # nothing is offered: nothing is answered in vain
    saved(page)
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert sent == [] and live(project) == {items[0].pk: ("billing", False)}

    page.keyboard.press("Enter")  # the new batch it offers: bob holds the rest
    expect(page.locator("#start-message")).not_to_have_text("")
    assert js_errors == []


def test_a_lapsed_lease_nobody_took_is_taken_again_and_its_item_stays(
        live_server, page, login, make_user, project_factory, js_errors, settings):
    settings.LONGTAIL_LEASE_SECONDS = 3
    project = project_factory("sleptfree", labels=LABELS)
    page.clock.install()
    items = annotating(page, live_server, login, make_user, project, n_items=2, batch_size=2)
    page.keyboard.press("1")
    saved(page)
    time.sleep(3.5)
    with transaction.atomic():  # the sweep each lease runs first: its slot went back to the pool; nobody took it
        leasing.expire_stale(timezone.now())
    second = Assignment.objects.get(wave_item__item=items[1])
    assert second.state == Assignment.EXPIRED

    with page.expect_response("**/batches/renew/") as renewal:
        page.clock.fast_forward(11_000)
    assert renewal.value.json()["lost"] == []
    second.refresh_from_db()
    assert second.state == Assignment.LEASED and second.expires_at.timestamp() > time.time()
    expect(page.locator("#item-position")).to_have_text("Item 2 of 2")
    expect(page.locator("#notice")).to_be_hidden()
    page.keyboard.press("2")
    saved(page)
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("login", False)}
    assert js_errors == []
