"""Sources that projects migration 0017 left as stored (a decomposed name beside its composed twin)
stay editable: the sources API and page compose a name only when it changed, so sending the list
back unchanged (or with a quota changed) is not refused as two sources of one name."""
import unicodedata

import pytest
from rest_framework.test import APIClient

from labeling.projects.models import Membership, Source

pytestmark = pytest.mark.django_db


def test_sources_list_with_twins_left_by_the_migration_saves(project_factory, make_user):
    project = project_factory("srctwins", sources=("web",))
    decomposed = Source.objects.create(project=project, name=unicodedata.normalize("NFD", "Café"), quota=0.0)
    composed = Source.objects.create(project=project, name="Café", quota=0.0)
    lead = make_user("srclead")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    api = APIClient()
    api.force_authenticate(lead)
    web = project.sources.get(name="web")
    rows = [{"id": web.pk, "name": "web", "quota": 0.5},
            {"id": decomposed.pk, "name": decomposed.name, "quota": 0.25},
            {"id": composed.pk, "name": "Café", "quota": 0.25}]
    answer = api.put(f"/api/projects/{project.slug}/sources/", rows, format="json")
    assert answer.status_code == 200, answer.content
    decomposed.refresh_from_db()
    assert decomposed.name == unicodedata.normalize("NFD", "Café") and decomposed.quota == 0.25
    # renaming the composed one, as the migration asks, works; a new decomposed name is composed
    rows[2]["name"] = unicodedata.normalize("NFD", "Café (shop)")
    answer = api.put(f"/api/projects/{project.slug}/sources/", rows, format="json")
    assert answer.status_code == 200, answer.content
    assert Source.objects.get(pk=composed.pk).name == "Café (shop)"
