"""The overlap setting has a ceiling (labeling.projects.overlap.MAX_OVERLAP) that every path which
sets it refuses above, with the same message and its reason: the model's clean(), the settings
service, the settings page and the API (whose column bound, 32767, used to answer first)."""
import importlib
import re

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from labeling.projects import services
from labeling.projects.models import Project
from labeling.projects.overlap import MAX_OVERLAP

pytestmark = pytest.mark.django_db

TOO_HIGH = f"Overlap must be at most {MAX_OVERLAP} annotators; got"
WHY = "its wave waits for all of them"


def _api(world):
    api = APIClient()
    api.force_authenticate(world["lead"])
    return api


def test_model_clean_refuses_an_overlap_above_the_ceiling(world):
    project = world["alpha"]
    project.overlap = MAX_OVERLAP + 1
    with pytest.raises(ValidationError) as caught:
        project.full_clean()
    assert list(caught.value.message_dict) == ["overlap"]
    message = caught.value.message_dict["overlap"][0]
    assert message.startswith(f"{TOO_HIGH} {MAX_OVERLAP + 1}.") and WHY in message
    project.overlap = MAX_OVERLAP
    project.full_clean()


def test_settings_service_refuses_it_and_saves_nothing(world):
    with pytest.raises(ValidationError) as caught:
        services.update_settings(world["alpha"], {"overlap": 32767, "wave_size": 50})
    assert f"{TOO_HIGH} 32,767." in caught.value.message_dict["overlap"][0]
    stored = Project.objects.get(pk=world["alpha"].pk)
    assert (stored.overlap, stored.wave_size) == (2, 1000)
    assert services.update_settings(world["alpha"], {"overlap": MAX_OVERLAP}).overlap == MAX_OVERLAP


@pytest.mark.parametrize("value,shown", [(MAX_OVERLAP + 1, str(MAX_OVERLAP + 1)), (32767, "32,767"),
                                         (40000, "40,000")])
def test_api_refuses_it_with_the_pages_words(world, value, shown):
    answer = _api(world).patch("/api/projects/alpha/", {"overlap": value}, format="json")
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == ["overlap"]
    message = answer.json()["overlap"][0]
    assert message.startswith(f"{TOO_HIGH} {shown}.") and WHY in message
    assert Project.objects.get(pk=world["alpha"].pk).overlap == 2


@pytest.mark.parametrize("value,words", [(0, "Overlap must be at least 1; got 0."),
                                         ("many", "A valid integer is required."),
                                         (True, "A valid integer is required.")])
def test_api_other_bad_overlaps_still_name_the_field(world, value, words):
    answer = _api(world).patch("/api/projects/alpha/", {"overlap": value}, format="json")
    assert answer.status_code == 400 and words in answer.json()["overlap"][0], answer.content


def test_api_accepts_the_ceiling_and_documents_it(world):
    api = _api(world)
    assert api.patch("/api/projects/alpha/", {"overlap": MAX_OVERLAP}, format="json").json()["overlap"] == MAX_OVERLAP
    schema = api.get("/api/schema/", {"format": "json"}).json()
    overlap = schema["components"]["schemas"]["PatchedProject"]["properties"]["overlap"]
    assert (overlap["minimum"], overlap["maximum"]) == (1, MAX_OVERLAP)


def test_settings_page_refuses_it(client, world):
    client.force_login(world["lead"])
    form = client.get("/p/alpha/settings/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and v is not False
            and not isinstance(v, (dict, list))}
    data.update({"mix_rare": "0.4", "mix_uncertainty": "0.3", "mix_diversity": "0.2", "overlap": "11"})
    response = client.post("/p/alpha/settings/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was saved." in body and f"{TOO_HIGH} 11." in body
    assert Project.objects.get(pk=world["alpha"].pk).overlap == 2


def test_the_migration_lowers_a_stored_overlap_above_the_ceiling(world):
    """A project saved before the ceiling with a higher overlap would have every later settings save
    refused for a field its lead did not touch: the migration lowers it."""
    Project.objects.filter(pk=world["alpha"].pk).update(overlap=32767)
    migration = importlib.import_module("labeling.projects.migrations.0015_overlap_ceiling")
    migration.lower_to_ceiling(apps, None)
    assert Project.objects.get(pk=world["alpha"].pk).overlap == MAX_OVERLAP


def test_the_settings_page_gives_the_browser_the_range(world, client):
    client.force_login(world["lead"])
    page = client.get(f"/p/{world['alpha'].slug}/settings/").content.decode()
    tag = re.search(r'<input[^>]*name="overlap"[^>]*>', page).group(0)
    assert 'min="1"' in tag and f'max="{MAX_OVERLAP}"' in tag, tag
