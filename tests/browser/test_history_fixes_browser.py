"""The annotation page after three audit findings, in Chromium against the live server: a lease
that cannot reach the server says so and works on the next Enter; clearing an answer of a closed
wave says whether the item keeps other annotators' answers; the History panel names the Other
answer as the button does, before and after a reload."""
from playwright.sync_api import expect

from labeling.annotations import leasing
from labeling.annotations.models import Annotation
from labeling.projects.models import Label
from labeling.waves.models import Wave
from labeling.waves.services import close_wave

from ..test_annotation_helpers import add_member, answer, make_open_wave
from .annotator_pages import TEXTS, annotating, live, start

UNREACHABLE = "Could not reach the server; press Enter to try again."


def test_a_lease_that_cannot_reach_the_server_says_so_and_enter_tries_again(live_server, page, login, make_user,
                                                                            project_factory, js_errors):
    project = project_factory("offline", labels=("billing", "login"))
    project.batch_size = 2
    project.save()
    make_open_wave(project, 3, texts=TEXTS[:3], batch_size=2)
    add_member(make_user, project, "ann")
    login(page, "ann")
    page.goto(live_server.url + "/p/offline/annotate/")
    # The network fails the lease request (as with the server stopped): no answer comes back.
    page.route("**/batches/", lambda route: route.abort("connectionrefused"))
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_have_text(UNREACHABLE)
    expect(page.locator("#start-message")).to_have_text("")  # not "Leasing…" forever
    expect(page.locator("#start-panel")).to_be_visible()
    page.unroute("**/batches/")  # the server answers again
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")
    expect(page.locator("#notice")).to_be_hidden()  # the failure is over
    page.keyboard.press("1")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    # Only the refused connection itself is logged; no uncaught "Failed to fetch".
    assert [e for e in js_errors if "ERR_CONNECTION_REFUSED" not in e] == []


def test_clearing_a_closed_wave_answer_says_whether_others_answers_keep_the_item(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("keeps", labels=("billing", "login"))
    project.overlap, project.batch_size = 2, 2
    project.save()
    wave, items = make_open_wave(project, 2, texts=TEXTS[:2], batch_size=2, double={0})
    ann = add_member(make_user, project, "ann")
    bob = add_member(make_user, project, "bob")
    login(page, "ann")
    start(page, live_server, "keeps", 2)
    key = {label.name: label.hotkey for label in project.labels.all()}
    page.keyboard.press(key["billing"])
    page.keyboard.press(key["login"])
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    answer(project, bob, leasing.lease_batch(project, bob).assignments[0], project.labels.get(name="billing"))
    wave.refresh_from_db()
    if wave.state == Wave.OPEN:
        close_wave(wave)
    make_open_wave(project, 2, number=2, texts=TEXTS[2:4], batch_size=2)

    start(page, live_server, "keeps", 2)  # a reload: the history comes from the server
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")  # wave 1's first item, which bob labeled too
    expect(page.locator("#item-text")).to_have_text(TEXTS[0])
    page.keyboard.press("Delete")
    expect(page.locator("#notice")).to_have_text(
        f"Cleared your answer on item {items[0].pk}. Your answer is withdrawn; the item keeps the other "
        "annotators' answers.")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")
    page.keyboard.press("Backspace")  # wave 1's second item: ann's answer alone labels it
    expect(page.locator("#item-text")).to_have_text(TEXTS[1])
    page.keyboard.press("Delete")
    expect(page.locator("#notice")).to_have_text(
        f"Cleared your answer on item {items[1].pk}. Its wave is closed, so the item went back to the pool; "
        "it is not waiting for you.")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("billing", False)}  # bob's answer
    assert not Annotation.objects.filter(annotator=ann, undone=False).exists()
    assert js_errors == []


def test_the_history_names_the_other_answer_as_its_button_does(live_server, page, login, make_user,
                                                               project_factory, js_errors):
    project = project_factory("othername", labels=("billing", "login"))
    Label.objects.create(project=project, name="Other", hotkey="0", is_other=True, order=99)
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    expect(page.locator("#none-btn")).to_contain_text("Other")
    page.click("#none-btn")
    page.keyboard.press("0")  # the none-of-these key answers the same
    rows = page.locator("#history-list .history-row .history-label")
    expect(rows).to_have_text(["Other", "Other"])
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    page.reload()  # the same rows, from the server
    expect(page.locator("#item-position")).to_have_text("Item 3 of 3")
    expect(rows).to_have_text(["Other", "Other"])
    page.keyboard.press("Backspace")
    expect(page.locator("#reopen-was")).to_have_text("Other")
    assert live(project) == {items[0].pk: ("Other", False), items[1].pk: ("Other", False)}
    assert js_errors == []
