"""When highlighting a batch runs out of its time budget (a slow rule), the annotation page says the
item's rule highlights are missing instead of showing the text as if no rule matched it."""
from playwright.sync_api import expect

from labeling.projects.models import Rule

from ..test_annotation_helpers import add_member, make_open_wave

TEXTS = ["My card was charged twice.", "I cannot sign in to my card account."]


def test_the_page_says_when_highlights_were_cut(live_server, page, login, make_user, project_factory, js_errors,
                                                settings):
    project = project_factory("cut", labels=("billing", "login"))
    project.batch_size = 2
    project.save()
    make_open_wave(project, 2, texts=TEXTS, batch_size=2)
    add_member(make_user, project, "ann")
    Rule.objects.create(project=project, label=project.labels.get(name="billing"), kind=Rule.KEYWORD, pattern="card")
    note = page.locator("#highlights-note")

    login(page, "ann")
    page.goto(live_server.url + "/p/cut/annotate/")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")
    expect(page.locator("#item-text mark")).to_have_count(1)  # within the budget: highlighted, no note
    expect(note).to_be_hidden()

    settings.LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS = 1e-9  # spent before the first item
    page.reload()
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Rule highlights were cut short")
    expect(page.locator("#item-text mark")).to_have_count(0)
    assert js_errors == []
