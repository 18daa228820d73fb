"""Replies on a bad network, beyond the reader's cases (test_round38_slownet_*): a change's reply
cut off mid-body is no reply (sent again with the same client id, stored once); after a lease's
reply was cut off, Enter leases again and the batch comes; and a late lease-renewal reply does not
undo labels that a newer reply found current even though it brought none (the lead renamed a label
and renamed it back: the newer reply carries no labels, the late one the passing name).
(Playwright cannot cut a body mid-stream: the reply arrives whole but truncated, to the page the
same failed body read.)"""
from playwright.sync_api import expect

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, Assignment
from labeling.projects.models import Label

from ..test_annotation_helpers import add_member, make_open_wave
from .annotator_pages import TEXTS, annotating, live


def cut_once(cut):
    """A route handler: the first request reaches the server, its reply comes back cut in half."""
    def handler(route):
        if cut:
            route.continue_()
            return
        reply = route.fetch()
        body = reply.text()
        cut.append(reply.status)
        route.fulfill(status=reply.status, headers=dict(reply.headers), body=body[: len(body) // 2])
    return handler


def test_a_change_whose_reply_is_cut_off_is_sent_again_and_stored_once(live_server, page, login, make_user,
                                                                       project_factory):
    project = project_factory("cutchange", labels=("billing", "login", "spam"))
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    page.keyboard.press("1")  # item 1: billing
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    cut = []
    page.route("**/api/projects/cutchange/annotations/change/", cut_once(cut))
    page.keyboard.press("Backspace")  # back to item 1 ...
    expect(page.locator("#item-text")).to_have_text(TEXTS[0])
    page.keyboard.press("2")  # ... changed to login: stored, its reply cut
    page.keyboard.press("3")  # item 2: spam, queued behind the change
    expect(page.locator("#save-status")).to_have_text("All answers saved", timeout=20_000)
    assert cut == [201]
    expect(page.locator("#notice")).not_to_contain_text("Not saved")
    rows = page.locator("#history-list button.history-row")
    expect(rows.nth(1)).to_contain_text("login")
    expect(rows.nth(1)).not_to_contain_text("saving")
    assert live(project) == {items[0].pk: ("login", False), items[1].pk: ("spam", False)}
    assert Annotation.objects.filter(project=project).count() == 3  # billing (undone), login, spam


def test_enter_after_a_cut_lease_reply_brings_the_batch(live_server, page, login, make_user, project_factory):
    project = project_factory("cutlease2", labels=("billing", "login", "spam"))
    project.batch_size = 2
    project.save()
    make_open_wave(project, 4, texts=TEXTS[:4], batch_size=2)
    ann = add_member(make_user, project, "ann")
    login(page, "ann")
    page.goto(live_server.url + "/p/cutlease2/annotate/")
    cut = []
    page.route("**/api/projects/cutlease2/batches/", cut_once(cut))
    page.wait_for_load_state("networkidle")  # the page listens for keys (not at once on a loaded machine)
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_have_text("Could not reach the server; press Enter to try again.")
    expect(page.locator("#start-message")).to_have_text("")
    assert cut == [200]
    page.keyboard.press("Enter")  # the batch the first lease took
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")
    expect(page.locator("#notice")).to_be_hidden()
    assert Assignment.objects.filter(annotator=ann, state=Assignment.LEASED).count() == 2
    page.keyboard.press("1")
    page.keyboard.press("2")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert len(live(project)) == 2


def test_a_late_renewal_reply_does_not_undo_labels_a_newer_reply_found_current(
        live_server, page, login, make_user, project_factory):
    project = project_factory("renameback", labels=("billing", "login", "spam"))
    project.batch_size = 3
    project.save()
    _, items = make_open_wave(project, 3, texts=TEXTS[:3], batch_size=3)
    ann = add_member(make_user, project, "ann")
    leasing.lease_batch(project, ann)  # held: the page renews it as soon as it opens
    login(page, "ann")
    held = []
    page.route("**/api/projects/renameback/batches/renew/",
               lambda route: held.append(route) if not held else route.continue_())
    page.goto(live_server.url + "/p/renameback/annotate/")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 3")
    for _ in range(50):  # the renewal the page sends on load is held
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1

    billing = Label.objects.get(project=project, name="billing")
    billing.name = "invoices"
    billing.save()
    late = held[0].fetch()  # answered while the label was "invoices"
    assert [lab["name"] for lab in late.json()["labels"] if lab["id"] == billing.pk] == ["invoices"]
    billing.name = "billing"  # the lead thinks better of it
    billing.save()

    page.keyboard.press("2")  # item 1: login; the page's labels are current again: its reply brings none
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    held[0].fulfill(response=late)  # the renewal's reply arrives at last
    page.wait_for_timeout(1000)
    label_one = page.locator(f'button.label-btn[data-label="{billing.pk}"]')
    expect(page.locator("#notice")).not_to_contain_text("is now")
    expect(label_one).to_contain_text("billing")
    page.keyboard.press("1")  # item 2, with the key of the label the page shows
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    expect(page.locator("#notice")).not_to_contain_text("Not saved")
    assert live(project) == {items[0].pk: ("login", False), items[1].pk: ("billing", False)}
