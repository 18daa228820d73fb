"""Keys typed while a batch is still loading answered its items before they were ever on screen:
nobody can have chosen a label for a text they have not seen. Now a key that would answer an
item (a label, none of these, skip, accept) is not applied while no item is shown; the page says
how many were not, and the keys that walk, scroll or show help still wait for the batch and are
applied. The batch's reply is held back by the browser here; the server answers as always."""
import pytest
from playwright.sync_api import expect

from labeling.annotations.models import Annotation

from ..test_annotation_helpers import add_member, make_open_wave
from .annotator_pages import live

pytestmark = pytest.mark.browser

TEXTS = ["My card was charged twice.", "I cannot sign in.", "Someone used my card."]
NOT_APPLIED = "4 key(s) pressed before the batch appeared were not applied"


def test_answering_keys_typed_before_the_batch_appears_answer_nothing(live_server, page, login, make_user,
                                                                      project_factory, js_errors):
    project = project_factory("loadkeys", labels=("billing", "login"))
    project.batch_size = 3
    project.save()
    items = make_open_wave(project, 3, texts=TEXTS, batch_size=3)[1]
    add_member(make_user, project, "ann")
    held = []
    page.route("**/api/projects/loadkeys/batches/", lambda route: held.append(route))
    login(page, "ann")
    page.goto(live_server.url + "/p/loadkeys/annotate/")
    status = page.locator("#save-status")

    page.keyboard.press("Enter")
    expect(page.locator("#start-message")).to_have_text("Leasing…")
    for key in ("1", "0", ".", "="):  # billing, none of these, skip, accept: each would answer an item
        page.keyboard.press(key)
    page.keyboard.press("?")  # shows the keys: waits for the batch, then applies
    page.keyboard.press("Shift")  # answers nothing, shows nothing: not counted
    expect(status).to_have_text(f"Waiting for the batch: 1 key(s) to apply…; {NOT_APPLIED}")
    expect(status).to_have_attribute("data-unapplied-keys", "4")
    expect(status).to_have_attribute("data-waiting-keys", "1")

    held[0].continue_()
    expect(page.locator("#item-position")).to_have_text("Item 1 of 3")
    expect(page.locator("#notice")).to_have_text(f"{NOT_APPLIED}: answer each item once you see it.")
    expect(status).to_have_text(NOT_APPLIED)  # never "All answers saved" for keys that saved nothing
    expect(status).to_have_attribute("data-waiting-keys", "0")
    expect(page.locator("#keys-help")).to_have_attribute("open", "")  # "?" was applied
    expect(page.locator("#skip-form")).to_be_hidden()
    expect(page.locator("#batch-count")).to_have_text("0 / 3")
    page.wait_for_timeout(300)
    assert Annotation.objects.count() == 0

    page.keyboard.press("2")  # seen, chosen: answered
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    expect(status).to_have_text("All answers saved")
    expect(status).to_have_attribute("data-unapplied-keys", "0")
    assert live(project) == {items[0].pk: ("login", False)}
    assert js_errors == []
