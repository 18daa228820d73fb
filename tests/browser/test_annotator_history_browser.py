"""The History panel in Chromium: change an answer from three items back, clear one, see rule matches,
the chosen metadata and the model's suggestion; screenshots at 1366 × 768 and at phone width."""
import json

from playwright.sync_api import expect
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.projects.models import Membership, Rule

from ..test_annotation_helpers import add_member, make_open_wave

TEXTS = [
    "My card was charged twice for one order.",
    "I can't sign in since the password reset <img src=x onerror=alert(1)>",
    "Someone used my account to buy gift cards!",
    "Where do I download last month's invoice?",
    "The app logs me out every five minutes.",
    "Unleased item six.",
    "Unleased item seven.",
]


def test_change_an_answer_from_three_items_back_export_and_audit_trail(
        live_server, page, login, screenshot, make_user, project_factory, js_errors):
    project = project_factory("hist", labels=("billing", "login", "fraud"))
    project.batch_size = 5
    project.save()
    _, items = make_open_wave(project, 7, texts=TEXTS, batch_size=5)
    add_member(make_user, project, "ann")
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    key = {label.name: label.hotkey for label in project.labels.all()}

    login(page, "ann")
    page.goto(live_server.url + "/p/hist/annotate/")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 5")  # keys answer only items on screen
    for name in ("billing", "login", "billing", "login"):
        page.keyboard.press(key[name])
    expect(page.locator("#item-position")).to_have_text("Item 5 of 5")
    rows = page.locator("#history-list .history-row")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("login")  # newest first
    expect(rows.nth(0).locator(".history-snippet")).to_have_text(TEXTS[3])
    # Item 2, three answers back: Backspace walks back (once per answer) ...
    for _ in range(3):
        page.keyboard.press("Backspace")
    expect(page.locator("#item-text")).to_have_text(TEXTS[1])  # shown as text, never as markup
    expect(rows.nth(2)).to_have_class("history-row reopened")
    page.keyboard.press("]")  # ... and ] forward again; a click on the row reopens it too
    expect(page.locator("#item-text")).to_have_text(TEXTS[2])
    rows.nth(2).click()
    expect(page.locator("#reopen-was")).to_have_text("login")
    screenshot(page, "history-reopened")
    page.keyboard.press(key["fraud"])
    expect(page.locator("#item-position")).to_have_text("Item 5 of 5")  # back where we were
    expect(rows.nth(2)).to_contain_text("fraud")
    expect(rows.nth(2)).to_contain_text("changed")
    # Clear the newest answer: its item waits again and is answered anew.
    page.keyboard.press("Backspace")
    page.keyboard.press("Delete")
    expect(page.locator("#item-position")).to_have_text("Item 4 of 5")
    expect(rows).to_have_count(3)
    page.keyboard.press(key["billing"])
    page.keyboard.press(key["login"])
    expect(page.locator("#done-panel")).to_be_visible()
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    expect(page.locator("#summary-counts")).to_have_text("5 answered · 0 skipped")
    expect(page.locator(".summary-labels")).to_contain_text("billing: 3")

    api = APIClient()
    api.force_authenticate(lead)
    export = api.get("/api/projects/hist/export/jsonl/")
    assert export.status_code == 200
    exported = {row["item_id"]: row["label"] for row in map(json.loads, b"".join(export.streaming_content).splitlines())}
    assert exported == {items[0].pk: "billing", items[1].pk: "fraud", items[2].pk: "billing",
                        items[3].pk: "billing", items[4].pk: "login"}
    story = api.get(f"/api/projects/hist/items/{items[1].pk}/").json()
    trail = [(a["label"], a["superseded"], a["undone"]) for a in story["answers"]]
    assert trail == [("login", True, False), ("fraud", False, False)]  # the old answer stays, superseded
    assert story["answers"][0]["superseded_by"] == story["answers"][1]["id"]
    cleared = api.get(f"/api/projects/hist/items/{items[3].pk}/").json()["answers"]
    assert [(a["label"], a["undone"]) for a in cleared] == [("login", True), ("billing", False)]
    assert Annotation.objects.filter(project=project).count() == 7
    assert js_errors == []


def test_context_rule_matches_metadata_and_suggestion_and_screenshots(
        live_server, page, login, screenshot, make_user, project_factory, js_errors):
    project = project_factory("ctx", labels=("billing", "login", "fraud"))
    project.batch_size = 4
    project.annotator_metadata = ["customer_tier", "channel"]
    project.show_suggestions = True
    project.save()
    texts = [
        "Someone used my <b>card</b> and my card was stolen yesterday. " + "More details follow. " * 40,
        "I can't sign in since the password reset.",
        "Where do I download last month's invoice?",
        "The app logs me out every five minutes.",
        "left over",
    ]
    _, items = make_open_wave(project, 5, texts=texts, batch_size=4)
    Item.objects.filter(pk=items[0].pk).update(metadata={"customer_tier": "gold <i>VIP</i>", "channel": "email",
                                                         "secret": "not shown"})
    fraud = project.labels.get(name="fraud")
    Rule.objects.create(project=project, label=fraud, kind=Rule.KEYWORD, pattern="card")
    labels = list(project.labels.order_by("pk").values_list("name", flat=True))
    model = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, label_map=labels)
    ItemScore.objects.create(item=items[0], model_version=model, probs=b"", top_label=labels.index("fraud"),
                             top_prob=0.912, margin=0.5, entropy=0.1)
    add_member(make_user, project, "ann")
    for i in range(3):  # history rows for the screenshots
        add_member(make_user, project, f"other{i}")

    login(page, "ann")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(live_server.url + "/p/ctx/annotate/")
    page.keyboard.press("Enter")
    marks = page.locator("#item-text mark.rule-hit")
    expect(marks).to_have_count(2)  # "card" twice, the <b> of the text shown as text
    expect(marks.nth(0)).to_have_text("card")
    assert page.locator("#item-text b").count() == 0
    meta = page.locator("#item-metadata")
    expect(meta).to_contain_text("customer_tier")
    expect(meta).to_contain_text("gold <i>VIP</i>")
    expect(meta).not_to_contain_text("secret")
    assert page.locator("#item-metadata i").count() == 0
    expect(page.locator("#suggestion-label")).to_have_text("fraud")
    expect(page.locator("#suggestion-prob")).to_have_text("0.91")
    screenshot(page, "annotate-1366x768-item")
    page.keyboard.press("=")  # accept the suggestion
    expect(page.locator("#item-position")).to_have_text("Item 2 of 4")
    expect(page.locator("#suggestion")).to_be_hidden()  # no score for item 2
    page.keyboard.press("2")
    page.keyboard.press("1")
    screenshot(page, "annotate-1366x768-history")
    page.set_viewport_size({"width": 390, "height": 844})
    page.keyboard.press("Backspace")
    screenshot(page, "annotate-phone-390-reopened")
    page.keyboard.press("Escape")
    page.keyboard.press("3")
    expect(page.locator("#done-panel")).to_be_visible()
    screenshot(page, "annotate-phone-390-done")
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    accepted = Annotation.objects.get(item=items[0])
    assert accepted.label == fraud and accepted.suggestion_shown and accepted.suggested_label == fraud
    assert not Annotation.objects.get(item=items[1]).suggestion_shown
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    api = APIClient()
    api.force_authenticate(lead)
    export = api.get("/api/projects/ctx/export/jsonl/")
    votes = {row["item_id"]: row["votes"] for row in map(json.loads, b"".join(export.streaming_content).splitlines())}
    assert [v["suggestion_shown"] for v in votes[items[0].pk]] == [True]  # anchored answers can be told apart
    assert [v["suggestion_shown"] for v in votes[items[1].pk]] == [False]
    assert js_errors == []
