"""Back at an idle tab whose leases ran out, while a check-in is still on its way (a slow network).
leases.js promises: "When the leases may have run out meanwhile, keys typed before the reply wait
for it (as they wait for a lease), so that a key meant for an item that went to someone else
answers nothing." That holds when the key itself starts the renewal; but noteActivity returns at
once when a renewal is already in flight (`if (inFlight || !keeping()) return;`), so when the
timer's check-in is still waiting for its reply (on a slow network, most of the time) the key is
applied at once: it answers the item another annotator took, the answer is refused 409 ("Your
lease on item 2 expired and other annotators took its slot"), and the page counts "1 answer not
saved" for an item that was leaving the batch anyway."""
import time

from playwright.sync_api import expect

from labeling.annotations import leasing

from ..test_annotation_helpers import add_member
from .annotator_pages import annotating, live


def test_a_key_pressed_while_a_check_in_is_on_its_way_waits_for_it(live_server, page, login, make_user,
                                                                   project_factory, settings):
    settings.LONGTAIL_LEASE_SECONDS = 3
    project = project_factory("idleinflight", labels=("billing", "login", "spam"))
    page.clock.install()
    items = annotating(page, live_server, login, make_user, project, n_items=4, batch_size=4)
    page.keyboard.press("1")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    time.sleep(3.5)  # the tab sits idle past the lease
    assert len(leasing.lease_batch(project, add_member(make_user, project, "bob")).assignments) == 3
    held = []
    page.route("**/api/projects/idleinflight/batches/renew/", lambda route: held.append(route))
    answers = []
    page.on("request", lambda r: answers.append(r.url) if r.url.endswith("/annotations/") else None)

    page.clock.fast_forward(11_000)  # the timer's check-in goes out; its reply is slow
    page.wait_for_timeout(300)
    assert len(held) == 1
    page.keyboard.press("2")  # the annotator is back, on item 2 (bob holds it now)
    page.wait_for_timeout(500)
    held.pop(0).continue_()  # the check-in's reply arrives (within the keys' wait)
    notice = page.locator("#notice")
    expect(notice).to_contain_text("left this batch")
    expect(notice).not_to_contain_text("Not saved")
    expect(page.locator("#save-status")).not_to_contain_text("not saved")
    assert answers == []  # the key answered nothing
    assert live(project) == {items[0].pk: ("billing", False)}
