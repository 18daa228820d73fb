"""The review page takes the hotkeys the annotation page now takes (tests/browser/
test_round38_unicode_hotkeys.py): "İ", whose lower case is two characters ("i̇"), and an emoji,
two UTF-16 units, relabel the current card. Both pages count a key's characters as the server
counts a hotkey's (code points) and lower it as the server does."""
from playwright.sync_api import expect

from labeling.projects.models import Label
from labeling.projects.services import save_label

from .annotator_pages import press_key
from .test_review_round33_keys import labeled, queue


def test_an_emoji_and_a_dotted_capital_i_relabel_on_the_review_page(live_server, page, login, make_user,
                                                                     project_factory, js_errors):
    project, items, tasks = queue(project_factory, make_user, "keys")
    save_label(project, Label.objects.get(project=project, name="login"), name="login", hotkey="İ")
    save_label(project, Label.objects.get(project=project, name="spam"), name="spam", hotkey="🎉")
    login(page, "lea")
    page.goto(live_server.url + "/p/keys/review/")
    expect(page.locator(f"#task-{tasks[0].pk}")).to_have_class("review-task current")
    cdp = page.context.new_cdp_session(page)
    press_key(cdp, "Quote", "İ", shift=True)  # Turkish Q: Shift + the "i" key
    expect(page.locator("#review-status")).to_have_text("Relabeled as login: 1 task.")
    expect(page.locator(f"#task-{tasks[1].pk}")).to_have_class("review-task current")
    press_key(cdp, "KeyE", "🎉")
    expect(page.locator("#review-status")).to_have_text("Relabeled as spam: 1 task.")
    assert labeled(project) == {items[0].pk: "login", items[1].pk: "spam"}
    assert js_errors == []
