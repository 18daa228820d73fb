"""A lead in Chromium: every bad setting is refused with its message on the settings page and
through the API; closing a wave with "then retrain" gives a model-planned (not cold-start) next
wave; the new-project form's "coarse > fine" syntax; confirm dialogs before Remove and Delete; the
403 page. Screenshots at 1366 × 768 go to test-artifacts/screenshots/."""
import json
import os

import pytest

from labeling.items.models import Item
from labeling.modeling.embedding_store import clear_memos
from labeling.projects.models import Label, Membership, Project, Rule
from labeling.waves.models import Wave
from learner.text import text_hash
from tests.test_close_retrain import UNLABELED
from tests.test_lead_settings_forms import BAD_SETTINGS
from tests.test_predict import label_project
from tests.test_worker_loop import celery_worker_process  # noqa: F401 (fixture, used in CI mode)

pytestmark = pytest.mark.django_db(transaction=True)
LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def lead_world(make_user, project_factory):
    project = project_factory("support")
    lead, annotator = make_user("lena"), make_user("ann")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=annotator, project=project, role=Membership.ANNOTATOR)
    return {"project": project, "lead": lead, "annotator": annotator}


def api_patch(page, url, body):
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.patch(url, data=json.dumps(body),
                              headers={"Content-Type": "application/json", "X-CSRFToken": token})


def test_every_bad_setting_is_refused_on_the_page_and_the_api(page, live_server, login, screenshot, js_errors,
                                                               lead_world):
    login(page, "lena")
    page.set_viewport_size(LAPTOP)
    page.goto(live_server.url + "/p/support/settings/")
    screenshot(page, "workbench-settings")
    for changes, field, message in BAD_SETTINGS:
        page.goto(live_server.url + "/p/support/settings/")
        for name, value in changes.items():
            page.fill(f"[name={name}]", str(value))
        with page.expect_navigation():
            page.click("button[type=submit].primary")
        summary = page.locator("#settings-errors")
        assert summary.is_visible(), changes
        assert message in summary.text_content(), (changes, summary.text_content())
        if field != "strategy_mix":
            assert message in page.locator(f"[name={field}] ~ .errorlist, .errorlist").all_text_contents().__str__()
        answer = api_patch(page, live_server.url + "/api/projects/support/", changes)
        assert answer.status == 400 and message in " ".join(answer.json()[field]), (changes, answer.text())
    page.goto(live_server.url + "/p/support/settings/")
    page.fill("[name=batch_size]", "2000")
    page.fill("[name=band_low]", "0.9")
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    screenshot(page, "workbench-settings-refused")
    stored = Project.objects.get(slug="support")
    assert (stored.wave_size, stored.batch_size, stored.band_low) == (1000, 20, 0.3)
    assert js_errors == []


def test_close_then_retrain_plans_a_wave_from_the_model(page, live_server, login, screenshot, js_errors,
                                                        lead_world, request):
    # Vectors memoised in this process (in-process tasks) outlive the flush of the Embedding table.
    request.addfinalizer(clear_memos)
    if os.environ.get("REDIS_URL"):
        request.getfixturevalue("celery_worker_process")  # tasks go through the broker: run a worker
    project = lead_world["project"]
    project.wave_size, project.batch_size = 8, 4
    project.save()
    label_project(project, lead_world["annotator"])  # wave 1 open, every item answered
    for text in UNLABELED:
        Item.objects.create(project=project, source=project.sources.first(), text=text, text_hash=text_hash(text))
    login(page, "lena")
    page.set_viewport_size(LAPTOP)
    page.goto(live_server.url + "/p/support/waves/")
    assert page.locator("#close-retrain").is_checked()
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    with page.expect_navigation(timeout=180_000):
        page.click("#close-wave", no_wait_after=True)
    assert dialogs and "Close wave 1?" in dialogs[0]
    # In-process tasks finish inside the request; with a worker the page polls and reloads itself.
    page.wait_for_function("document.getElementById('wave-summary').textContent.includes('Wave 2')",
                           timeout=180_000)
    summary = page.locator("#wave-summary").text_content()
    assert "Wave 2 · open" in summary and "cold start" not in summary, summary
    wave2 = Wave.objects.get(project=project, number=2)
    assert not wave2.cold_start and wave2.model_version is not None
    rows = page.locator("#tasks tbody tr")
    assert "done" in rows.first.text_content() and "pending" not in rows.first.text_content()
    assert not page.locator("#retrain").is_disabled() and not page.locator("#plan-wave").is_disabled()
    screenshot(page, "workbench-waves-after-close-retrain")
    assert js_errors == []


def test_new_project_form_understands_the_hierarchy(page, live_server, login, screenshot, js_errors, lead_world):
    login(page, "lena")
    page.set_viewport_size(LAPTOP)
    page.goto(live_server.url + "/projects/new/")
    assert page.locator("[name=other_label]").is_checked()
    page.fill("[name=name]", "Tickets")
    page.fill("[name=slug]", "tickets")
    page.fill("[name=labels]", "billing > refund\nbilling > refund > partial\nlogin")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "Line 2 (“billing > refund > partial”): labels have two levels" in page.locator(".errorlist").text_content()
    page.fill("[name=labels]", "billing > refund\nbilling > invoice\nlogin\nsecurity > phishing")
    screenshot(page, "workbench-new-project")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith("/p/tickets/settings/labels/")
    labels = {lab.name: lab for lab in Label.objects.filter(project__slug="tickets")}
    assert labels["refund"].parent == labels["billing"] and labels["phishing"].parent == labels["security"]
    # top-level labels take the keys first, then fine labels in line order
    assert [labels[n].hotkey for n in ("billing", "refund", "invoice", "login", "security", "phishing")] == list("145236")
    assert labels["Other"].is_other and labels["Other"].hotkey == "0"
    screenshot(page, "workbench-new-project-labels")
    assert js_errors == []


def test_remove_and_delete_ask_first(page, live_server, login, js_errors, lead_world):
    project = lead_world["project"]
    rule = Rule.objects.create(project=project, label=project.labels.first(), kind="keyword", pattern="refund")
    login(page, "lena")
    page.goto(live_server.url + "/p/support/members/")
    assert page.locator("select[name=role]").input_value() == "annotator"
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("tr[data-member=ann] button").click()
    page.wait_for_timeout(300)
    assert asked == ["Remove ann from Support? Their answers stay."]
    assert Membership.objects.filter(project=project, user=lead_world["annotator"]).exists()
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.locator("tr[data-member=ann] button").click()
    assert not Membership.objects.filter(project=project, user=lead_world["annotator"]).exists()

    page.goto(live_server.url + "/p/support/settings/rules/")
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("form[action$='/delete/'] button").click()
    page.wait_for_timeout(300)
    assert asked[-1] == "Delete the rule “refund” → billing?" and Rule.objects.filter(pk=rule.pk).exists()

    page.goto(live_server.url + "/p/support/settings/labels/")
    page.locator("tr", has=page.locator("input[name$='-name'][value=fraud]")).locator("input[name$='-DELETE']").check()
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#labels-form button[type=submit]")
    page.wait_for_timeout(300)
    assert asked[-1] == "Delete 1 label (fraud)? This cannot be undone."
    assert Label.objects.filter(project=project, name="fraud").exists()
    assert js_errors == []


def test_the_403_page_says_why_and_links_back(page, live_server, login, screenshot, lead_world):
    login(page, "ann")
    page.goto(live_server.url + "/p/support/")
    response = page.goto(live_server.url + "/p/support/settings/")
    assert response.status == 403
    assert page.locator("h1").text_content() == "You cannot open this page"
    assert page.locator("#forbidden-reason").text_content() == "Only the project's leads and admins may do this."
    screenshot(page, "workbench-403")
    with page.expect_navigation():
        page.click("#forbidden-project")
    assert page.url == live_server.url + "/p/support/" and page.locator("#start-labeling").is_visible()
