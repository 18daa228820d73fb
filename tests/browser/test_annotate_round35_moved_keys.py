"""A lead moves hotkeys (and renames a label, rewrites a description, moves the Other label's key)
while an annotator works: once the page takes on the server's labels, the Labels panel and the
Keys panel list the keys and names the buttons use (they kept the page's first keys, and an
annotator following them saved labels they did not choose), and the first press of a key whose
meaning moved only says what it answers now; the next press answers. Driven in Chromium against
the live server; the lead's edits go through the label service, as the labels page's do."""
import pytest
from playwright.sync_api import expect

from labeling.projects.models import Label
from labeling.projects.services import save_label

from .annotator_pages import annotating, live

pytestmark = pytest.mark.browser


def saved(page):
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")


def swap_billing_and_login(project):
    """billing 1 → 2 and login 2 → 1, as a lead does it (through a free key)."""
    billing = Label.objects.get(project=project, name="billing")
    save_label(project, billing, hotkey="9")
    save_label(project, Label.objects.get(project=project, name="login"), hotkey="1")
    save_label(project, billing, hotkey="2")


def test_the_labels_and_keys_panels_follow_the_servers_labels(live_server, page, login, make_user, project_factory,
                                                               js_errors):
    project = project_factory("helppanel", labels=("billing", "login", "spam"))
    other = Label.objects.create(project=project, name="Other", hotkey="0", is_other=True)
    for order, name in enumerate(("billing", "login", "spam", "Other")):  # the panels' order, whatever the names
        Label.objects.filter(project=project, name=name).update(order=order)
    other.refresh_from_db()
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    help_panel = page.locator("#label-help dl")
    expect(help_panel.locator("dt").first).to_have_text("1 billing")

    swap_billing_and_login(project)
    spam = Label.objects.get(project=project, name="spam")
    save_label(project, spam, name="<i>abuse</i>", description="Threats & <script>x</script>")
    save_label(project, other, hotkey="7")
    page.keyboard.press("0")  # none of these, under the page's labels: the reply brings the current ones
    saved(page)
    expect(help_panel.locator("dt")).to_have_text(["2 billing", "1 login", "3 <i>abuse</i>", "7 Other"])
    expect(help_panel.locator("dd")).to_have_text(["About billing", "About login", "Threats & <script>x</script>"])
    assert help_panel.locator("i, script").count() == 0  # user text stays text
    expect(page.locator("#keys-none kbd")).to_have_text("7")  # the Keys panel's none-of-these key
    expect(page.locator("#none-key")).to_have_text("7")
    expect(page.locator("#notice")).to_contain_text("hotkeys moved: 2 is “billing”, 1 is “login”")
    assert live(project) == {items[0].pk: ("Other", False)}
    assert js_errors == []


def test_the_first_press_of_a_moved_key_only_says_what_it_answers_now(live_server, page, login, make_user,
                                                                     project_factory, js_errors):
    project = project_factory("movedkeys", labels=("billing", "login", "spam"))
    items = annotating(page, live_server, login, make_user, project, n_items=4, batch_size=4)
    swap_billing_and_login(project)
    page.keyboard.press("3")  # spam kept its key; the reply brings the moved ones
    saved(page)
    notice = page.locator("#notice")
    expect(notice).to_contain_text("The buttons and keys follow them now.")
    expect(page.locator("#label-buttons .label-btn").first).to_have_text("2 billing")

    page.keyboard.press("1")  # was billing: the hand still knows it so
    expect(notice).to_have_text("A lead moved the hotkeys: 1 now answers “login”. Press 1 again to answer that.")
    expect(page.locator("#item-position")).to_have_text("Item 2 of 4")
    saved(page)
    assert live(project) == {items[0].pk: ("spam", False)}

    page.keyboard.press("1")  # pressed again, knowing: it answers
    expect(page.locator("#item-position")).to_have_text("Item 3 of 4")
    page.keyboard.press("3")  # a key that did not move answers at once
    expect(page.locator("#item-position")).to_have_text("Item 4 of 4")
    page.keyboard.press("2")  # moved too: held once
    expect(notice).to_contain_text("2 now answers “billing”")
    expect(page.locator("#item-position")).to_have_text("Item 4 of 4")
    page.keyboard.press("2")
    expect(page.locator("#done-panel")).to_be_visible()
    saved(page)
    assert live(project) == {items[0].pk: ("spam", False), items[1].pk: ("login", False),
                             items[2].pk: ("spam", False), items[3].pk: ("billing", False)}
    assert js_errors == []
