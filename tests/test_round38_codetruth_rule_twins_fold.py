"""Two rules of one label are "twins" (refused when saved, merged by migration 0016) when
learner.rules.rule_key says they match alike, so the key must fold exactly as keyword matching does.

As first written (round 38, reader "codetruth"), this test expected "strasse" and "Straße" to match
different items and so not to be twins: rule_key compared keywords with str.casefold() ("ß" →
"ss") while RE2's case-insensitive match folds letter by letter ("ß" matches only "ß"/"ẞ"). The
same round's fix of the search's case folding spells "ß" and "ẞ" as "ss" in the fold that the
search and keyword rules share (learner.text_fold.search_form), so the two keywords now match the
same items and ARE twins: refusing the second and merging them in the migration is right. The test
now holds the key and the matcher together: same key exactly when the same texts match
(tests/test_round38_unifold_rule_key.py checks the fold over every character)."""
import importlib

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from labeling.projects.models import Rule
from learner.rules import compile_rule, rule_key

pytestmark = pytest.mark.django_db
dedupe = importlib.import_module("labeling.projects.migrations.0016_rule_unique").keep_one_of_identical_rules

TEXTS = ["Die Strasse ist gesperrt", "Die Straße ist gesperrt", "DIE STRASSE IST GESPERRT", "Die Strase ist gesperrt"]


@pytest.fixture
def lead_api(world):
    api = APIClient()
    api.force_authenticate(world["lead"])
    return api


def matched(keyword):
    return [text for text in TEXTS if compile_rule("keyword", keyword).search(text)]


def test_the_key_says_twins_exactly_when_the_matcher_matches_alike():
    # The matcher the planner, the preview and the highlights use.
    assert matched("strasse") == matched("Straße") == TEXTS[:3]
    assert matched("strase") == TEXTS[3:]
    for one, other in [("strasse", "Straße"), ("strasse", "strase"), ("Straße", "STRAẞE"), ("Straße", "strase")]:
        assert (rule_key("keyword", one) == rule_key("keyword", other)) == (matched(one) == matched(other)), (one, other)


def test_a_keyword_that_matches_the_same_items_is_refused_as_a_twin(world, lead_api):
    label = world["alpha"].labels.first()
    first = lead_api.post("/api/projects/alpha/rules/", {"label": label.pk, "kind": "keyword", "pattern": "strasse"},
                          format="json")
    assert first.status_code == 201, first.content
    second = lead_api.post("/api/projects/alpha/rules/", {"label": label.pk, "kind": "keyword", "pattern": "Straße"},
                           format="json")
    assert second.status_code == 400, second.content
    assert second.json()["pattern"] == [f"The label has this rule already: rule {first.json()['id']}, keyword “strasse”."]


def test_the_migration_keeps_one_of_keywords_that_match_alike_and_every_other(world):
    label = world["alpha"].labels.first()
    Rule.objects.bulk_create([Rule(project=world["alpha"], label=label, kind="keyword", pattern="strasse"),
                              Rule(project=world["alpha"], label=label, kind="keyword", pattern="Straße"),
                              Rule(project=world["alpha"], label=label, kind="keyword", pattern="strase")])
    dedupe(django_apps, None)
    assert sorted(Rule.objects.filter(label=label).values_list("pattern", flat=True)) == ["strase", "strasse"]
