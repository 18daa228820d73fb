"""The labels page in headless Chromium lists the parents a row may take once (a <template>); a row's
parent list is filled from it when the lead opens it (lead.js): the lead picks a parent, the row's own
label is not offered, a row keeps the parent it had, and the save stores the choice."""
import pytest

from labeling.projects.models import Label, Membership, Project

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def taxonomy(make_user):
    project = Project.objects.create(slug="tax", name="Tax")
    Membership.objects.create(user=make_user("lena"), project=project, role=Membership.LEAD)
    billing = Label.objects.create(project=project, name="billing", order=1)
    Label.objects.create(project=project, name="security", order=2)
    Label.objects.create(project=project, name="refund", order=3, parent=billing)
    Label.objects.create(project=project, name="phishing", order=4)
    return project


def parent_list(page, label):
    row = page.locator("#labels-form tr", has=page.locator(f"input[name$='-name'][value='{label}']"))
    return row.locator("select[name$='-parent']")


def test_a_parent_list_is_filled_when_opened_and_the_choice_saves(page, live_server, login, taxonomy, js_errors):
    login(page, "lena")
    page.goto(live_server.url + "/p/tax/settings/labels/")
    phishing, refund = parent_list(page, "phishing"), parent_list(page, "refund")
    assert phishing.locator("option").count() == 1  # only the empty choice until opened
    assert refund.evaluate("s => s.selectedOptions[0].textContent") == "billing"
    phishing.focus()
    offered = phishing.evaluate("s => Array.from(s.options, o => o.textContent)")
    assert offered == ["---------", "billing", "security"]  # top-level labels, not phishing itself
    phishing.select_option(label="security")
    refund.focus()
    assert refund.evaluate("s => s.selectedOptions[0].textContent") == "billing"  # kept when filled
    with page.expect_navigation():
        page.click("#labels-form button[type=submit]")
    assert "Labels saved." in page.locator(".messages").text_content()
    labels = {label.name: label for label in Label.objects.filter(project=taxonomy).select_related("parent")}
    assert labels["phishing"].parent.name == "security" and labels["refund"].parent.name == "billing"
    assert js_errors == []
