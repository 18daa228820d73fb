"""A lead in headless Chromium: overview, settings, labels, quotas (with the validation error for
shares that do not add up), the rules preview, members, waves and the dashboard of a trained
project. Screenshots of each page go to test-artifacts/screenshots/."""
import pytest

from labeling.items.models import Item
from labeling.projects.models import Membership, Source
from learner.text import text_hash

pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture
def lead_world(make_user, project_factory):
    project = project_factory("support")
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    for text in ["my card was stolen yesterday", "stolen card, please block it", "refund for the cardigan",
                 "cannot log in", "billing question about my card"]:
        Item.objects.create(project=project, source=project.sources.first(), text=text, text_hash=text_hash(text))
    return project


def test_lead_quota_validation_and_pages(page, live_server, login, screenshot, js_errors, lead_world):
    login(page, "lena")
    page.goto(live_server.url + "/p/support/")
    assert page.locator("#start-labeling").get_attribute("href") == "/p/support/annotate/"
    assert page.locator("#lead-tools").is_visible()
    screenshot(page, "lead-overview")

    page.goto(live_server.url + "/p/support/settings/sources/")
    quotas = page.locator("input[name$='-quota']")
    quotas.nth(0).fill("0.5")
    quotas.nth(1).fill("0.3")
    total = page.locator("#quota-total")
    assert "0.800" in total.text_content() and "must add up to 1.0" in total.text_content()
    with page.expect_navigation():
        page.click("button[type=submit]")
    error = page.locator(".error-box")
    assert error.is_visible()
    assert "Source quotas must add up to 1.0" in error.text_content() and "0.800" in error.text_content()
    screenshot(page, "lead-sources-quota-error")
    assert sorted(Source.objects.filter(project=lead_world).values_list("quota", flat=True)) == [0.5, 0.5]

    quotas = page.locator("input[name$='-quota']")
    quotas.nth(0).fill("0.6")
    quotas.nth(1).fill("0.3")
    page.locator("input[name$='-name']").nth(2).fill("forum")
    quotas.nth(2).fill("0.1")
    assert "✓" in page.locator("#quota-total").text_content()
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "Sources and quotas saved." in page.locator(".messages").text_content()
    assert sorted(Source.objects.filter(project=lead_world).values_list("name", "quota")) == [
        ("chat", 0.6), ("email", 0.3), ("forum", 0.1)]
    screenshot(page, "lead-sources-saved")

    page.goto(live_server.url + "/p/support/settings/rules/")
    page.select_option("select[name=label]", label="fraud")
    page.select_option("select[name=kind]", "keyword")
    page.fill("input[name=pattern]", "card")
    page.click("#rule-preview")
    page.wait_for_selector("#rule-preview-count")
    assert page.locator("#rule-preview-count").text_content().startswith("3 of 5 pool items match")
    screenshot(page, "lead-rules-preview")
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    assert "Rule saved." in page.locator(".messages").text_content()

    for path, name in [("settings/", "lead-settings"), ("settings/labels/", "lead-labels"),
                       ("members/", "lead-members"), ("waves/", "lead-waves"), ("export/", "lead-export")]:
        page.goto(f"{live_server.url}/p/support/{path}")
        assert page.locator("h1").is_visible()
        screenshot(page, name)
    assert js_errors == []


def test_lead_hotkey_clash_is_reported(page, live_server, login, lead_world):
    login(page, "lena")
    page.goto(live_server.url + "/p/support/settings/labels/")
    page.locator("input[name$='-hotkey']").nth(2).fill("1")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "Hotkeys must be unique" in page.locator(".error-box").text_content()


def test_lead_dashboard_of_a_trained_project(page, live_server, login, screenshot, js_errors, make_user,
                                             project_factory):
    from labeling.modeling.embedding import embed_project
    from labeling.modeling.scores import score_version
    from labeling.modeling.versions import activate_version, train_version
    from tests.test_predict import label_project

    project = project_factory("alpha")
    lead = make_user("lena")
    annotator = make_user("ann")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=annotator, project=project, role=Membership.ANNOTATOR)
    label_project(project, annotator)
    embed_project(project)
    version = train_version(project)
    score_version(version)
    activate_version(version)

    login(page, "lena")
    page.goto(live_server.url + "/p/alpha/dashboard/")
    page.wait_for_selector("#per-class tbody tr")
    assert page.locator("#per-class tbody tr").count() == 3
    assert page.locator("#confusion td").count() == 9
    page.wait_for_function("document.getElementById('chart-pr').width > 0")
    assert not page.locator("#chart-waves").is_hidden()
    screenshot(page, "lead-dashboard")
    page.goto(live_server.url + "/p/alpha/waves/")
    screenshot(page, "lead-waves-with-wave")
    assert js_errors == []
