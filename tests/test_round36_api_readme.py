"""The README's API section says what the API does where a client would otherwise guess: each claim
is checked against the app here, so the text and the behaviour cannot drift apart."""
import re
import uuid

import pytest
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.projects.models import Membership
from learner.text import text_hash

from .test_readme_api import api_section

pytestmark = pytest.mark.django_db


def api_as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def pool(world):
    project = world["alpha"]
    Item.objects.bulk_create([Item(project=project, source=project.sources.first(), text=f"row {i}",
                                   text_hash=text_hash(f"row {i}")) for i in range(230)])
    return project


def test_items_count_and_page_size(world, pool):
    section = flat(api_section())
    assert "`count` is `null` unless the request sends `count=true`" in section
    assert "at most 200" in section and "answers 400 on `page_size`" in section
    lead = api_as(world["lead"])
    plain = lead.get("/api/projects/alpha/items/").json()
    assert plain["count"] is None and len(plain["results"]) == 50
    assert lead.get("/api/projects/alpha/items/?count=true").json()["count"] == 230
    assert len(lead.get("/api/projects/alpha/items/?page_size=1000").json()["results"]) == 200
    for bad in ("abc", "0", "-3"):
        assert lead.get(f"/api/projects/alpha/items/?page_size={bad}").status_code == 400


def test_who_reads_what(world):
    section = flat(api_section())
    assert "Members read;" not in section
    assert "`rules/`, `members/`" in section and "an annotator gets 403" in section
    annotator = api_as(world["annotator"])
    for path in ("rules/", "members/", "items/", "answers/", "dashboard/"):
        assert annotator.get(f"/api/projects/alpha/{path}").status_code == 403, path
    for path in ("", "labels/", "sources/", "waves/", "models/"):
        assert annotator.get(f"/api/projects/alpha/{path}").status_code == 200, path


def test_posting_an_existing_member_changes_their_role(world):
    section = flat(api_section())
    assert "`POST` for a user who is already a member changes their role" in section
    lead = api_as(world["lead"])
    before = Membership.objects.get(project=world["alpha"], user=world["annotator"])
    reply = lead.post("/api/projects/alpha/members/", {"username": "ann", "role": "lead"}, format="json")
    assert reply.status_code == 201 and reply.json() == {"id": before.pk, "username": "ann", "role": "lead"}
    # The last lead may not demote themself, by POST as by PATCH.
    Membership.objects.filter(user=world["annotator"]).update(role=Membership.ANNOTATOR)
    refused = lead.post("/api/projects/alpha/members/", {"username": "lena", "role": "annotator"}, format="json")
    assert refused.status_code == 400 and "role" in refused.json()


def test_both_error_shapes_are_described(world, make_user):
    section = flat(api_section())
    assert '`{"detail": "…", "field": "size"}`' in section and '{"batch_size": ["Batch size' in section
    world["alpha"].batch_size = 20
    world["alpha"].save()
    annotator = api_as(world["annotator"])
    field_check = annotator.post("/api/projects/alpha/batches/", {"size": 0}, format="json").json()
    refusal = annotator.post("/api/projects/alpha/batches/", {"size": 21}, format="json").json()
    assert set(field_check) == {"size"} and isinstance(field_check["size"], list)
    assert set(refusal) == {"detail", "field"} and refusal["field"] == "size"


def test_answer_fields_and_sort_values_are_described(world):
    section = flat(api_section())
    for words in ("`skip_reason`", "`none_of_these: true`", "`skipped: true`", "`confidence_desc`",
                  "`oldest`", "`label_names`", "308"):
        assert words in section, words
    reply = api_as(world["annotator"]).post("/api/projects/alpha/annotations/", {
        "client_id": str(uuid.uuid4()), "item": 1, "skipped": True}, format="json")
    assert reply.status_code in (400, 404)  # the shape the README describes: detail and field
    assert set(reply.json()) >= {"detail"}
