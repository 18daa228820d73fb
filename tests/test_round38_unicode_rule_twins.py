"""Keyword rules that find the same items are one rule: "straße" and "strasse".

Two keyword rules of one label are refused as one rule when ``learner.rules.rule_key`` gives them
the same key (labeling/projects/models.py, Rule.validate_constraints), and migration projects 0016
deletes all but one of such rules. The key is the folded phrase with ``casefold()``.

As first written (round 38, reader "unicode"), this test expected "straße" and "strasse" to be two
rules: the keyword "straße" matched only "Straße" and "strasse" only "Strasse" and "STRASSE"
(RE2 folds case letter by letter), so the key's "ß" → "ss" refused a rule that found other items.
The fix of the search's case folding (the same round) spells "ß" and "ẞ" as "ss" in the fold that
both the search and keyword rules read (learner.text_fold.search_form), so the two keywords now
find the same items, as the search and the importer's exact-duplicate hash already had them: they
ARE twins, and refusing the second is right. What the test holds now is the property behind the
finding: keywords are twins exactly when they find the same items."""
import pytest
from rest_framework.test import APIClient

from labeling.projects.models import Rule

from .test_browse_helpers import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_api(world):
    api = APIClient()
    api.force_authenticate(world["lead"])
    return api


def preview_ids(api, pattern):
    response = api.post("/api/projects/alpha/rules/preview/", {"kind": "keyword", "pattern": pattern}, format="json")
    assert response.status_code == 200, response.content
    return {example["id"] for example in response.json()["examples"]}


def test_keywords_that_find_the_same_items_are_twins(world, lead_api):
    alpha = world["alpha"]
    eszett = make_item(alpha, "Lieferung in die Straße verspätet")
    written_ss = make_item(alpha, "Lieferung in die Strasse verspätet")
    capitals = make_item(alpha, "LIEFERUNG IN DIE STRASSE VERSPÄTET")
    make_item(alpha, "Lieferung in die Strase verspätet")  # a misspelling: another word
    # What the lead sees in the rules editor before saving: the two keywords find the same items.
    assert preview_ids(lead_api, "straße") == {eszett.id, written_ss.id, capitals.id}
    assert preview_ids(lead_api, "strasse") == {eszett.id, written_ss.id, capitals.id}

    label = alpha.labels.first()
    first = lead_api.post("/api/projects/alpha/rules/", {"label": label.pk, "kind": "keyword", "pattern": "straße"},
                          format="json")
    assert first.status_code == 201, first.content
    second = lead_api.post("/api/projects/alpha/rules/", {"label": label.pk, "kind": "keyword", "pattern": "strasse"},
                           format="json")
    assert second.status_code == 400, second.content
    assert "keyword “straße”" in second.json()["pattern"][0]
    # a keyword that finds other items is no twin
    third = lead_api.post("/api/projects/alpha/rules/", {"label": label.pk, "kind": "keyword", "pattern": "strase"},
                          format="json")
    assert third.status_code == 201, third.content
    assert sorted(Rule.objects.filter(label=label).values_list("pattern", flat=True)) == ["strase", "straße"]
