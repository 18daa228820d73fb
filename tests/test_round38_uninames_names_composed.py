"""Label and source names are stored composed (Unicode NFC) by every path a lead names them through
(the API, the new-project page, the sources), and the migration composes the names stored before,
leaving (and reporting) one whose composed form another label of the project already has.

Decomposed text is what macOS hands over ("O" + U+0308 for "Ö", Hangul as jamo); stored so, a name
never equalled the one typed on an ordinary keyboard."""
import importlib
import unicodedata

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from labeling.projects.models import Label, Project, Source

pytestmark = pytest.mark.django_db

ODEME, REFUND = "Ödeme", "환불"


def nfd(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name)
    assert decomposed != name
    return decomposed


@pytest.fixture
def lead_api(world):
    api = APIClient()
    api.force_authenticate(world["lead"])
    return api


def test_the_label_api_stores_a_decomposed_name_composed_and_renames_so(lead_api, world):
    made = lead_api.post("/api/projects/alpha/labels/", {"name": nfd(REFUND), "hotkey": "u"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["name"] == REFUND
    assert Label.objects.get(pk=made.json()["id"]).name == REFUND
    renamed = lead_api.patch(f"/api/projects/alpha/labels/{made.json()['id']}/", {"name": nfd(ODEME)}, format="json")
    assert renamed.status_code == 200, renamed.content
    assert Label.objects.get(pk=made.json()["id"]).name == ODEME


def test_the_sources_api_stores_names_composed(lead_api, world):
    answer = lead_api.put("/api/projects/alpha/sources/", [{"name": nfd("Café"), "quota": 0.5},
                                                           {"name": "web", "quota": 0.5}], format="json")
    assert answer.status_code == 200, answer.content
    assert sorted(Source.objects.filter(project=world["alpha"]).values_list("name", flat=True)) == ["Café", "web"]


def test_the_new_project_page_stores_label_lines_and_sources_composed(client, world):
    client.force_login(world["lead"])
    answer = client.post("/projects/new/", {"name": "Tickets", "slug": "tickets", "sources": nfd("Café"),
                                            "labels": f"{nfd(ODEME)}\n{nfd(ODEME)} > {nfd(REFUND)}\n"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    project = Project.objects.get(slug="tickets")
    assert set(project.labels.values_list("name", "parent__name")) >= {(ODEME, None), (REFUND, ODEME)}
    assert list(project.sources.values_list("name", flat=True)) == ["Café"]


def test_the_migration_composes_stored_names_and_reports_a_clash(project_factory, capsys):
    project = project_factory("old", labels=("billing",), sources=("web",))
    # Rows as stored before: objects.create runs none of the name checks.
    decomposed = Label.objects.create(project=project, name=nfd(ODEME), hotkey="o")
    twin_nfd = Label.objects.create(project=project, name=nfd(REFUND), hotkey="u")
    twin = Label.objects.create(project=project, name=REFUND, hotkey="f")
    source = Source.objects.create(project=project, name=nfd("Café"), quota=0.0)
    migration = importlib.import_module("labeling.projects.migrations.0017_names_composed")
    migration.compose_names(django_apps, None)
    decomposed.refresh_from_db()
    twin_nfd.refresh_from_db()
    twin.refresh_from_db()
    source.refresh_from_db()
    assert decomposed.name == ODEME and source.name == "Café" and twin.name == REFUND
    assert twin_nfd.name == nfd(REFUND), "left as stored: its composed form is another label's name"
    out = capsys.readouterr().out
    assert f"label {twin_nfd.pk} of project {project.pk} left decomposed" in out
