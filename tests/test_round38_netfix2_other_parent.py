"""Moving the project's Other label (the answer "none of these", key 0) under a coarse label was
refused with "Hotkey “0” is reserved …" on ``hotkey``: the refusal is right, but the lead did not
touch the hotkey. The real reason is that the Other label stays top-level; the refusal names
``parent`` and says so, on every path that moves a label (API PATCH, the labels page, a model's
full_clean as the admin runs it)."""
import pytest
from django.core.exceptions import ValidationError

from labeling.projects.models import Label, Membership, Project
from labeling.projects.services import save_label

from .test_concurrency_races import api_as
from .test_label_rules_other import labels_page_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def sky(make_user):
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=Project.objects.create(slug="seed", name="Seed"), role="lead")
    r = api_as(lead).post("/api/projects/", {"slug": "sky", "name": "Sky", "labels": ["weather", "weather > rain"],
                                             "sources": ["web"], "other_label": True}, format="json")
    assert r.status_code == 201, r.content
    project = Project.objects.get(slug="sky")
    return project, lead, {label.name: label for label in project.labels.all()}


def stays(labels):
    other = Label.objects.get(pk=labels["Other"].pk)
    assert (other.parent_id, other.is_other, other.hotkey) == (None, True, "0")


def test_the_api_refuses_the_move_on_parent(sky):
    project, lead, labels = sky
    r = api_as(lead).patch(f"/api/projects/sky/labels/{labels['Other'].pk}/", {"parent": labels["weather"].pk},
                           format="json")
    assert r.status_code == 400, r.content
    body = r.json()
    assert "parent" in body and "hotkey" not in body, body
    assert "top-level" in str(body["parent"]) and "reserved" not in str(body["parent"]), body
    stays(labels)


def test_the_service_and_the_model_refuse_it_on_parent(sky):
    project, _, labels = sky
    with pytest.raises(ValidationError) as caught:
        save_label(project, Label.objects.get(pk=labels["Other"].pk), parent=labels["weather"])
    assert list(caught.value.message_dict) == ["parent"], caught.value.message_dict
    assert "top-level" in caught.value.message_dict["parent"][0]
    stays(labels)
    other = Label.objects.get(pk=labels["Other"].pk)
    other.parent = labels["weather"]
    with pytest.raises(ValidationError) as caught:
        other.full_clean()  # the admin's check
    assert "parent" in caught.value.message_dict and "hotkey" not in caught.value.message_dict
    stays(labels)


def test_the_labels_page_refuses_it_on_parent(sky, client):
    project, lead, labels = sky
    client.force_login(lead)
    response = client.post("/p/sky/settings/labels/", labels_page_post(project, {"Other": {"parent": labels["weather"].pk}}))
    page = response.content.decode()
    assert "stays top-level" in page and "is reserved" not in page
    stays(labels)


def test_unticked_first_it_may_go_under_a_coarse_label(sky):
    project, lead, labels = sky
    r = api_as(lead).patch(f"/api/projects/sky/labels/{labels['Other'].pk}/",
                           {"parent": labels["weather"].pk, "is_other": False, "hotkey": "o"}, format="json")
    assert r.status_code == 200, r.content
    assert Label.objects.get(pk=labels["Other"].pk).parent_id == labels["weather"].pk
