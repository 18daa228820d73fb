"""The annotation page at 200 % zoom (a 640×360 CSS viewport: one column, the labels under the item),
worked from the keyboard: after a coarse key (or the filter) scrolled the labels into view and an
answer brought the next item, the next item's text must be on screen to be read."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation
from labeling.projects.services import create_project

from ..test_annotation_helpers import add_member, make_open_wave

VIEW = {"width": 640, "height": 360}


def open_page(browser, live_server, login):
    ctx = browser.new_context(viewport=VIEW, base_url=live_server.url, device_scale_factor=2)
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    login(page, "ann")
    return ctx, page


def text_on_screen(page):
    """(top, bottom) of the item's text box in the viewport."""
    return page.locator("#item-text").evaluate(
        "el => { const r = el.getBoundingClientRect(); return [r.top, r.bottom]; }")


def taxonomy_project(make_user, slug):
    lead = make_user("lead")
    lines = [f"Coarse group {c} with a long name > fine label {c}-{f} with a longer descriptive name"
             for c in range(3) for f in range(5)]
    project = create_project(lead, slug=slug, name=slug, labels=lines, other_label=True)
    _, items = make_open_wave(project, 3, texts=[f"Question {i} about the account " + "more words " * 200
                                                 for i in range(3)], batch_size=3)
    add_member(make_user, project, "ann")
    return project, items


def test_after_a_coarse_then_fine_key_the_next_item_text_is_on_screen(live_server, browser, login, make_user):
    _, items = taxonomy_project(make_user, "zoomnext")
    ctx, page = open_page(browser, live_server, login)
    try:
        page.goto(live_server.url + "/p/zoomnext/annotate/")
        page.keyboard.press("Enter")
        expect(page.locator("#item-position")).to_have_text("Item 1 of 3")
        top, bottom = text_on_screen(page)
        assert top >= 0 and top < VIEW["height"] - 40, f"item 1's text is not on screen at first: {top:.0f}..{bottom:.0f}"
        page.keyboard.press("1")  # Coarse group 0 opens its fine labels (scrolled into view)
        expect(page.locator("#coarse-step")).to_be_visible()
        fine = page.locator("#label-buttons button.label-btn").first
        expect(fine).to_contain_text("fine label 0-0")
        key = fine.locator("kbd").inner_text()
        page.keyboard.press(key)  # stores fine label 0-0: item 2 comes up
        expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
        expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")
        assert Annotation.objects.get(item=items[0]).label.name.startswith("fine label 0-0")
        top, bottom = text_on_screen(page)
        assert top >= 0 and top < VIEW["height"] - 40, (
            f"item 2 came up with the start of its text above the screen ({top:.0f}..{bottom:.0f} in a 0..{VIEW['height']} viewport, "
            f"page scrolled to y={page.evaluate('window.scrollY')}): the next key answers an item the annotator "
            "has not seen")
    finally:
        ctx.close()


def test_after_enter_in_the_filter_the_next_item_text_is_on_screen(live_server, browser, login, make_user):
    _, items = taxonomy_project(make_user, "zoomfilter")
    ctx, page = open_page(browser, live_server, login)
    try:
        page.goto(live_server.url + "/p/zoomfilter/annotate/")
        page.keyboard.press("Enter")
        expect(page.locator("#item-position")).to_have_text("Item 1 of 3")
        page.keyboard.press("/")
        page.keyboard.type("2-4")
        expect(page.locator("#label-buttons button.first-match")).to_contain_text("fine label 2-4")
        page.keyboard.press("Enter")
        expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
        expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")
        assert Annotation.objects.get(item=items[0]).label.name.startswith("fine label 2-4")
        top, bottom = text_on_screen(page)
        assert top >= 0 and top < VIEW["height"] - 40, (
            f"item 2 came up with the start of its text above the screen ({top:.0f}..{bottom:.0f} in a 0..{VIEW['height']} viewport, "
            f"page scrolled to y={page.evaluate('window.scrollY')})")
    finally:
        ctx.close()
