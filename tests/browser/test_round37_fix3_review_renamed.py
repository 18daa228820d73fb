"""A relabel on the review page after another lead swapped two labels' names: the page sends the name
it showed, the server stores nothing (409) and sends the labels as they are, and the page takes them
(label keys, key list, label lists) and says so. Before, the id alone went: the label now holding it
was stored and the page said "Relabeled as <the old name>"."""
from playwright.sync_api import expect

from labeling.annotations.models import Annotation, ReviewTask
from labeling.projects.models import Label, Membership
from tests.browser.test_review_round34_relabel_list import choose_after_r, stored
from tests.review_helpers import make_items
from tests.test_annotation_helpers import add_member


def test_a_relabel_by_a_renamed_label_is_refused_and_the_page_takes_the_new_names(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("rrn", labels=("billing", "login", "spam"))
    add_member(make_user, project, "lea", role=Membership.LEAD)
    tasks = [ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LEAD_REQUEST, detail={})
             for item in make_items(project, 2, prefix="ticket")]
    billing, login_label = project.labels.get(name="billing"), project.labels.get(name="login")
    status = page.locator("#review-status")
    login(page, "lea")
    page.goto(live_server.url + "/p/rrn/review/")
    expect(page.locator(".relabel-key").first).to_have_text("1 relabel as billing")

    # Another lead swaps the names of billing (key 1) and login (key 2) after the page loaded.
    Label.objects.filter(pk=billing.pk).update(name="zz-swap")
    Label.objects.filter(pk=login_label.pk).update(name="billing")
    Label.objects.filter(pk=billing.pk).update(name="login")

    page.keyboard.press("1")  # "relabel as billing", as the page's key list says
    expect(status).to_contain_text("Not saved: The label you chose, “billing”, is now named “login”; nothing was stored.")
    expect(status).to_contain_text("The labels on this page were reloaded.")
    assert not Annotation.objects.exists()
    assert stored(tasks[0])[1:] == (None, None, False)
    expect(page.locator(".relabel-key")).to_have_text(["1 relabel as login", "2 relabel as billing",
                                                       "3 relabel as spam"])
    expect(page.locator(f"#label-{tasks[1].pk} option[value='{billing.pk}']")).to_have_text("login")

    # Key 2 now says billing, and stores the label named billing.
    page.keyboard.press("2")
    expect(status).to_have_text("Relabeled as billing: 1 task.")
    assert stored(tasks[0]) == ("relabeled", "billing", "lea", True)
    assert stored(tasks[0])[1] == Label.objects.get(pk=login_label.pk).name

    # The card's list offers the new names: "login" is the label that was billing.
    choose_after_r(page, tasks[1], "login")
    expect(status).to_have_text("Relabeled as login: 1 task.")
    assert ReviewTask.objects.get(pk=tasks[1].pk).resolved_label_id == billing.pk
    assert [e for e in js_errors if "status of 409 (Conflict)" not in e] == []  # the refusal itself is logged
