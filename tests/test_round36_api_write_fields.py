"""Writes name only fields they can set: an unknown field or a read-only one (a project's slug)
answers 400 naming it, where DRF dropped it and answered 200 with nothing changed. A project's
creation applies the settings it is given, checked as a PATCH checks them, where it ignored them
(wave_size 0 answered 201 with wave_size 1000)."""
import pytest
from rest_framework.test import APIClient

from labeling.projects.models import Label, Membership, Project

pytestmark = pytest.mark.django_db


def api_as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_patch_of_read_only_slug_is_refused(world):
    reply = api_as(world["lead"]).patch("/api/projects/alpha/", {"slug": "renamed"}, format="json")
    assert reply.status_code == 400
    assert "read-only" in reply.json()["slug"][0]
    assert Project.objects.filter(slug="alpha").exists() and not Project.objects.filter(slug="renamed").exists()


def test_patch_with_unknown_field_is_refused_and_saves_nothing(world):
    before = Project.objects.get(slug="alpha").wave_size
    reply = api_as(world["lead"]).patch("/api/projects/alpha/", {"unknownfield": 1, "wave_size": before + 5},
                                        format="json")
    assert reply.status_code == 400
    assert set(reply.json()) == {"unknownfield"}
    assert "wave_size" in reply.json()["unknownfield"][0]  # it says what the request takes
    assert Project.objects.get(slug="alpha").wave_size == before


def test_patch_of_known_fields_still_saves(world):
    reply = api_as(world["lead"]).patch("/api/projects/alpha/", {"wave_size": 321}, format="json")
    assert reply.status_code == 200 and reply.json()["wave_size"] == 321


def test_create_checks_settings_as_patch_does(world):
    reply = api_as(world["lead"]).post("/api/projects/", {"slug": "gamma", "name": "Gamma", "wave_size": 0},
                                       format="json")
    assert reply.status_code == 400
    assert "wave_size" in reply.json()
    assert not Project.objects.filter(slug="gamma").exists()
    patched = api_as(world["lead"]).patch("/api/projects/alpha/", {"wave_size": 0}, format="json")
    assert patched.json()["wave_size"] == reply.json()["wave_size"]  # the same words


def test_create_applies_settings(world):
    reply = api_as(world["lead"]).post("/api/projects/", {
        "slug": "gamma", "name": "Gamma", "labels": ["spam", "ham"], "wave_size": 300, "batch_size": 25,
        "strategy_mix": {"rare": 0.5, "uncertainty": 0.4}, "guidelines": "Be brief."}, format="json")
    assert reply.status_code == 201, reply.json()
    assert reply.json()["wave_size"] == 300 and reply.json()["role"] == "lead"
    project = Project.objects.get(slug="gamma")
    assert (project.wave_size, project.batch_size, project.guidelines) == (300, 25, "Be brief.")
    assert project.strategy_mix == {"rare": 0.5, "uncertainty": 0.4}
    assert sorted(Label.objects.filter(project=project).values_list("name", flat=True)) == ["ham", "spam"]
    assert Membership.objects.get(project=project).user == world["lead"]


def test_create_with_batch_over_wave_is_refused_whole(world):
    reply = api_as(world["lead"]).post("/api/projects/", {"slug": "gamma", "name": "Gamma", "wave_size": 10,
                                                          "batch_size": 20}, format="json")
    assert reply.status_code == 400 and "batch_size" in reply.json()
    assert not Project.objects.filter(slug="gamma").exists()


@pytest.mark.parametrize("body,field", [({"bogus": 1}, "bogus"), ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
                                        ({"role": "lead"}, "role")])
def test_create_refuses_unknown_fields(world, body, field):
    reply = api_as(world["lead"]).post("/api/projects/", {"slug": "gamma", "name": "Gamma", **body}, format="json")
    assert reply.status_code == 400 and field in reply.json()
    assert not Project.objects.filter(slug="gamma").exists()


@pytest.mark.parametrize("path,body,field", [
    ("labels/", {"name": "spam", "hotkey": "s", "colour": "red"}, "colour"),
    ("rules/", {"label": None, "kind": "keyword", "pattern": "x", "label_name": "billing"}, "label_name"),
    ("members/", {"username": "otto", "role": "annotator", "user": 3}, "user"),
    ("rules/preview/", {"kind": "keyword", "pattern": "card", "enabled": True}, "enabled"),
])
def test_other_writes_refuse_unknown_fields(world, path, body, field):
    if path == "rules/":
        body["label"] = Label.objects.get(project=world["alpha"], name="billing").pk
    reply = api_as(world["lead"]).post(f"/api/projects/alpha/{path}", body, format="json")
    assert reply.status_code == 400 and field in reply.json()


def test_source_list_refuses_unknown_field_per_row(world):
    reply = api_as(world["lead"]).put("/api/projects/alpha/sources/", [{"name": "email", "quota": 1.0, "weight": 2}],
                                      format="json")
    assert reply.status_code == 400
    assert "weight" in reply.json()["0"]  # row 0 names the field


def test_browsable_api_form_with_its_csrf_token_is_taken(world):
    # The browsable API's HTML form posts csrfmiddlewaretoken with the fields: not an unknown field.
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(world["lead"])
    token = "t" * 32
    browser.cookies["csrftoken"] = token
    reply = browser.post("/api/projects/alpha/labels/", {"name": "spam", "hotkey": "s", "csrfmiddlewaretoken": token})
    assert reply.status_code == 201, reply.content
