"""An annotator labels in a real browser (Debian's Chromium, headless) against the live server."""
from playwright.sync_api import expect

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, ReviewTask
from labeling.projects.models import Label, Membership

from ..test_annotation_helpers import add_member, make_open_wave  # noqa: F401

TEXTS = [
    "My card was charged twice for one order.",
    "I can't sign in since the password reset <script>alert('x')</script>",
    "Someone used my account to buy gift cards!",
    "Where do I download last month's invoice?",
    "The app logs me out every five minutes.",
    # Two more in the wave than in the batch: the wave stays open, so finishing the batch does not
    # start the retrain pipeline (eager on SQLite) inside these tests.
    "Unleased item six.",
    "Unleased item seven.",
]


def test_annotator_labels_a_batch_with_the_keyboard_and_undoes_one(
    live_server, page, login, screenshot, make_user, project_factory, js_errors
):
    project = project_factory("support", labels=("billing", "login", "fraud"))
    project.batch_size = 5
    project.guidelines = "Pick the customer's main problem.\nFraud beats billing."
    project.save()
    _, items = make_open_wave(project, 7, texts=TEXTS, batch_size=5)
    add_member(make_user, project, "ann")
    hotkey = {label.name: label.hotkey for label in project.labels.all()}

    login(page, "ann")
    screenshot(page, "annotator-01-home")
    page.goto(live_server.url + "/p/support/annotate/")
    expect(page.locator("#start-panel")).to_be_visible()
    screenshot(page, "annotator-02-start")

    page.keyboard.press("Enter")  # "Start" leases the batch
    expect(page.locator("#item-position")).to_have_text("Item 1 of 5")
    # User text is shown literally, never interpreted as markup.
    plan = ["billing", "login", "login", "billing", "login"]
    for i, label in enumerate(plan):
        expect(page.locator("#item-position")).to_have_text(f"Item {i + 1} of 5")
        expect(page.locator("#item-text")).to_have_text(TEXTS[i])
        if i == 1:
            screenshot(page, "annotator-03-item")
        if i == 3:
            # Oops: item 3 is fraud, not login. Reopen the last answer and change it.
            page.keyboard.press("Backspace")
            expect(page.locator("#reopen-banner")).to_be_visible()
            expect(page.locator("#item-text")).to_have_text(TEXTS[2])
            page.keyboard.press(hotkey["fraud"])
            expect(page.locator("#notice")).to_contain_text(f"Changed your answer on item {items[2].pk}")
            expect(page.locator("#item-position")).to_have_text("Item 4 of 5")
        page.keyboard.press(hotkey[label])

    expect(page.locator("#done-panel")).to_be_visible()
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    expect(page.locator("#batch-count")).to_have_text("5 / 5")
    expect(page.locator("#wave-count")).to_contain_text("5 / 7 answers")
    screenshot(page, "annotator-04-batch-done")

    stored = {a.item_id: a.label.name for a in Annotation.objects.filter(undone=False).select_related("label")}
    assert stored == {
        items[0].pk: "billing", items[1].pk: "login", items[2].pk: "fraud",
        items[3].pk: "billing", items[4].pk: "login",
    }
    undone = Annotation.objects.get(undone=True)
    assert (undone.item_id, undone.label.name) == (items[2].pk, "login")
    assert undone.superseded_by.label.name == "fraud"  # the change is a new answer; the old one is kept
    assert Annotation.objects.count() == 6
    assert js_errors == []


def test_lead_uses_coarse_fine_filter_skip_and_none_of_these(
    live_server, page, login, screenshot, make_user, project_factory, js_errors
):
    project = project_factory("taxonomy", labels=())
    project.batch_size = 5
    project.save()
    account = Label.objects.create(project=project, name="Account", hotkey="a", order=1)
    Label.objects.create(project=project, name="Password reset", hotkey="1", parent=account)
    Label.objects.create(project=project, name="Takeover", hotkey="2", parent=account, description="Someone else got in")
    payments = Label.objects.create(project=project, name="Payments", hotkey="p", order=2)
    Label.objects.create(project=project, name="Refund", hotkey="1", parent=payments)
    Label.objects.create(project=project, name="Chargeback", hotkey="2", parent=payments)
    _, items = make_open_wave(project, 7, texts=TEXTS, batch_size=5)
    add_member(make_user, project, "lea", role=Membership.LEAD)

    login(page, "lea")
    page.goto(live_server.url + "/p/taxonomy/annotate/")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 5")
    expect(page.locator("#why-strategy")).to_contain_text("rare")  # leads see why it was picked
    expect(page.locator("#why-prob")).to_have_text("0.250")

    page.keyboard.press("p")  # coarse Payments → its fine labels
    expect(page.locator("#coarse-step")).to_be_visible()
    screenshot(page, "lead-01-coarse-step")
    page.keyboard.press("2")  # Chargeback
    expect(page.locator("#item-position")).to_have_text("Item 2 of 5")

    page.keyboard.press("a")
    page.keyboard.press("Enter")  # keep the coarse label alone
    expect(page.locator("#item-position")).to_have_text("Item 3 of 5")

    page.keyboard.press("/")  # fine label directly through the filter
    page.keyboard.type("takeo")
    expect(page.locator("#label-buttons .label-btn")).to_have_count(1)
    screenshot(page, "lead-02-filter")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 4 of 5")

    page.keyboard.press(".")
    expect(page.locator("#skip-form")).to_be_visible()
    page.keyboard.press("2")  # "Needs more context"
    expect(page.locator("#item-position")).to_have_text("Item 5 of 5")

    page.keyboard.press("0")  # none of these (the project has no Other label: built in)
    expect(page.locator("#done-panel")).to_be_visible()
    expect(page.locator("#save-status")).to_have_text("All answers saved")

    got = {a.item_id: a for a in Annotation.objects.select_related("label")}
    assert got[items[0].pk].label.name == "Chargeback"
    assert got[items[1].pk].label.name == "Account"
    assert got[items[2].pk].label.name == "Takeover"
    assert got[items[3].pk].skipped and got[items[3].pk].skip_reason == "Needs more context"
    assert got[items[4].pk].label.is_other and got[items[4].pk].label.name == "None of these"
    assert js_errors == []


def test_lead_adjudicates_a_disagreement_on_the_review_page(
    live_server, page, login, screenshot, make_user, project_factory, js_errors
):
    import uuid

    from labeling.annotations import services

    project = project_factory("review", labels=("billing", "fraud"))
    _, items = make_open_wave(project, 2, texts=["Charged by a shop I never visited <b>bold</b>", "left open"],
                              double={0})
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    add_member(make_user, project, "lea", role=Membership.LEAD)
    billing, fraud = project.labels.get(name="billing"), project.labels.get(name="fraud")
    for user, label in ((ann, billing), (bob, fraud)):
        assignment = leasing.lease_batch(project, user, size=1).assignments[0]
        services.submit_answer(project, user, client_id=uuid.uuid4(), assignment_id=assignment.pk,
                               label_id=label.pk)
    task = ReviewTask.objects.get(reason=ReviewTask.DISAGREEMENT)

    login(page, "lea")
    page.goto(live_server.url + "/p/review/review/")
    card = page.locator(f"#task-{task.pk}")
    expect(card.locator(".item-text")).to_have_text("Charged by a shop I never visited <b>bold</b>")
    expect(card.locator(".review-answers")).to_contain_text("ann: billing")
    expect(card.locator(".review-answers")).to_contain_text("bob: fraud")
    screenshot(page, "lead-03-review-queue")
    card.get_by_role("button", name="fraud").click()
    expect(page.locator("#review-empty")).to_be_visible()
    task.refresh_from_db()
    assert task.resolved_label == fraud and task.resolved_by.username == "lea"
    assert Annotation.objects.get(origin=Annotation.ADJUDICATION).label == fraud
    assert js_errors == []


def test_answer_on_a_lease_someone_else_took_is_refused_with_a_message(
    live_server, page, login, screenshot, make_user, project_factory, js_errors
):
    from datetime import timedelta

    from django.utils import timezone

    from labeling.annotations.models import Assignment

    project = project_factory("expired", labels=("billing", "login"))
    project.batch_size = 2
    project.save()
    _, items = make_open_wave(project, 3, texts=TEXTS[:3], batch_size=2)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    hotkey = project.labels.get(name="login").hotkey

    login(page, "ann")
    page.goto(live_server.url + "/p/expired/annotate/")
    page.keyboard.press("Enter")
    expect(page.locator("#item-position")).to_have_text("Item 1 of 2")
    # Ann walks away; her lease on item 0 expires and bob gets it.
    Assignment.objects.filter(annotator=ann, wave_item__item=items[0]).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert leasing.lease_batch(project, bob, size=1).assignments[0].wave_item.item_id == items[0].pk

    page.keyboard.press(hotkey)
    expect(page.locator("#notice")).to_contain_text(f"Not saved (item {items[0].pk}): Your lease on item")
    expect(page.locator("#notice")).to_contain_text("other annotators took its slot")
    page.keyboard.press(hotkey)  # item 1 is still hers
    expect(page.locator("#done-panel")).to_be_visible()
    # the refused answer is not "saved": the header and the done panel say so, not "All answers saved"
    expect(page.locator("#save-status")).to_have_text("1 answer not saved (see the notice)")
    expect(page.locator("#notice")).to_contain_text("your answer was not stored")  # stays until read
    expect(page.locator("#done-message")).to_have_text("1 answer not saved (see the notice); your other answers are saved.")
    screenshot(page, "annotator-05-answer-refused")
    assert list(Annotation.objects.values_list("annotator__username", "item_id")) == [("ann", items[1].pk)]
    # The 409 shows up as a failed resource in the console; nothing else may.
    assert [e for e in js_errors if "409" not in e] == []
