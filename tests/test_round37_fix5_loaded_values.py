"""JSON nested too deeply to read, posted to a lead page's hidden loaded_values field or to the
admin's JSON settings, is refused with the page's own message, nothing saved; json.loads raised
RecursionError there (a 500 with a traceback per request)."""
import pytest

from labeling.projects.models import Project

from .test_settings_pages_stale_edits import open_page, row_prefix

pytestmark = pytest.mark.django_db

SETTINGS, LABELS, SOURCES = "/p/alpha/settings/", "/p/alpha/settings/labels/", "/p/alpha/settings/sources/"
DEEP = "[" * 10000 + "]" * 10000
TOO_DEEP_TO_READ = "nested too deeply to read"


@pytest.fixture
def lead_client(world, client):
    client.force_login(world["lead"])
    return client


def _body(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("nested", [DEEP, "[" * 70 + "]" * 70])
def test_settings_page_refuses_deep_loaded_values(lead_client, world, nested):
    page = open_page(lead_client, SETTINGS, "settings-form")
    page["loaded_values"], page["description"] = [nested], ["not saved"]
    response = lead_client.post(SETTINGS, page)
    assert response.status_code == 200
    assert "Nothing was saved." in _body(response) and TOO_DEEP_TO_READ in _body(response)
    assert Project.objects.get(pk=world["alpha"].pk).description == ""
    # other unreadable junk there still counts as loaded with the stored values, as before
    page["loaded_values"] = ["{bad json"]
    assert lead_client.post(SETTINGS, page).status_code == 302
    assert Project.objects.get(pk=world["alpha"].pk).description == "not saved"


def test_labels_page_refuses_deep_loaded_values(lead_client, world):
    page = open_page(lead_client, LABELS, "labels-form")
    row = row_prefix(page, "labels", "billing")
    page[f"{row}-loaded_values"], page[f"{row}-description"] = [DEEP], ["not saved"]
    response = lead_client.post(LABELS, page)
    assert response.status_code == 200
    assert "(loaded_values) is nested too deeply to read; nothing was saved" in _body(response)
    assert world["alpha"].labels.get(name="billing").description != "not saved"


def test_sources_page_refuses_deep_loaded_values(lead_client, world):
    page = open_page(lead_client, SOURCES, "sources-form")
    row = row_prefix(page, "sources", "email")
    page[f"{row}-loaded_values"], page[f"{row}-name"] = [DEEP], ["renamed"]
    response = lead_client.post(SOURCES, page)
    assert response.status_code == 200 and TOO_DEEP_TO_READ in _body(response)
    assert world["alpha"].sources.filter(name="email").exists()


def test_admin_project_form_refuses_deep_json(project_factory, admin_client):
    add = open_page(admin_client, "/admin/projects/project/add/", "project_form")
    add.update(slug=["deep"], name=["Deep"], annotator_metadata=["[" * 5000 + "]" * 5000])
    response = admin_client.post("/admin/projects/project/add/", add)
    assert response.status_code == 200 and TOO_DEEP_TO_READ in _body(response)
    assert not Project.objects.filter(slug="deep").exists()

    alpha = project_factory("alpha")
    url = f"/admin/projects/project/{alpha.pk}/change/"
    page = open_page(admin_client, url, "project_form")
    page.update(strategy_mix=[DEEP], description=["not saved"])
    response = admin_client.post(url, page)
    assert response.status_code == 200 and TOO_DEEP_TO_READ in _body(response)
    page = open_page(admin_client, url, "project_form")
    page.update(loaded_values=[DEEP], description=["not saved"])
    response = admin_client.post(url, page)
    assert response.status_code == 200 and TOO_DEEP_TO_READ in _body(response)
    assert Project.objects.get(pk=alpha.pk).description == ""
