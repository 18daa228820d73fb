"""A refused clear or change leaves the page showing the answer that stands, and a lost reply
counts its answer once: three audit findings on the annotation page, driven in Chromium against
the live server. Another tab of the same annotator changes an answer first, so this tab's clear or
change of it is refused (409); and an answer whose reply the network loses is stored, retried and
recognised by its client id."""
from playwright.sync_api import expect

from .annotator_pages import annotating, live

LABELS = ("billing", "login", "spam")


def saved(page):
    expect(page.locator("#save-status")).to_have_text("All answers saved")


def second_tab_changes_item_1(page, live_server, slug):
    """Item 1 is answered "billing" in ``page``; a second tab of the same annotator, opened now,
    then ``page`` changes item 1 to "login". The second tab still believes "billing": returned."""
    page.keyboard.press("1")
    saved(page)
    other = page.context.new_page()
    other.goto(live_server.url + f"/p/{slug}/annotate/")
    expect(other.locator("#history-list .history-row")).to_have_count(1)
    expect(other.locator("#batch-count")).to_have_text("1 / 2")
    page.bring_to_front()
    page.keyboard.press("Backspace")
    page.keyboard.press("2")
    saved(page)
    other.bring_to_front()
    return other


def test_a_refused_clear_keeps_the_answer_that_stands(live_server, page, login, make_user, project_factory,
                                                      js_errors):
    project = project_factory("refusedclear", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=2, batch_size=2)
    other = second_tab_changes_item_1(page, live_server, "refusedclear")

    other.keyboard.press("Backspace")
    expect(other.locator("#reopen-was")).to_have_text("billing")
    other.keyboard.press("Delete")  # refused: the first tab changed the answer meanwhile
    notice = other.locator("#notice")
    expect(notice).to_contain_text("change that one instead")  # the server's refusal came back
    row = other.locator("#history-list .history-row")
    expect(row).to_have_count(1)  # the row is not dropped
    expect(row.locator(".history-label")).to_have_text("login")  # the answer stored now
    expect(notice).to_contain_text("Clear not saved (item")
    expect(notice).to_contain_text("Your answer stands: login.")
    expect(other.locator("#batch-count")).to_have_text("1 / 2")  # item 1 is answered on the server
    expect(other.locator("#wave-count")).to_have_text("1 / 2 answers (wave 1)")
    expect(other.locator("#item-position")).to_have_text("Item 2 of 2")  # nothing to answer again
    assert live(project) == {items[0].pk: ("login", False)}

    other.keyboard.press("Backspace")  # what stands can be cleared from this tab now
    expect(other.locator("#reopen-was")).to_have_text("login")
    other.keyboard.press("Delete")
    expect(other.locator("#save-status")).to_have_text("All answers saved")
    expect(other.locator("#batch-count")).to_have_text("0 / 2")
    assert live(project) == {}
    assert js_errors == []  # the first tab's


def test_a_refused_change_learns_the_answer_that_stands_and_changes_it(live_server, page, login, make_user,
                                                                       project_factory, js_errors):
    project = project_factory("refusedchange", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=2, batch_size=2)
    other = second_tab_changes_item_1(page, live_server, "refusedchange")

    other.keyboard.press("Backspace")
    other.keyboard.press("3")  # spam: refused, the first tab changed it to login first
    expect(other.locator("#notice")).to_contain_text("Change not saved (item")
    expect(other.locator("#save-status")).not_to_contain_text("Saving")
    row = other.locator("#history-list .history-row")
    expect(row).to_have_count(1)
    expect(row.locator(".history-label")).to_have_text("login")
    assert live(project) == {items[0].pk: ("login", False)}

    other.keyboard.press("Backspace")  # a further change from this tab is stored
    expect(other.locator("#reopen-was")).to_have_text("login")
    other.keyboard.press("3")
    expect(other.locator("#save-status")).to_have_text("All answers saved")
    expect(row.locator(".history-label")).to_have_text("spam")
    assert live(project) == {items[0].pk: ("spam", False)}
    assert js_errors == []


def test_an_answer_whose_reply_was_lost_counts_once_in_the_wave(live_server, page, login, make_user,
                                                                project_factory, js_errors):
    project = project_factory("lostreply", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    expect(page.locator("#wave-count")).to_have_text("0 / 3 answers (wave 1)")
    lost = []

    def store_then_lose_the_reply(route):
        if lost:  # the retry goes through
            route.continue_()
            return
        stored = route.fetch()  # reaches the live server, which stores the answer
        lost.append(stored.status)
        route.abort("connectionreset")

    page.route("**/api/projects/lostreply/annotations/", store_then_lose_the_reply)
    page.keyboard.press("1")
    # The count first: Playwright runs the route handler only while the test waits, and on a loaded
    # machine "All answers saved" (the status before the key's send) was read before the send began.
    expect(page.locator("#wave-count")).to_have_text("1 / 3 answers (wave 1)")
    saved(page)
    assert lost == [201]
    assert live(project) == {items[0].pk: ("billing", False)}

    page.keyboard.press("2")  # the next answer, without a loss, counts one more
    saved(page)
    expect(page.locator("#wave-count")).to_have_text("2 / 3 answers (wave 1)")
    # The browser reports the lost reply itself (a failed load); the page logs nothing else.
    assert [e for e in js_errors if "ERR_CONNECTION_RESET" not in e] == []


class HeldChanges:
    """The change requests of ``page``: the first one is held back until ``release`` (the server
    then gets it, as every later one, unchanged)."""

    def __init__(self, page, slug):
        self.held = []
        page.route(f"**/api/projects/{slug}/annotations/change/", self._route)

    def _route(self, route):
        if not self.held:
            self.held.append(route)
        else:
            route.continue_()

    def release(self):
        self.held[0].continue_()


def test_a_clear_queued_behind_a_refused_change_falls_back_to_the_answer_that_stands(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("refusedtwice", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=2, batch_size=2)
    other = second_tab_changes_item_1(page, live_server, "refusedtwice")
    held = HeldChanges(other, "refusedtwice")

    other.keyboard.press("Backspace")
    other.keyboard.press("3")  # spam: held, then refused (the first tab changed it to login)
    other.keyboard.press("Backspace")
    expect(other.locator("#reopen-was")).to_have_text("spam")
    other.keyboard.press("Delete")  # queued behind it, naming the change that is never stored
    expect(other.locator("#save-status")).to_have_text("Saving 2 answer(s)…")
    held.release()
    expect(other.locator("#save-status")).not_to_contain_text("Saving")
    notice = other.locator("#notice")
    expect(notice).to_contain_text("Clear not saved (item")
    expect(notice).to_contain_text("Your answer stands: login.")
    row = other.locator("#history-list .history-row")
    expect(row).to_have_count(1)
    expect(row.locator(".history-label")).to_have_text("login")
    assert live(project) == {items[0].pk: ("login", False)}

    other.keyboard.press("Backspace")  # and a further change from this tab is stored
    expect(other.locator("#reopen-was")).to_have_text("login")
    other.keyboard.press("3")
    expect(other.locator("#save-status")).to_have_text("All answers saved")
    expect(row.locator(".history-label")).to_have_text("spam")
    assert live(project) == {items[0].pk: ("spam", False)}
    assert [e for e in js_errors if "409" not in e and "404" not in e] == []


def test_a_refused_clear_with_nothing_standing_goes_on_to_an_item_waiting(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("nothingstands", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    page.keyboard.press("1")  # item 1: billing
    saved(page)
    other = page.context.new_page()  # a second tab, which believes item 1 is "billing"
    other.goto(live_server.url + "/p/nothingstands/annotate/")
    expect(other.locator("#history-list .history-row")).to_have_count(1)
    page.bring_to_front()  # the first tab changes item 1, then clears it: nothing of ann's stands on it
    page.keyboard.press("Backspace")
    page.keyboard.press("2")
    saved(page)
    page.keyboard.press("Backspace")
    page.keyboard.press("Delete")
    saved(page)
    assert live(project) == {}

    other.bring_to_front()
    other.keyboard.press("Enter")  # the held batch: item 1 answered (as the tab believes), 2 and 3 waiting
    expect(other.locator("#item-position")).to_have_text("Item 2 of 3")
    other.keyboard.press("1")
    other.keyboard.press("1")
    expect(other.locator("#save-status")).to_have_text("All answers saved")
    held = HeldChanges(other, "nothingstands")
    other.keyboard.press("Backspace")
    other.keyboard.press("Backspace")
    other.keyboard.press("Backspace")
    expect(other.locator("#reopen-was")).to_have_text("billing")  # item 1, as this tab believes
    other.keyboard.press("Delete")  # held, then refused: its answer was changed meanwhile
    other.keyboard.press("Backspace")
    other.keyboard.press("Delete")  # clears the answer on item 3 (this one is stored)
    held.release()
    expect(other.locator("#notice")).to_contain_text("No answer of yours counts on it now.")
    expect(other.locator("#save-status")).not_to_contain_text("Saving")
    # The page is on an item that waits for an answer (item 1 or 3), never on the answered item 2.
    position = other.locator("#item-position")
    expect(position).not_to_have_text("Item 2 of 3")
    other.keyboard.press("3")  # spam, on the item shown
    expect(other.locator("#save-status")).to_have_attribute("data-pending", "0")
    answered = live(project)
    assert answered[items[1].pk] == ("billing", False) and len(answered) == 2
    assert ("spam", False) in answered.values()
    assert [e for e in js_errors if "409" not in e and "404" not in e] == []
