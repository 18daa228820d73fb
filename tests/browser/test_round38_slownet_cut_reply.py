"""An answer's reply cut off on the way back (the connection dropped mid-body, after the server
stored the answer): fetch() has resolved with the 201's headers, so the body read fails instead.
The outbox (static/js/annotate/outbox.js pump) reads that body outside its try, so the failure
escapes pump() with ``pumping`` still true: the queue never sends again. Every later answer sits
in "Saving N answer(s)…" for good, nothing more reaches the server, and a Next batch waits on
flush() forever. The page should treat a reply it could not read as no reply: send again (the same
client id, so the server stores it once) and go on. (Playwright cannot cut a body mid-stream, so
the reply arrives whole but truncated: to the page, the same failed body read.)"""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation

from ..test_annotation_helpers import add_member, make_open_wave
from .annotator_pages import TEXTS, annotating, live


def test_an_answer_whose_reply_is_cut_off_does_not_stop_the_later_answers(
        live_server, page, login, make_user, project_factory):
    project = project_factory("cutreply", labels=("billing", "login", "spam"))
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    cut = []

    def cut_first_reply(route):
        if cut:
            route.continue_()
            return
        reply = route.fetch()  # the server stores the answer and answers 201
        body = reply.text()
        cut.append(reply.status)
        # What arrives of it: the headers and half the body (the connection went away).
        route.fulfill(status=reply.status, headers=dict(reply.headers), body=body[: len(body) // 2])

    page.route("**/api/projects/cutreply/annotations/", cut_first_reply)
    page.keyboard.press("1")  # item 1: billing (stored, its reply cut)
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    page.wait_for_timeout(500)
    page.keyboard.press("2")  # item 2: login
    page.keyboard.press("3")  # item 3: spam
    assert cut == [201]  # created

    # Both later answers reach the server, each answer is stored once, and the page says so.
    expect(page.locator("#save-status")).to_have_text("All answers saved", timeout=20_000)
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("login", False),
                             items[2].pk: ("spam", False)}
    assert Annotation.objects.filter(project=project).count() == 3


def test_a_lease_whose_reply_is_cut_off_does_not_say_leasing_for_good(live_server, page, login, make_user,
                                                                      project_factory):
    """The same cut on a lease's reply (batch.js lease(): response.json() outside any catch): the
    server leased the batch, the page shows nothing of it and says "Leasing…" with nothing under
    way, until the annotator guesses to press Enter again."""
    project = project_factory("cutlease", labels=("billing", "login", "spam"))
    project.batch_size = 2
    project.save()
    make_open_wave(project, 4, texts=TEXTS[:4], batch_size=2)
    add_member(make_user, project, "ann")
    login(page, "ann")
    page.goto(live_server.url + "/p/cutlease/annotate/")
    cut = []

    def cut_first_reply(route):
        if cut:
            route.continue_()
            return
        reply = route.fetch()  # the server leases the batch
        body = reply.text()
        cut.append(reply.status)
        route.fulfill(status=reply.status, headers=dict(reply.headers), body=body[: len(body) // 2])

    page.route("**/api/projects/cutlease/batches/", cut_first_reply)
    page.wait_for_load_state("networkidle")  # the page's keys are listened for (on a loaded machine, not at once)
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("")
    for _ in range(50):  # the cut reply arrived
        if cut:
            break
        page.wait_for_timeout(100)
    assert cut == [200]
    # Nothing is under way any more: the page must not go on saying it is leasing.
    expect(page.locator("#start-message")).not_to_have_text("Leasing…", timeout=5000)
