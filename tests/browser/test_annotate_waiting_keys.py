"""A key pressed while the batch is still on its way waits for it, and the save status says so: it
used to read "All answers saved" before the answer that key gives was even sent (and a test that
waited for that status went on with nothing stored). The batch's reply is held back by the browser
here; the server itself answers as always."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation

from ..test_annotation_helpers import add_member, make_open_wave

TEXTS = ["My card was charged twice.", "I cannot sign in.", "Someone used my card."]


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
    for modifier in ("Alt", "CapsLock", "Meta", "Shift"):  # answer nothing: not waiting keys
        page.keyboard.press(modifier)
    expect(status).to_have_text("Waiting for the batch: 2 key(s) to apply…")
    expect(status).to_have_attribute("data-waiting-keys", "2")
    page.wait_for_timeout(300)
    expect(status).to_have_text("Waiting for the batch: 2 key(s) to apply…")
    assert Annotation.objects.count() == 0

    held[0].continue_()
    expect(status).to_have_text("All answers saved")
    expect(status).to_have_attribute("data-waiting-keys", "0")
    # "All answers saved" now means it: both keys answered an item each.
    assert sorted(Annotation.objects.values_list("label__name", flat=True)) == ["billing", "login"]
    expect(page.locator("#item-position")).to_have_text("Item 3 of 3")
    assert js_errors == []
