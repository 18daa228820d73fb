"""Label hotkeys relabel on the review page in Chromium. A project created with 13 labels used to
give the 13th the hotkey r, the review page's "choose another label": pressing it there opened the
label list and stored nothing. Now the 13th gets t and t relabels. A label that held a review key
before keeps it (for the annotation page); on the review page the page's key wins and the label is
chosen from the list that r opens."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation, ReviewTask
from labeling.annotations.selectors import resolve_item_labels
from labeling.projects.models import Label, Membership, Project
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member
from tests.test_concurrency_races import api_as


def low_confidence(project, item, predicted):
    return ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE, model_version=2,
                                     detail={"predicted": predicted, "prob": 0.5, "why": "inside the band"})


def resolved(project) -> dict[int, str]:
    names = dict(project.labels.values_list("pk", "name"))
    return {item: names[label] for item, label in resolve_item_labels(project).items()}


def test_the_thirteenth_labels_hotkey_relabels(live_server, page, login, make_user, js_errors):
    lead = make_user("lea")
    Membership.objects.create(user=lead, project=Project.objects.create(slug="seed", name="Seed"), role="lead")
    r = api_as(lead).post("/api/projects/", {"slug": "thirteen", "name": "Thirteen", "sources": ["web"],
                                             "labels": [f"label {i}" for i in range(1, 14)]}, format="json")
    assert r.status_code == 201, r.content
    project = Project.objects.get(slug="thirteen")
    thirteenth = project.labels.get(name="label 13")
    assert thirteenth.hotkey == "t"  # before: "r"
    items = make_items(project, 2, prefix="ticket")
    tasks = [low_confidence(project, item, "label 1") for item in items]
    login(page, "lea")
    page.goto(live_server.url + "/p/thirteen/review/")
    expect(page.locator(".relabel-key", has_text="relabel as label 13")).to_have_text("t relabel as label 13")
    expect(page.locator(f"#task-{tasks[0].pk}")).to_have_class("review-task current")
    page.keyboard.press("t")
    expect(page.locator("#review-status")).to_have_text("Relabeled as label 13: 1 task.")
    expect(page.locator(f"#task-{tasks[0].pk}")).to_be_hidden()
    assert resolved(project) == {items[0].pk: "label 13"}
    assert js_errors == []


def test_a_label_holding_a_review_key_is_chosen_with_r(live_server, page, login, make_user, project_factory,
                                                       js_errors):
    project = project_factory("legacy", labels=("billing", "login"))  # hotkeys 1, 2
    add_member(make_user, project, "lea", role=Membership.LEAD)
    Label.objects.create(project=project, name="account", hotkey="a", order=5)  # given before the rule
    Label.objects.create(project=project, name="refund", hotkey="r", order=6)
    items = make_items(project, 2, prefix="ticket")
    tasks = [low_confidence(project, item, "billing") for item in items]
    login(page, "lea")
    page.goto(live_server.url + "/p/legacy/review/")
    keys = page.locator(".review-keys")
    expect(keys).to_contain_text("r choose another label (also a label whose own key is one of these)")
    expect(keys.locator(".relabel-key")).to_have_text(["1 relabel as billing", "2 relabel as login"])
    # a accepts the model's label; it does not relabel as "account"
    page.keyboard.press("a")
    expect(page.locator("#review-status")).to_have_text("Accepted: 1 task.")
    assert resolved(project) == {items[0].pk: "billing"}
    # r opens the list (nothing is stored); "refund" is chosen there
    expect(page.locator(f"#task-{tasks[1].pk}")).to_have_class("review-task current")
    page.keyboard.press("r")
    select = page.locator(f"#label-{tasks[1].pk}")
    expect(select).to_be_focused()
    assert Annotation.objects.filter(item=items[1]).count() == 0
    select.select_option(label="refund")
    page.locator(f"#task-{tasks[1].pk} .relabel-form button[type=submit]").click()
    expect(page.locator("#review-status")).to_have_text("Relabeled as refund: 1 task.")
    assert resolved(project) == {items[0].pk: "billing", items[1].pk: "refund"}
    assert js_errors == []
