"""The annotation page when the project changes under it, in Chromium against the live server: a
label renamed and its hotkey given to a new label of the old name (the page used to store the
renamed label while showing the old name), labels renamed while the annotator works (the page
follows them), and a member removed mid-batch (the page used to say "No such project." once per
item and take the whole rest of the batch). A page that only reads learns both from its next lease
renewal (the tests install Playwright's clock and jump it past one renewal interval), and the next
batch's lease brings the labels too."""
from django.conf import settings
from playwright.sync_api import expect

from labeling.annotations.models import Annotation
from labeling.projects.membership import remove_member
from labeling.projects.models import Label, Membership
from labeling.projects.services import save_label

from ..test_annotation_helpers import add_member
from .annotator_pages import annotating, live, press_key

LABELS = ("billing", "login", "spam")


def saved(page):
    expect(page.locator("#save-status")).to_have_attribute("data-pending", "0")


def buttons(page):
    return page.locator("#label-buttons button.label-btn")


def test_a_key_pressed_for_a_label_renamed_meanwhile_stores_nothing_and_the_page_takes_the_new_labels(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("renamed", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    old_spam = Label.objects.get(project=project, name="spam")
    save_label(project, old_spam, name="abuse", hotkey="7")  # the lead, on the labels page
    new_spam = save_label(project, None, name="spam", hotkey="3", order=3)

    page.keyboard.press("3")  # "3 spam" as the page shows it
    saved(page)

    notice = page.locator("#notice")
    expect(notice).to_contain_text("The label you chose, “spam”, is now named “abuse”; nothing was stored")
    expect(notice).to_contain_text(f"Item {items[0].pk} waits for your answer")
    assert not Annotation.objects.filter(project=project).exists()
    expect(buttons(page).filter(has_text="abuse")).to_have_count(1)
    expect(page.locator("#history-list li")).to_have_count(0)  # no row claims an answer that was not stored

    page.keyboard.press("3")  # now the new "spam", on item 2
    page.keyboard.press("7")  # "abuse" on item 3
    page.keyboard.press("1")  # item 1 came back unanswered: billing
    saved(page)
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("spam", False),
                             items[2].pk: ("abuse", False)}
    assert Annotation.objects.get(item=items[1]).label_id == new_spam.pk
    expect(page.locator("#save-status")).to_have_text("All answers saved")
    assert [e for e in js_errors if "status of 409" not in e] == []  # the refusal itself is logged


def test_the_page_follows_labels_a_lead_renames_while_the_annotator_works(live_server, page, login, make_user,
                                                                          project_factory, js_errors):
    project = project_factory("follows", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    page.keyboard.press("1")
    saved(page)
    save_label(project, Label.objects.get(project=project, name="login"), name="account", hotkey="4")

    page.keyboard.press("1")  # the answer's reply brings the labels as they are now
    saved(page)
    expect(page.locator("#notice")).to_contain_text("“login” is now “account”")
    expect(buttons(page).filter(has_text="account")).to_have_count(1)
    expect(buttons(page).filter(has_text="login")).to_have_count(0)
    page.keyboard.press("4")  # the key the lead gave it
    saved(page)
    assert live(project)[items[2].pk] == ("account", False)
    assert js_errors == []


def test_a_member_removed_mid_batch_is_told_so_and_the_page_stops_taking_answers(live_server, page, login, make_user,
                                                                                  project_factory, js_errors):
    project = project_factory("removed", labels=LABELS)
    add_member(make_user, project, "lea", role=Membership.LEAD)
    items = annotating(page, live_server, login, make_user, project, n_items=5, batch_size=5)
    page.keyboard.press("1")
    saved(page)
    remove_member(Membership.objects.get(project=project, user__username="ann"))

    for key in ("2", "3", "1"):
        page.keyboard.press(key)
    saved(page)

    removed = "You are no longer a member of project 'removed'; your answer was not stored."
    expect(page.locator("#notice")).to_have_text(removed)
    expect(page.locator("#item-panel")).to_be_hidden()  # nothing left to answer as if it could be stored
    expect(page.locator("#save-status")).to_contain_text("no longer a member")
    assert live(project) == {items[0].pk: ("billing", False)}
    page.keyboard.press("Enter")  # asking for a batch says the same, not "No such project."
    expect(page.locator("#notice")).to_contain_text("You are no longer a member of project 'removed'")
    assert [e for e in js_errors if "status of 403" not in e] == []  # the refusals themselves are logged


def one_renewal_later(page):
    """Jump the page's clock (installed before the page loaded) past one lease renewal interval
    (main.js: a third of the lease time, at least 10 s); timers due meanwhile fire once."""
    page.clock.fast_forward((int(max(settings.LONGTAIL_LEASE_SECONDS / 3, 10)) + 1) * 1000)  # milliseconds


def test_a_page_that_only_reads_follows_a_renamed_label_and_its_new_key_from_the_lease_renewal(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("renewfollows", labels=LABELS)
    page.clock.install()
    items = annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    save_label(project, Label.objects.get(project=project, name="login"), name="account", hotkey="q")

    one_renewal_later(page)  # no answer sent: only the renewal can bring the labels
    expect(page.locator("#notice")).to_contain_text("“login” is now “account”")
    expect(buttons(page).filter(has_text="account")).to_have_count(1)
    expect(buttons(page).filter(has_text="login")).to_have_count(0)
    assert not Annotation.objects.filter(project=project).exists()

    # Hebrew layout: physical Q types "/". "q" became a project key after the page loaded, so it
    # is the account label's key, not the filter's "/".
    press_key(page.context.new_cdp_session(page), "KeyQ", "/")
    saved(page)
    assert live(project) == {items[0].pk: ("account", False)}
    expect(page.locator("#label-filter")).to_be_hidden()
    assert js_errors == []


def test_an_idle_page_is_told_of_the_removal_by_the_lease_renewal_and_takes_no_answer(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("renewremoved", labels=LABELS)
    add_member(make_user, project, "lea", role=Membership.LEAD)
    page.clock.install()
    annotating(page, live_server, login, make_user, project, n_items=3, batch_size=3)
    remove_member(Membership.objects.get(project=project, user__username="ann"))

    one_renewal_later(page)  # the annotator only reads: nothing was answered or leased since
    removed = "You are no longer a member of project 'renewremoved'; your leases were not renewed."
    expect(page.locator("#notice")).to_have_text(removed)
    expect(page.locator("#item-panel")).to_be_hidden()
    expect(page.locator("#save-status")).to_contain_text("no longer a member")

    page.keyboard.press("1")
    expect(page.locator("#notice")).to_have_text(removed)
    assert not Annotation.objects.filter(project=project).exists()
    assert [e for e in js_errors if "status of 403" not in e] == []  # the refusal itself is logged


def test_the_next_batch_comes_with_the_labels_a_lead_renamed_between_batches(live_server, page, login, make_user,
                                                                              project_factory, js_errors):
    project = project_factory("leasefollows", labels=LABELS)
    items = annotating(page, live_server, login, make_user, project, n_items=2, batch_size=1)
    page.keyboard.press("1")
    saved(page)
    save_label(project, Label.objects.get(project=project, name="login"), name="account", hotkey="4")

    page.keyboard.press("Enter")  # the lease is the first request since the rename
    expect(page.locator("#item-position")).to_have_text("Item 1 of 1")
    expect(page.locator("#notice")).to_contain_text("“login” is now “account”")
    expect(buttons(page).filter(has_text="account")).to_have_count(1)
    page.keyboard.press("4")
    saved(page)
    assert live(project) == {items[0].pk: ("billing", False), items[1].pk: ("account", False)}
    assert js_errors == []
