"""A lead deletes a label while an annotator's page still shows it. Pressing its key is refused
by the server (400 on the field "label"); the page then says the labels changed, names what was
removed and added, gives the item back for another answer, disables the removed label, never
claims "All answers saved" while the refused answer stands, and offers a reload that brings the
current labels with the held batch."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation
from labeling.projects import services as project_services
from labeling.projects.models import Label

from ..test_annotation_helpers import add_member, make_open_wave

TEXTS = ["My card was charged twice.", "I cannot sign in.", "Someone used my card.", "Unleased item four."]


def test_a_deleted_label_is_refused_with_a_reload_and_the_item_comes_back(
    live_server, page, login, screenshot, make_user, project_factory, js_errors
):
    project = project_factory("air", labels=("billing", "login", "fraud"))
    project.batch_size = 3
    project.save()
    _, items = make_open_wave(project, 4, texts=TEXTS, batch_size=3)
    add_member(make_user, project, "ann")
    hotkey = {label.name: label.hotkey for label in project.labels.all()}

    login(page, "ann")
    page.goto(live_server.url + "/p/air/annotate/")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 3")
    first = page.locator("#item-text").get_attribute("data-item")

    # Meanwhile a lead deletes "fraud" (no answer uses it) and adds "spam".
    project_services.delete_label(Label.objects.get(project=project, name="fraud"))
    project_services.save_label(project, name="spam", hotkey="s")

    page.keyboard.press(hotkey["fraud"])
    notice = page.locator("#notice")
    expect(notice).to_contain_text(f"Not saved (item {first}): “fraud” is no longer a label of this project")
    expect(notice).to_contain_text(f"item {first} waits for your answer")
    expect(notice).to_contain_text("Labels removed: “fraud”; 1 added.")
    expect(page.locator("#reload-labels")).to_be_visible()
    status = page.locator("#save-status")
    expect(status).to_have_text("1 answer not saved (see the notice)")
    assert status.get_attribute("data-refused") == "1"
    # The annotator is on item 2 already and stays there; the refused item is unanswered again
    # (the batch counts 0 of 3) and comes back once the others are answered.
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    expect(page.locator("#batch-count")).to_have_text("0 / 3")
    expect(page.locator("button.label-btn", has_text="fraud")).to_be_disabled()
    screenshot(page, "annotator-labels-changed")
    page.keyboard.press(hotkey["fraud"])  # refused on the page, no second request
    expect(notice).to_contain_text("“fraud” is no longer a label of this project")
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    page.keyboard.press(hotkey["login"])
    page.keyboard.press(hotkey["login"])
    expect(page.locator("#item-position")).to_have_text("Item 1 of 3")
    assert page.locator("#item-text").get_attribute("data-item") == first
    expect(status).to_have_text("1 answer not saved (see the notice)")
    page.keyboard.press(hotkey["billing"])  # its answer, with a label that still exists
    expect(page.locator("#done-panel")).to_be_visible()
    expect(status).to_have_text("All answers saved")
    expect(page.locator("#done-message")).to_have_text("All your answers are saved.")
    assert Annotation.objects.get(item_id=int(first)).label.name == "billing"
    assert Annotation.objects.count() == 3

    page.locator("#reload-labels").click()
    expect(page.locator("button.label-btn", has_text="spam")).to_be_visible()
    expect(page.locator("button.label-btn", has_text="fraud")).to_have_count(0)
    expect(page.locator("#start-panel")).to_be_visible()  # the batch is done: nothing held
    expect(status).not_to_contain_text("not saved")
    # The refused answer shows up as one failed resource (HTTP 400) in the console; nothing else may.
    assert [e for e in js_errors if "400" not in e] == []
    assert len([e for e in js_errors if "400" in e]) == 1


def test_a_refused_change_keeps_the_earlier_answer(
    live_server, page, login, make_user, project_factory, js_errors
):
    project = project_factory("air2", labels=("billing", "login", "fraud"))
    project.batch_size = 3
    project.save()
    make_open_wave(project, 4, texts=TEXTS, batch_size=3)
    add_member(make_user, project, "ann")
    hotkey = {label.name: label.hotkey for label in project.labels.all()}

    login(page, "ann")
    page.goto(live_server.url + "/p/air2/annotate/")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 3")  # keys answer only items on screen
    page.keyboard.press(hotkey["billing"])
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    project_services.delete_label(Label.objects.get(project=project, name="fraud"))
    page.keyboard.press("Backspace")  # reopen the billing answer, then change it to the deleted label
    expect(page.locator("#reopen-banner")).to_be_visible()
    page.keyboard.press(hotkey["fraud"])
    expect(page.locator("#notice")).to_contain_text("Change not saved (item")
    expect(page.locator("#notice")).to_contain_text("your earlier answer stands")
    expect(page.locator("#save-status")).to_have_text("1 answer not saved (see the notice)")
    expect(page.locator("#history-list")).to_contain_text("billing")
    assert list(Annotation.objects.values_list("label__name", flat=True)) == ["billing"]
    assert [e for e in js_errors if "400" not in e] == []
