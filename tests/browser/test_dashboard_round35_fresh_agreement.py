"""A fresh project's dashboard: the Agreement panel says no label has double-labeled pairs yet instead
of an empty "label | agreement" table (the empty per-label list was drawn as the older {label: value}
shape, a JavaScript array being an object too)."""
from playwright.sync_api import expect

from labeling.projects.models import Membership, Project


def test_a_fresh_projects_agreement_panel_has_no_empty_table(live_server, page, login, make_user, js_errors):
    project = Project.objects.create(slug="fresh", name="Fresh", rare_threshold=20)
    Membership.objects.create(user=make_user("lea"), project=project, role=Membership.LEAD)
    login(page, "lea")
    page.goto(live_server.url + "/p/fresh/dashboard/")
    page.wait_for_selector("#dashboard[data-ready]")
    agreement = page.locator("#agreement")
    expect(agreement.locator("table")).to_have_count(0)
    expect(agreement.locator("#agreement-per-label-empty")).to_have_text("No label has double-labeled pairs yet.")
    assert js_errors == []
