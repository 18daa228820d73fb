"""A lead uploads a file in headless Chromium; the import page polls the progress JSON and shows the
errors as text (never as HTML)."""
import pytest

from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def lead_project(make_user, project_factory):
    project = project_factory("intake", labels=("billing", "login"), sources=("email", "chat"))
    Membership.objects.create(user=make_user("lena"), project=project, role=Membership.LEAD)
    return project


def test_upload_through_the_form(page, live_server, login, screenshot, js_errors, lead_project, eager_tasks, tmp_path):
    good = tmp_path / "tickets.csv"
    good.write_text("text,source\nMy card was charged twice,email\nCannot sign in,chat\n", encoding="utf-8")
    login(page, "lena")
    page.goto(live_server.url + "/p/intake/import/")
    page.set_input_files("input[name=file]", str(good))
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/p/intake/import/" in page.url
    page.wait_for_function("document.getElementById('import-state').textContent === 'done'")
    assert page.locator("#rows-imported").text_content() == "2"
    assert float(page.locator("#import-progress").get_attribute("value")) == 1.0
    screenshot(page, "import-done")
    assert Item.objects.filter(project=lead_project).count() == 2
    assert js_errors == []


def test_progress_page_polls_and_shows_errors_as_text(page, live_server, login, screenshot, js_errors, lead_project):
    batch = ImportBatch.objects.create(project=lead_project, filename="<b>evil</b>.csv", state=ImportBatch.RUNNING,
                                       progress=0.3, rows_total=120)
    login(page, "lena")
    page.goto(live_server.url + f"/p/intake/import/{batch.id}/")
    assert page.locator("#import-state").text_content() == "running"
    payload = '<img src=x onerror="window.pwned=1">'
    ImportBatch.objects.filter(id=batch.id).update(
        state=ImportBatch.FAILED, progress=1.0, rows_rejected=1,
        errors=[{"file": "<b>evil</b>.csv", "line": 7, "field": "source", "message": f"unknown source '{payload}'"}])
    page.wait_for_function("document.getElementById('import-state').textContent === 'failed'")
    page.wait_for_selector("#import-errors tbody tr td:nth-child(4)")
    cells = page.locator("#import-errors tbody tr").first.locator("td")
    assert cells.nth(1).text_content() == "7" and cells.nth(2).text_content() == "source"
    assert cells.nth(3).text_content() == f"unknown source '{payload}'"
    assert page.locator("#import-errors img").count() == 0 and page.locator("#import-errors b").count() == 0
    assert page.evaluate("window.pwned === undefined")
    screenshot(page, "import-failed")
    assert js_errors == []
