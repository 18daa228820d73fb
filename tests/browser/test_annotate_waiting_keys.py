"""A key pressed while the batch is still on its way never makes the save status say "All answers
saved": it used to read so before the answer that key gave was even sent. Since a key that would
answer an item is no longer applied while no item is on screen (nobody chose it for a text they
had seen), the status says those keys were not applied, before and after the batch appears, until
an answer is given. The batch's reply is held back by the browser here; the server answers as always."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation

from ..test_annotation_helpers import add_member, make_open_wave

TEXTS = ["My card was charged twice.", "I cannot sign in.", "Someone used my card."]
NOT_APPLIED = "2 key(s) pressed before the batch appeared were not applied"


def test_keys_pressed_while_the_batch_loads_are_not_called_saved(live_server, page, login, make_user,
                                                                 project_factory, js_errors):
    project = project_factory("waitkeys", labels=("billing", "login"))
    project.batch_size = 3
    project.save()
    make_open_wave(project, 3, texts=TEXTS, batch_size=3)
    add_member(make_user, project, "ann")
    hotkey = {label.name: label.hotkey for label in project.labels.all()}
    held = []
    page.route("**/api/projects/waitkeys/batches/", lambda route: held.append(route))

    login(page, "ann")
    page.goto(live_server.url + "/p/waitkeys/annotate/")
    status = page.locator("#save-status")
    page.keyboard.press("Enter")
    expect(page.locator("#start-message")).to_have_text("Leasing…")
    page.keyboard.press(hotkey["billing"])
    page.keyboard.press(hotkey["login"])
    for modifier in ("Alt", "CapsLock", "Meta", "Shift"):  # answer nothing: neither waiting nor refused keys
        page.keyboard.press(modifier)
    expect(status).to_have_text(NOT_APPLIED)
    expect(status).to_have_attribute("data-unapplied-keys", "2")
    expect(status).to_have_attribute("data-waiting-keys", "0")
    page.wait_for_timeout(300)
    expect(status).to_have_text(NOT_APPLIED)
    assert Annotation.objects.count() == 0

    held[0].continue_()
    expect(page.locator("#item-position")).to_have_text("Item 1 of 3")  # both keys answered nothing
    expect(status).to_have_text(NOT_APPLIED)  # still not "All answers saved": nothing was answered
    page.wait_for_timeout(300)
    assert Annotation.objects.count() == 0

    page.keyboard.press(hotkey["billing"])  # the text is on screen now
    expect(status).to_have_text("All answers saved")
    expect(status).to_have_attribute("data-unapplied-keys", "0")
    assert list(Annotation.objects.values_list("label__name", flat=True)) == ["billing"]
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    assert js_errors == []
