"""Follow-ups to the annotation page's lease renewal (static/js/annotate/leases.js): a clear still on
its way is not taken for an answer given elsewhere; a page opened on a held batch renews it at once,
not a third of a lease later; keys held by a lease check say so in the save status; a lost item's
notice is read once. Playwright's clock jumps the renewal interval (a third of the lease, at least
10 s); the server's leases run on real time."""
import time
import uuid
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from labeling.annotations import leasing, services
from labeling.annotations.models import Assignment

from ..test_annotation_helpers import add_member, make_open_wave
from .annotator_pages import annotating, live

LABELS = ("billing", "login", "spam")


def renewal_later(page):
    with page.expect_response("**/batches/renew/") as renewal:
        page.clock.fast_forward(11_000)
    return renewal.value


def test_a_clear_still_on_its_way_is_neither_named_in_a_renewal_nor_dropped(
        live_server, page, login, make_user, project_factory, js_errors, settings):
    settings.LONGTAIL_LEASE_SECONDS = 30
    project = project_factory("clearrace", labels=LABELS)
    page.clock.install()
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    first = Assignment.objects.get(wave_item__item=items[0])
    page.keyboard.press("1")
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")
    held = []
    page.route("**/annotations/change/", lambda route: held.append(route))  # the clear is slow to arrive
    page.keyboard.press("Backspace")
    page.keyboard.press("Delete")  # the page shows item 1 unanswered; the server still has the answer
    expect(page.locator("#notice")).to_contain_text(f"Cleared your answer on item {items[0].pk}")

    renewal = renewal_later(page)
    assert first.pk not in renewal.request.post_data_json["assignments"]
    assert renewal.json()["lost"] == []
    for route in held:
        route.continue_()
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")
    first.refresh_from_db()
    assert first.state == Assignment.LEASED and live(project) == {}  # the clear was stored
    expect(page.locator("#item-position")).to_have_text("Item 1 of 3")  # item 1 stays, to be answered
    expect(page.locator("#notice")).not_to_contain_text("left this batch")
    page.keyboard.press("2")
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")
    assert live(project) == {items[0].pk: ("login", False)}
    assert js_errors == []


def test_a_page_opened_on_a_held_batch_renews_it_at_once(
        live_server, page, login, make_user, project_factory, js_errors, settings):
    settings.LONGTAIL_LEASE_SECONDS = 30
    project = project_factory("reloadlapse", labels=LABELS)
    project.batch_size = 2
    project.save()
    make_open_wave(project, 2, batch_size=2)
    ann = add_member(make_user, project, "ann")
    login(page, "ann")
    leasing.lease_batch(project, ann)
    # Left alone for most of a lease period before the page is opened (reloaded): 6 s are left.
    now = timezone.now()
    Assignment.objects.filter(annotator=ann).update(leased_at=now - timedelta(seconds=24),
                                                    expires_at=now + timedelta(seconds=6))
    page.clock.install()
    with page.expect_response("**/batches/renew/", timeout=4000) as renewal:  # not at the first tick (10 s)
        page.goto(live_server.url + f"/p/{project.slug}/annotate/")
    assert renewal.value.request.post_data_json["extend"] is True
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")
    later = timezone.now() + timedelta(seconds=20)
    assert all(at > later for at in Assignment.objects.filter(annotator=ann).values_list("expires_at", flat=True))
    assert js_errors == []


def test_keys_held_by_a_lease_check_say_so_not_that_the_batch_is_loading(
        live_server, page, login, make_user, project_factory, js_errors, settings):
    settings.LONGTAIL_LEASE_SECONDS = 30
    project = project_factory("heldkeys", labels=LABELS)
    page.clock.install()
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    for _ in range(3):  # nobody touches the page: check-ins, nothing extended
        time.sleep(0.5)
        assert renewal_later(page).request.post_data_json["extend"] is False
    held = []
    page.route("**/batches/renew/", lambda route: held.append(route))
    page.keyboard.press("1")  # back after a pause: the keys wait for the lease check
    page.keyboard.press("2")
    status = page.locator("#save-status")
    expect(status).to_have_text("Checking your leases: 2 key(s) to apply…")
    expect(status).to_have_attribute("data-waiting-keys", "2")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 3")
    for route in held:
        route.continue_()
    expect(status).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("login", False)}
    assert js_errors == []


def test_a_lost_item_is_said_once_to_screen_readers(
        live_server, page, login, make_user, project_factory, js_errors, settings):
    settings.LONGTAIL_LEASE_SECONDS = 30
    project = project_factory("saidonce", labels=LABELS)
    page.clock.install()
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    ann = Assignment.objects.get(wave_item__item=items[1]).annotator
    second = Assignment.objects.get(wave_item__item=items[1])
    services.submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=second.pk,
                           label_id=project.labels.get(name="spam").pk)  # in another tab

    assert [lost["reason"] for lost in renewal_later(page).json()["lost"]] == ["answered"]
    said = f"Item {items[1].pk} left this batch: it was answered in another tab or session."
    notice = page.locator("#notice")
    expect(notice).to_have_text(said)
    expect(notice).to_have_attribute("role", "alert")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")
    expect(page.locator("#announce")).not_to_contain_text("left this batch")  # the alert is read; once
    assert js_errors == []
