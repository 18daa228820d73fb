"""Where the keys go after a click: the label filter left focused, the skip form left open, an
answer of a closed wave cleared. Each way used to store an answer nobody chose (or promise one
that could not be given); driven in Chromium against the live server, checked in the database."""
from playwright.sync_api import expect

from labeling.annotations.models import Assignment
from labeling.projects.models import Label
from labeling.waves.models import Wave
from labeling.waves.services import close_wave

from ..test_annotation_helpers import make_open_wave
from .annotator_pages import TEXTS, annotating, live, start


def taxonomy(project_factory, slug):
    project = project_factory(slug, labels=())
    account = Label.objects.create(project=project, name="Account", hotkey="a", order=1)
    Label.objects.create(project=project, name="Password reset", hotkey="1", parent=account)
    Label.objects.create(project=project, name="Takeover", hotkey="2", parent=account)
    payments = Label.objects.create(project=project, name="Payments", hotkey="p", order=2)
    Label.objects.create(project=project, name="Refund", hotkey="1", parent=payments)
    Label.objects.create(project=project, name="Chargeback", hotkey="2", parent=payments)
    return project


def test_enter_after_the_filter_answers_only_with_what_the_page_shows(live_server, page, login, make_user,
                                                                      project_factory, js_errors):
    project = taxonomy(project_factory, "filterenter")
    items = annotating(page, live_server, login, make_user, project, n_items=4, batch_size=4)

    # "/" then a click on a coarse label: its fine labels open, "Just this ⏎" is offered, and
    # Enter keeps the coarse label (it saved the first fine label, from the focused filter).
    page.keyboard.press("/")
    page.click("#label-buttons .label-btn >> text=Payments")
    expect(page.locator("#coarse-step")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 2 of 4")
    # The same after typing into the filter first.
    page.keyboard.press("/")
    page.keyboard.type("acc")
    page.click("#label-buttons .label-btn >> text=Account")
    expect(page.locator("#coarse-step")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 3 of 4")
    # "/", a coarse label, Back, Enter: nothing was chosen, nothing is stored (it saved the first
    # top-level label).
    page.keyboard.press("/")
    page.click("#label-buttons .label-btn >> text=Payments")
    page.click("#coarse-back")
    page.keyboard.press("Enter")
    # "/" then Enter with nothing typed: nothing highlighted, nothing stored.
    page.keyboard.press("/")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 3 of 4")
    page.keyboard.press("p")  # the keys are the page's again
    page.keyboard.press("2")
    expect(page.locator("#item-position")).to_have_text("Item 4 of 4")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("Payments", False), items[1].pk: ("Account", False),
                             items[2].pk: ("Chargeback", False)}
    assert js_errors == []


def test_a_click_answer_closes_the_skip_form(live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("skipclick", labels=("billing", "login"))
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    key = {label.name: label.hotkey for label in project.labels.all()}

    page.keyboard.press(".")
    expect(page.locator("#skip-form")).to_be_visible()
    page.click("#label-buttons .label-btn >> text=billing")  # answered by mouse instead
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    expect(page.locator("#skip-form")).to_be_hidden()
    page.keyboard.press(key["login"])  # a label's hotkey, not a skip reason for item 2
    expect(page.locator("#item-position")).to_have_text("Item 3 of 3")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("login", False)}
    assert js_errors == []


def test_clearing_an_answer_of_a_closed_wave_says_it_went_back_to_the_pool(live_server, page, login, make_user,
                                                                            project_factory, js_errors):
    project = project_factory("clearclosed", labels=("billing", "login"))
    old = annotating(page, live_server, login, make_user, project, n_items=2, batch_size=2)
    first = Wave.objects.get(project=project, number=1)
    key = {label.name: label.hotkey for label in project.labels.all()}
    page.keyboard.press(key["billing"])
    page.keyboard.press(key["login"])
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    close_wave(first)
    make_open_wave(project, 2, number=2, texts=TEXTS[2:4], batch_size=2)

    start(page, live_server, "clearclosed", 2)  # a reload: the history comes from the server
    counter = page.locator("#wave-count").inner_text()
    page.keyboard.press("Backspace")  # the newest answer: wave 1's second item
    expect(page.locator("#item-text")).to_have_text(TEXTS[1])
    page.keyboard.press("Delete")
    expect(page.locator("#notice")).to_contain_text("went back to the pool")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")  # not "Item 3 of 3"
    expect(page.locator("#item-text")).to_have_text(TEXTS[2])
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert page.locator("#wave-count").inner_text() == counter  # wave 2's count is not wave 1's
    assert live(project) == {old[0].pk: ("billing", False)}
    assert Assignment.objects.get(wave_item__item=old[1]).state == Assignment.EXPIRED
    assert Wave.objects.get(pk=first.pk).state == Wave.CLOSED
    assert js_errors == []
