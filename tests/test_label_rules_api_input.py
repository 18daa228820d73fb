"""Bad input to the configuration API gets a 400 naming the field, never a silent partial write:
a source listed twice in the sources PUT (its quotas no longer added up to 1 once stored), true or
false sent as a number (stored as 1.0 / 0.0), and a member's username in a PATCH (ignored)."""
import pytest

from labeling.projects.models import Membership

from .test_concurrency_races import api_as

pytestmark = pytest.mark.django_db


def stored_sources(project):
    return sorted(project.sources.values_list("name", "quota"))


def test_a_source_listed_twice_is_refused_naming_its_id(world):
    alpha, lead = world["alpha"], world["lead"]
    email, chat = alpha.sources.get(name="email"), alpha.sources.get(name="chat")
    before = stored_sources(alpha)
    rows = [{"id": email.pk, "name": "United", "quota": 0.5}, {"id": email.pk, "name": "United2", "quota": 0.5},
            {"id": chat.pk, "name": "chat", "quota": 0}]
    r = api_as(lead).put("/api/projects/alpha/sources/", rows, format="json")
    # before: 200, email stored as United2 with 0.5 and chat 0: quotas adding up to 0.5
    assert r.status_code == 400 and list(r.json()) == ["id"], r.content
    assert r.json()["id"] == [f"Each source is listed once; repeated id: {email.pk}."]
    assert stored_sources(alpha) == before
    rows = [{"id": email.pk, "name": "email", "quota": 0.5}, {"name": " email", "quota": 0.5},
            {"id": chat.pk, "name": "chat", "quota": 0}]
    r = api_as(lead).put("/api/projects/alpha/sources/", rows, format="json")
    assert r.status_code == 400 and list(r.json()) == ["name"], r.content
    assert "repeated: email" in r.json()["name"][0]
    r = api_as(lead).put("/api/projects/alpha/sources/", [{"id": 0, "name": "web", "quota": 1}], format="json")
    assert r.status_code == 400 and list(r.json()) == ["id"] and "Unknown source ids" in r.json()["id"][0], r.content
    assert stored_sources(alpha) == before


@pytest.mark.parametrize("field", ["precision_target", "recall_target"])
@pytest.mark.parametrize("value", [True, False])
def test_true_or_false_is_not_a_label_target(world, field, value):
    alpha, lead = world["alpha"], world["lead"]
    fraud = alpha.labels.get(name="fraud")
    r = api_as(lead).patch(f"/api/projects/alpha/labels/{fraud.pk}/", {field: value}, format="json")
    assert r.status_code == 400 and r.json() == {field: ["Give a number, not true or false."]}, r.content
    fraud.refresh_from_db()
    assert getattr(fraud, field) is None  # before: 1.0 (or 0.0)
    assert api_as(lead).patch(f"/api/projects/alpha/labels/{fraud.pk}/", {field: 0.9}, format="json").status_code == 200


def test_true_or_false_is_not_a_quota_or_a_share(world):
    alpha, lead = world["alpha"], world["lead"]
    email, chat = alpha.sources.get(name="email"), alpha.sources.get(name="chat")
    before = stored_sources(alpha)
    r = api_as(lead).put("/api/projects/alpha/sources/", [{"id": email.pk, "name": "email", "quota": True},
                                                          {"id": chat.pk, "name": "chat", "quota": 0}], format="json")
    assert r.status_code == 400 and "Give a number, not true or false." in str(r.json()), r.content
    assert stored_sources(alpha) == before  # before: email 1.0, chat 0.0
    r = api_as(lead).patch("/api/projects/alpha/", {"random_share": True, "strategy_mix": {}}, format="json")
    assert r.status_code == 400 and r.json() == {"random_share": ["Give a number, not true or false."]}, r.content
    alpha.refresh_from_db()
    assert alpha.random_share == 0.1


def test_a_members_username_cannot_be_changed(world):
    alpha, lead = world["alpha"], world["lead"]
    membership = Membership.objects.get(project=alpha, user=world["annotator"])
    url = f"/api/projects/alpha/members/{membership.pk}/"
    r = api_as(lead).patch(url, {"username": "otto"}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["username"], r.content  # before: 200, username ignored
    assert "A member's user cannot be changed (this membership is ann's)" in r.json()["username"][0]
    r = api_as(lead).patch(url, {"username": "ann", "role": "lead"}, format="json")
    assert r.status_code == 200 and r.json()["role"] == "lead", r.content
    r = api_as(lead).put(url, {"username": "ann", "role": "annotator"}, format="json")
    assert r.status_code == 200 and r.json() == {"id": membership.pk, "username": "ann", "role": "annotator"}
    assert not Membership.objects.filter(project=alpha, user=world["outsider"]).exists()
