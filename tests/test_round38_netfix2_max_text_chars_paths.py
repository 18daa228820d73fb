"""LONGTAIL_MAX_TEXT_CHARS is a new project's "Maximum text length" (README, docs/intake.md): every
path that makes a project takes the operator's value when it makes it (the API, the new-project page,
the admin's add page, setup_demo's project); a project made before keeps its own value. It was a
fixed 20,000 default on every path, so the variable changed nothing (codetruth 4)."""
import pytest

from labeling.items.demo_data import create_demo_project
from labeling.projects.models import Membership, Project

from .test_settings_pages_stale_edits import open_page

pytestmark = pytest.mark.django_db


def test_the_new_project_page_takes_the_setting(make_user, client, settings):
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=Project.objects.create(slug="seed", name="Seed"), role="lead")
    settings.LONGTAIL_MAX_TEXT_CHARS = 1234
    client.force_login(lead)
    response = client.post("/projects/new/", {"slug": "paged", "name": "Paged", "description": "",
                                              "labels": "a, b", "sources": "web"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Project.objects.get(slug="paged").max_text_chars == 1234


def test_the_admin_add_page_takes_the_setting(admin_client, settings):
    settings.LONGTAIL_MAX_TEXT_CHARS = 4321
    add = open_page(admin_client, "/admin/projects/project/add/", "project_form")
    assert add["max_text_chars"] == ["4321"]  # what the admin's form shows and saves unless changed
    add.update({"slug": ["admined"], "name": ["Admined"], "sources-TOTAL_FORMS": ["1"],
                "sources-0-name": ["web"], "sources-0-quota": ["1.0"]})
    response = admin_client.post("/admin/projects/project/add/", add)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Project.objects.get(slug="admined").max_text_chars == 4321


def test_the_demo_project_takes_it_and_a_made_project_keeps_its_own(settings):
    before = Project.objects.create(slug="before", name="Before")
    assert before.max_text_chars == 20_000  # the setting's default
    settings.LONGTAIL_MAX_TEXT_CHARS = 7000
    project, created = create_demo_project(slug="demo38", n_items=300)
    assert created and project.max_text_chars == 7000
    before.refresh_from_db()
    assert before.max_text_chars == 20_000  # a new value of the variable changes no made project
