"""Highlights cut by the budget: the note shows on the current item and on the same item reopened
from history (Backspace) after it was answered; before, the reopened item lost the note and looked
as if no rule matched it."""
from playwright.sync_api import expect

from labeling.projects.models import Rule

from ..test_annotation_helpers import add_member, make_open_wave

TEXTS = ["My card was charged twice.", "I cannot sign in to my card account."]


def test_reopened_item_keeps_the_cut_note(live_server, page, login, make_user, project_factory, js_errors,
                                          settings):
    project = project_factory("cutr", labels=("billing", "login"))
    project.batch_size = 2
    project.save()
    make_open_wave(project, 2, texts=TEXTS, batch_size=2)
    add_member(make_user, project, "ann")
    Rule.objects.create(project=project, label=project.labels.get(name="billing"), kind=Rule.KEYWORD, pattern="card")
    settings.LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS = 1e-9  # every item's highlights cut
    note = page.locator("#highlights-note")
    login(page, "ann")
    page.goto(live_server.url + "/p/cutr/annotate/")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")
    expect(note).to_be_visible()
    page.keyboard.press("1")
    expect(page.locator("#item-position")).to_have_text("Item 2 of 2")
    expect(note).to_be_visible()
    page.keyboard.press("Backspace")  # reopen item 1: its highlights were cut too (no <mark>)
    expect(page.locator("#item-position")).to_contain_text("(reopened)")
    expect(page.locator("#item-text mark")).to_have_count(0)
    expect(note).to_be_visible(timeout=3000)
    assert js_errors == []
