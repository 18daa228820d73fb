"""An admin in headless Chromium: sees every project, creates one, and exports labels (the
downloaded CSV and JSONL files parse)."""
import csv
import json
import uuid

import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.models import Membership, Project
from learner.text import text_hash

pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture
def admin_world(make_user, project_factory):
    project = project_factory("support")
    project_factory("other")
    make_user("root", superuser=True)
    annotator = make_user("ann")
    Membership.objects.create(user=annotator, project=project, role=Membership.ANNOTATOR)
    labels = list(project.labels.all())
    texts = ["=cmd|' /C calc'!A0", "my card was stolen", "cannot log in", "refund please", "@risk of fraud"]
    for i, text in enumerate(texts):
        item = Item.objects.create(project=project, source=project.sources.first(), text=text, text_hash=text_hash(text))
        item.dup_group = item.pk
        item.save()
        Annotation.objects.create(project=project, item=item, annotator=annotator, label=labels[i % len(labels)],
                                  client_id=uuid.uuid4())
    return project


def test_admin_exports_and_files_parse(page, live_server, login, screenshot, js_errors, admin_world, tmp_path):
    login(page, "root")
    assert page.locator("tr[data-project]").count() == 2  # admins see every project
    screenshot(page, "admin-home")
    page.goto(live_server.url + "/p/support/export/")
    screenshot(page, "admin-export")

    with page.expect_download() as info:
        page.click("#download-csv")
    path = tmp_path / "labels.csv"
    info.value.save_as(path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 and {r["split"] for r in rows} <= {"train", "val", "test"}
    texts = {r["text"] for r in rows}
    assert "'=cmd|' /C calc'!A0" in texts and "'@risk of fraud" in texts  # formulas neutralised

    page.check("#include-duplicates")
    assert page.locator("#download-jsonl").get_attribute("href").endswith("?include_duplicates=1")
    with page.expect_download() as info:
        page.click("#download-jsonl")
    path = tmp_path / "labels.jsonl"
    info.value.save_as(path)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 5 and len({tuple(r) for r in records}) == 1  # same keys on every line
    assert {r["annotators"][0] for r in records} == {"ann"}
    assert js_errors == []


def test_admin_creates_a_project(page, live_server, login, screenshot, admin_world):
    login(page, "root")
    page.click("#new-project")
    page.fill("input[name=name]", "Tickets")
    page.fill("input[name=slug]", "tickets")
    page.fill("textarea[name=labels]", "refund\nspam\nabuse")
    page.fill("input[name=sources]", "web, app")
    screenshot(page, "admin-new-project")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith("/p/tickets/settings/labels/")
    # The three typed labels with hotkeys in order, and the Other label the form adds by default.
    assert sorted(Project.objects.get(slug="tickets").labels.values_list("name", "hotkey", "is_other")) == [
        ("Other", "0", True), ("abuse", "3", False), ("refund", "1", False), ("spam", "2", False)]
    screenshot(page, "admin-new-project-labels")


def test_swagger_ui_renders_offline(page, live_server, login, screenshot, js_errors, admin_world):
    """The API docs load every script and style from this server (no CDN) and render the schema."""
    external = []
    page.on("request", lambda req: external.append(req.url) if not req.url.startswith(live_server.url) else None)
    login(page, "root")
    page.goto(live_server.url + "/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Longtail API" in page.locator(".swagger-ui .info .title").text_content()
    page.wait_for_selector("text=/api/projects/{slug}/predict/")
    screenshot(page, "admin-api-docs")
    assert external == [] and js_errors == []
