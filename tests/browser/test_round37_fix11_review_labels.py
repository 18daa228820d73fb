"""The review page of a project with many labels lists them once (a <template>), not in every card:
a card's list is filled when the lead opens it (r, a click), the label keys and the relabel work as
before, and without JavaScript a card's "Show the labels" link reloads the page with its list filled.
Before, every card carried the full list (286 labels x 200 cards: 57,400 options, 4 MB)."""
import pytest
from playwright.sync_api import expect

from labeling.annotations import review_views
from labeling.annotations.models import ReviewTask
from tests.browser.test_review_round34_card_buttons import queue, stored
from tests.browser.test_review_round34_relabel_list import choose_after_r


@pytest.fixture
def one_list_per_page(monkeypatch):
    # Any card list counts as "many": the page takes its one-list form with the fixtures' 3 labels.
    monkeypatch.setattr(review_views, "INLINE_OPTIONS", 0)


def test_cards_lists_are_filled_when_opened_and_relabel_as_before(live_server, page, login, make_user,
                                                                   project_factory, js_errors, one_list_per_page):
    project, lead, tasks = queue(project_factory, make_user, "onelist", n=4)
    login(page, "lea")
    page.goto(live_server.url + "/p/onelist/review/")
    # Three labels once in the page's list, and only "— choose —" in each of the four cards.
    assert page.locator("template.label-choices").evaluate("t => t.content.children.length") == 3
    expect(page.locator(".review-task option")).to_have_count(4)
    expect(page.locator(".relabel-list-link").first).to_be_hidden()
    choose_after_r(page, tasks[0], "spam")
    expect(page.locator("#review-status")).to_have_text("Relabeled as spam: 1 task.")
    assert stored(tasks[0]) == ("relabeled", "spam", "lea", True)
    # A click on another card's list fills it too (and only it).
    page.locator(f"#label-{tasks[2].pk}").click()
    expect(page.locator(f"#label-{tasks[2].pk} option")).to_have_count(4)
    expect(page.locator(f"#label-{tasks[3].pk} option")).to_have_count(1)
    page.keyboard.press("Escape")
    page.locator(f"#label-{tasks[2].pk}").select_option(label="login")
    page.locator(f"#task-{tasks[2].pk} .relabel-submit").click()
    expect(page.locator("#review-status")).to_have_text("Relabeled as login: 1 task.")
    assert stored(tasks[2]) == ("relabeled", "login", "lea", True)
    # The page's label keys still relabel (key 3 = spam).
    page.locator(f"#task-{tasks[1].pk}").click()
    page.keyboard.press("3")
    expect(page.locator("#review-status")).to_have_text("Relabeled as spam: 1 task.")
    assert stored(tasks[1]) == ("relabeled", "spam", "lea", True)
    assert js_errors == []


def test_without_javascript_a_card_link_reloads_with_its_list(live_server, browser, login, make_user,
                                                              project_factory, one_list_per_page):
    project, lead, tasks = queue(project_factory, make_user, "onelistnojs", n=3)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = login(context.new_page(), "lea")
        page.goto(live_server.url + "/p/onelistnojs/review/?reason=low_confidence")
        expect(page.locator(f"#label-{tasks[1].pk} option")).to_have_count(1)
        with page.expect_navigation():
            page.locator(f"#task-{tasks[1].pk} .relabel-list-link").click()
        assert "relabel=" in page.url and "reason=low_confidence" in page.url
        expect(page.locator(f"#label-{tasks[1].pk} option")).to_have_count(4)
        expect(page.locator(f"#label-{tasks[0].pk} option")).to_have_count(1)
        page.locator(f"#label-{tasks[1].pk}").select_option(label="spam")
        with page.expect_navigation():
            page.locator(f"#task-{tasks[1].pk} .relabel-submit").click()
        expect(page.locator(".messages")).to_contain_text("Relabel as “spam”: 1 task done.")
        assert stored(tasks[1]) == ("relabeled", "spam", "lea", True)
        assert ReviewTask.objects.filter(resolved_at__isnull=True).count() == 2
    finally:
        context.close()
