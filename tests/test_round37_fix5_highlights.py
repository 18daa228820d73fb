"""End to end: the annotation page's leased batch marks every occurrence of a keyword rule, also
two occurrences one space or one comma apart (the keyword pattern consumes the boundary after a
match; the next occurrence used to lose its leading boundary and go unmarked)."""
import pytest

from labeling.projects.models import Membership, Rule
from tests.test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db


def test_batch_highlights_mark_adjacent_keyword_occurrences(project_factory, make_user):
    project = project_factory("adjacent")
    ann = add_member(make_user, project, "ann")
    add_member(make_user, project, "lena", role=Membership.LEAD)
    texts = ["GDPR GDPR request", "chargeback chargeback, chargeback"]
    make_open_wave(project, 2, texts=texts, shuffle=False)
    Rule.objects.create(project=project, label=project.labels.get(name="login"), kind="keyword", pattern="GDPR")
    Rule.objects.create(project=project, label=project.labels.get(name="fraud"), kind="keyword", pattern="chargeback")
    response = api_as(ann).post("/api/projects/adjacent/batches/", {}, format="json")
    assert response.status_code in (200, 201), response.content
    by_text = {item["text"]: item["highlights"] for item in response.json()["items"]}
    assert by_text == {
        "GDPR GDPR request": [[0, 4, "login"], [5, 9, "login"]],
        "chargeback chargeback, chargeback": [[0, 10, "fraud"], [11, 21, "fraud"], [23, 33, "fraud"]],
    }
    # the rules preview counts texts, not occurrences: each text is one match
    lead = project.memberships.get(role=Membership.LEAD).user
    preview = api_as(lead).post("/api/projects/adjacent/rules/preview/", {"kind": "keyword", "pattern": "GDPR"},
                                format="json").json()
    assert (preview["matches"], preview["scanned"]) == (1, 2)
