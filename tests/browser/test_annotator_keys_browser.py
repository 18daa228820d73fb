"""The annotation page never stores a label the person did not mean: each way the keyboard used to
store a wrong answer, driven in Chromium against the live server."""
import re
from pathlib import Path

from playwright.sync_api import expect

from labeling.annotations.models import Annotation
from labeling.items.demo_data import _configure as configure_demo_labels
from labeling.projects.hotkeys import NONE_KEY
from labeling.projects.models import Label, Membership, Project, Source

from ..test_annotation_helpers import add_member, make_open_wave
from .annotator_pages import TEXTS, annotating, live, start
from .conftest import save_screenshot

README = Path(__file__).resolve().parents[2] / "README.md"


def test_a_click_never_leaves_focus_for_enter_or_space(live_server, page, login, make_user, project_factory,
                                                       js_errors):
    project = project_factory("focus", labels=("billing", "login"))
    items = annotating(page, live_server, login, make_user, project, n_items=6, batch_size=4)

    page.click("#none-btn")  # item 1: none of these, by mouse
    expect(page.locator("#item-position")).to_have_text("Item 2 of 4")
    page.keyboard.press("Enter")  # used to click "None of these" again on item 2
    page.keyboard.press(" ")
    page.click("#label-buttons .label-btn >> nth=0")  # item 2: billing, by mouse
    expect(page.locator("#item-position")).to_have_text("Item 3 of 4")
    page.keyboard.press("Enter")
    page.keyboard.press(" ")
    page.click("#undo-btn")  # reopens item 2's answer
    expect(page.locator("#reopen-banner")).to_be_visible()
    page.keyboard.press("Enter")  # used to undo a second time
    expect(page.locator("#history-list .reopened")).to_have_count(1)
    expect(page.locator("#item-text")).to_have_text(TEXTS[1])
    page.keyboard.press("Escape")
    expect(page.locator("#item-position")).to_have_text("Item 3 of 4")
    focused = page.evaluate("document.activeElement.tagName")
    assert focused in ("BODY", "HTML")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("None of these", False), items[1].pk: ("billing", False)}
    assert Annotation.objects.filter(project=project).count() == 2
    assert js_errors == []


def test_zero_in_the_demo_is_none_of_these_and_readme_keys_panel_and_page_agree(
        live_server, page, login, make_user, js_errors):
    project = Project.objects.create(slug="demo", name="Demo", batch_size=3)
    Source.objects.create(project=project, name="email", quota=1.0)
    configure_demo_labels(project)
    zero = Label.objects.get(project=project, hotkey=NONE_KEY)
    assert zero.is_other and zero.parent is None  # never a rare label
    assert Label.objects.get(project=project, name="account_deletion").hotkey != NONE_KEY
    _, items = make_open_wave(project, 5, texts=TEXTS[:5], batch_size=3)
    add_member(make_user, project, "ann")
    login(page, "ann")
    start(page, live_server, "demo", 3)

    shown = page.locator("#none-key").inner_text()
    page.keyboard.press("?")  # the Keys panel
    expect(page.locator("#keys-list")).to_be_visible()
    panel_key = page.locator("#keys-list li", has_text="none of these").locator("kbd").inner_text()
    save_screenshot(page, "annotate-keys-panel")
    page.keyboard.press("?")
    readme_key = re.search(r"`([^`]+)` none of these", README.read_text()).group(1)
    assert shown == panel_key == readme_key == NONE_KEY
    page.keyboard.press(shown)
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: (zero.name, False)}
    assert js_errors == []


def test_reserved_hotkeys_are_refused_on_the_labels_page_and_the_api(live_server, page, login, make_user,
                                                                      project_factory, js_errors):
    from rest_framework.test import APIClient

    project = project_factory("keys", labels=("billing", "login"))
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    login(page, "lea")
    page.goto(live_server.url + "/p/keys/settings/labels/")
    hotkey = page.locator("input[name$='-hotkey']").first
    for key, shown in (("/", "“/”"), ("0", "“0”"), (".", "“.”")):
        hotkey.fill(key)
        with page.expect_navigation():
            page.click("button[type=submit].primary")
        expect(page.locator("body")).to_contain_text(f"Hotkey {shown} is reserved")
        hotkey = page.locator("input[name$='-hotkey']").first
    assert sorted(project.labels.values_list("hotkey", flat=True)) == ["1", "2"]

    api = APIClient()
    api.force_authenticate(lead)
    for key in ("?", "0", "Backspace", " ", "Enter"):
        r = api.post("/api/projects/keys/labels/", {"name": f"new {key}", "hotkey": key}, format="json")
        assert r.status_code == 400, r.content
        named = "Space" if key == " " else f"“{key}”"
        assert f"Hotkey {named} is reserved" in r.json()["hotkey"][0]
    r = api.patch(f"/api/projects/keys/labels/{project.labels.get(name='login').pk}/", {"hotkey": "/"},
                  format="json")
    assert r.status_code == 400 and "“/”" in r.json()["hotkey"][0]
    # The Other label may carry the none-of-these key.
    r = api.post("/api/projects/keys/labels/", {"name": "Other", "hotkey": "0", "is_other": True}, format="json")
    assert r.status_code == 201, r.content
    assert js_errors == []


def test_pagedown_space_and_arrows_scroll_a_long_item(live_server, page, login, make_user, project_factory,
                                                      js_errors):
    project = project_factory("long", labels=("billing", "login"))
    project.batch_size = 2
    project.save()
    long_text = "\n".join(f"Line {i}: " + "the customer explains at length. " * 4 for i in range(120))
    assert len(long_text) > 15000
    _, items = make_open_wave(project, 3, texts=[long_text, "short", "third"], batch_size=2)
    add_member(make_user, project, "ann")
    login(page, "ann")
    start(page, live_server, "long", 2)
    box = page.locator("#item-text")
    top = lambda: box.evaluate("el => el.scrollTop")  # noqa: E731
    assert top() == 0
    page.keyboard.press("PageDown")
    after_page = top()
    assert after_page > 100
    page.keyboard.press("ArrowDown")
    assert top() > after_page
    page.keyboard.press(" ")
    assert top() > after_page + 100
    page.keyboard.press("PageUp")
    page.keyboard.press("Home")
    assert top() == 0
    page.keyboard.press("End")
    assert top() > 1000
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")  # scrolling never answered
    assert Annotation.objects.filter(project=project).count() == 0
    assert js_errors == []


def test_backspace_then_a_label_key_while_saves_are_queued(live_server, page, login, make_user, project_factory,
                                                           js_errors):
    project = project_factory("queued", labels=("billing", "login", "fraud"))
    project.batch_size = 5
    project.save()
    _, items = make_open_wave(project, 7, texts=TEXTS[:7], batch_size=5)
    add_member(make_user, project, "ann")
    key = {label.name: label.hotkey for label in project.labels.all()}
    login(page, "ann")
    start(page, live_server, "queued", 5)

    held, gate = [], {"open": False}

    def slow_server(route):  # answers wait until the test lets them through
        if gate["open"]:
            route.continue_()
        else:
            held.append(route)

    page.route("**/annotations/**", slow_server)
    for name in ("billing", "login", "login"):
        page.keyboard.press(key[name])
    page.keyboard.press("Backspace")  # reopen item 3 while nothing is saved yet
    page.keyboard.press(key["fraud"])  # change it
    page.keyboard.press(key["billing"])  # item 4, typed right after
    expect(page.locator("#item-position")).to_have_text("Item 5 of 5")
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "5")  # retried: the page may still be queueing
    gate["open"] = True
    for route in held:
        route.continue_()
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("login", False),
                             items[2].pk: ("fraud", False), items[3].pk: ("billing", False)}
    old = Annotation.objects.get(project=project, undone=True)
    assert (old.item_id, old.label.name, old.superseded_by.label.name) == (items[2].pk, "login", "fraud")
    assert js_errors == []


def test_one_annotator_wave_explains_itself(live_server, page, login, screenshot, make_user, project_factory,
                                            js_errors):
    project = project_factory("solo", labels=("billing", "login"))
    project.batch_size = 3
    project.overlap = 2
    project.save()
    _, items = make_open_wave(project, 3, texts=TEXTS[:3], batch_size=3, double={0, 1, 2})
    add_member(make_user, project, "ann")
    make_user("boss", superuser=True)  # an admin, not a member: the project has one annotator
    login(page, "ann")
    start(page, live_server, "solo", 3)
    for _ in range(3):
        page.keyboard.press("1")
    expect(page.locator("#done-panel")).to_be_visible()
    expect(page.locator("#summary-counts")).to_have_text("3 answered · 0 skipped")
    page.keyboard.press("Enter")  # next batch: nothing can come
    message = page.locator("#start-message")
    expect(message).to_contain_text("3 items of the open wave wait for a second annotator")
    expect(message).to_contain_text("Ask a lead to add another annotator")
    screenshot(page, "annotator-solo-wave")

    login(page, "boss")
    page.goto(live_server.url + "/p/solo/waves/")
    expect(page.locator("#wave-members-short")).to_contain_text("The open wave needs a second member")
    expect(page.locator("#wave-members-short")).to_contain_text("3 items need answers from 2 different people")
    screenshot(page, "lead-waves-members-short")
    assert js_errors == []


def test_batch_counter_survives_a_reload(live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("reload", labels=("billing", "login"))
    items = annotating(page, live_server, login, make_user, project, n_items=7, batch_size=5)
    page.keyboard.press("1")
    page.keyboard.press("2")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    page.reload()
    expect(page.locator("#batch-count")).to_have_text("2 / 5")
    expect(page.locator("#item-position")).to_have_text("Item 3 of 5")
    expect(page.locator("#history-list li")).to_have_count(2)
    page.keyboard.press("Backspace")  # the history survives too: reopen the last answer
    expect(page.locator("#reopen-was")).to_have_text("login")
    page.keyboard.press("1")  # and change it
    expect(page.locator("#item-position")).to_have_text("Item 3 of 5")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    expect(page.locator("#batch-count")).to_have_text("2 / 5")
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("billing", False)}
    assert js_errors == []


def test_keys_typed_while_the_next_batch_loads_answer_nothing_and_walking_keys_wait(live_server, page, login,
                                                                                    make_user, project_factory,
                                                                                    js_errors):
    # Labels typed before the batch is on screen answered items nobody had seen: now they are not
    # applied (and said so), while a key that walks the history waits for the batch and is applied.
    project = project_factory("lease", labels=("billing", "login"))
    items = annotating(page, live_server, login, make_user, project, n_items=5, batch_size=2)
    page.keyboard.press("1")
    page.keyboard.press("2")
    expect(page.locator("#done-panel")).to_be_visible()
    held, gate = [], {"open": False}

    def slow_lease(route):
        if gate["open"]:
            route.continue_()
        else:
            held.append(route)

    page.route("**/batches/", slow_lease)
    page.keyboard.press("Enter")      # lease the next batch; it hangs until released
    page.keyboard.press("2")          # typed before any new item is on screen: not applied
    page.keyboard.press("1")
    page.keyboard.press("Backspace")  # reopens the last answer once the batch is here
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1 and Annotation.objects.filter(project=project).count() == 2
    expect(page.locator("#done-panel")).to_be_visible()  # still the old batch's end
    expect(page.locator("#save-status")).to_have_attribute("data-waiting-keys", "1")
    expect(page.locator("#save-status")).to_have_attribute("data-unapplied-keys", "2")
    gate["open"] = True
    for route in held:
        route.continue_()
    expect(page.locator("#reopen-was")).to_have_text("login")  # Backspace, applied: item 2's answer
    expect(page.locator("#history-list .history-row")).to_have_count(2)  # nothing new answered
    expect(page.locator("#save-status")).to_have_text("2 key(s) pressed before the batch appeared were not applied")
    page.keyboard.press("Escape")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")  # the new batch, unanswered
    page.keyboard.press("2")  # chosen with the text on screen
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("login", False),
                             items[2].pk: ("login", False)}
    assert js_errors == []


def test_a_click_while_filtering_gives_the_keys_back_to_the_page(live_server, page, login, make_user,
                                                                 project_factory, js_errors):
    project = project_factory("filterclick", labels=("billing", "login"))
    items = annotating(page, live_server, login, make_user, project, n_items=4, batch_size=3)
    page.keyboard.press("/")
    page.keyboard.type("bil")
    expect(page.locator("#label-buttons .label-btn")).to_have_count(1)
    page.click("#label-buttons .label-btn")  # the mouse picks the match; focus stayed in the filter
    expect(page.locator("#item-position")).to_have_text("Item 2 of 3")
    page.keyboard.press("2")  # a hotkey again, not a letter typed into the filter
    expect(page.locator("#item-position")).to_have_text("Item 3 of 3")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("login", False)}
    assert js_errors == []
