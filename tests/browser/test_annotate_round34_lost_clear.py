"""A clear whose reply the network loses counts once in the wave, in Chromium against the live
server: the clear of a reopened answer (Backspace, then Delete) is stored, its reply is cut, the
page retries it with the same client id, and the wave counter ends where it would without the loss
(before, the retry's reply said nothing about the item waiting again, and the counter stayed one
too high)."""
from playwright.sync_api import expect

from .annotator_pages import annotating, live

LABELS = ("billing", "login", "spam")


def saved(page):
    expect(page.locator("#save-status")).to_have_text("All answers saved")


def test_a_clear_whose_reply_was_lost_counts_once_in_the_wave(live_server, page, login, make_user,
                                                               project_factory, js_errors):
    project = project_factory("lostclear", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    page.keyboard.press("1")
    page.keyboard.press("2")
    saved(page)
    expect(page.locator("#wave-count")).to_have_text("2 / 3 answers (wave 1)")
    lost = []

    def store_then_lose_the_reply(route):
        if lost:  # the retry goes through
            route.continue_()
            return
        stored = route.fetch()  # reaches the live server, which stores the clear
        lost.append(stored.status)
        route.abort("connectionreset")

    page.route("**/api/projects/lostclear/annotations/change/", store_then_lose_the_reply)
    page.keyboard.press("Backspace")  # reopens the last answer: item 2, "login"
    expect(page.locator("#reopen-was")).to_have_text("login")
    page.keyboard.press("Delete")
    saved(page)
    assert lost == [201]
    assert live(project) == {items[0].pk: ("billing", False)}
    # Item 2 waits for an answer again (its wave is open): one answer of the wave counts, not two.
    expect(page.locator("#wave-count")).to_have_text("1 / 3 answers (wave 1)")
    expect(page.locator("#batch-count")).to_have_text("1 / 3")

    page.keyboard.press("3")  # item 2 answered again, without a loss: the counter follows
    saved(page)
    expect(page.locator("#wave-count")).to_have_text("2 / 3 answers (wave 1)")
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("spam", False)}
    # The browser reports the lost reply itself (a failed load); the page logs nothing else.
    assert [e for e in js_errors if "ERR_CONNECTION_RESET" not in e] == []
