"""An answer the server refuses takes the changes and clears queued behind it with it: they name
an answer that was never stored, so they are dropped unsent, and the page says once what happened
and which answer stands (the 409 carries it). It used to send them, have them refused too, say
"Your earlier answer stands" although nothing of it was stored, overwrite the first refusal's
reason, mark the history row "changed" and count two answers not saved for one item. The answer's
reply is held back by the browser until the change is queued; the server answers as always."""
import time
import uuid

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from labeling.annotations import leasing
from labeling.annotations.models import Assignment
from labeling.annotations.services import submit_answer
from labeling.projects.models import Label

from ..test_annotation_helpers import add_member
from .annotator_pages import annotating, live

pytestmark = pytest.mark.browser

LABELS = ("billing", "login", "spam")


def hold_answers(page):
    """Answers wait in the returned list until released; change/clear requests are counted."""
    held, changes, gate = [], [], {"open": False}
    page.route("**/annotations/", lambda route: route.continue_() if gate["open"] else held.append(route))
    page.on("request", lambda request: changes.append(request.url) if "/annotations/change/" in request.url else None)
    return held, changes, gate


def release(page, held, gate):
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    gate["open"] = True
    held[0].continue_()


def test_a_change_behind_an_answer_another_tab_made_is_dropped(live_server, page, login, make_user, project_factory,
                                                                 js_errors):
    project = project_factory("chaintabs", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    ann = get_user_model().objects.get(username="ann")
    first = Assignment.objects.get(annotator=ann, wave_item__item=items[0])
    spam = Label.objects.get(project=project, name="spam")
    submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=first.pk, label_id=spam.pk)  # another tab

    held, changes, gate = hold_answers(page)
    page.keyboard.press("1")          # billing on item 1: refused, item 1 is answered already
    page.keyboard.press("Backspace")  # reopened while it is still on its way
    page.keyboard.press("2")          # and changed to login: queued behind it
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "2")
    release(page, held, gate)

    status = page.locator("#save-status")
    expect(status).to_have_attribute("data-pending", "0")
    expect(status).to_have_text("1 answer not saved (see the notice)")
    notice = page.locator("#notice")
    expect(notice).to_have_text(f"Not saved (item {items[0].pk}): You already answered or skipped item {items[0].pk}; "
                                "undo that answer first to change it. The change you made to it after was not sent. "
                                "Your answer stands: spam.")
    row = page.locator("#history-list .history-row")
    expect(row).to_have_count(1)
    expect(row.locator(".history-label")).to_have_text("spam")  # what stands, not "Not stored"
    expect(row.locator(".history-time")).not_to_contain_text("changed")
    expect(page.locator("#batch-count")).to_have_text("1 / 3")
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    assert changes == []  # the change was never sent
    assert live(project) == {items[0].pk: ("spam", False)}

    page.keyboard.press("Backspace")  # what stands can be changed from here: the change names it
    expect(page.locator("#reopen-was")).to_have_text("spam")
    page.keyboard.press("2")
    expect(status).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("login", False)}
    assert [e for e in js_errors if "status of 409 (Conflict)" not in e] == []  # the refusal itself is expected


def test_a_clear_behind_an_answer_whose_slot_was_taken_is_dropped(live_server, page, login, make_user,
                                                                  project_factory, js_errors, settings):
    settings.LONGTAIL_LEASE_SECONDS = 3
    project = project_factory("chainslot", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=4, batch_size=4)
    time.sleep(3.5)  # the tab slept past its lease, and bob took the items
    leasing.lease_batch(project, add_member(make_user, project, "bob"))

    held, changes, gate = hold_answers(page)
    page.keyboard.press("1")          # billing on item 1: refused, bob holds its slot
    page.keyboard.press("Backspace")
    page.keyboard.press("Delete")     # cleared: queued behind it
    expect(page.locator("#item-position")).to_have_text("Item 1 of 4")  # the clear put item 1 back
    release(page, held, gate)

    status = page.locator("#save-status")
    expect(status).to_have_attribute("data-pending", "0")
    expect(status).to_have_text("1 answer not saved (see the notice)")
    notice = page.locator("#notice")
    expect(notice).to_contain_text(f"Not saved (item {items[0].pk}): Your lease on item {items[0].pk} expired")
    expect(notice).to_contain_text("The change you made to it after was not sent. No answer of yours counts on it now.")
    row = page.locator("#history-list .history-row")
    expect(row).to_have_count(1)
    expect(row.locator(".history-label")).to_contain_text("Not stored: Your lease on item")
    expect(page.locator("#item-position")).to_have_text("Item 2 of 4")  # item 1 cannot be answered here now
    assert changes == []
    assert live(project) == {}
    assert [e for e in js_errors if "status of 409 (Conflict)" not in e] == []  # the refusal itself is expected
