"""Keyword rules that differ only in case (or in what matching folds away) match the same items:
"REFUND" was accepted beside "refund" (the new uniqueness compared the text exactly), and the
upgrade's migration kept both. Now a second one is refused naming the first, and the migration
keeps one of them. A regex's text is compared exactly ("\\D" is not "\\d")."""
import importlib

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from labeling.projects.models import Rule

pytestmark = pytest.mark.django_db
dedupe = importlib.import_module("labeling.projects.migrations.0016_rule_unique").keep_one_of_identical_rules


@pytest.fixture
def lead_api(world):
    api = APIClient()
    api.force_authenticate(world["lead"])
    return api


def test_a_keyword_differing_only_in_case_is_refused_naming_the_rule(world, lead_api):
    label = world["alpha"].labels.first()
    first = lead_api.post("/api/projects/alpha/rules/", {"label": label.pk, "kind": "keyword", "pattern": "refund"},
                          format="json")
    assert first.status_code == 201, first.content
    for twin in ("REFUND", "Refund", " refund\u200b"):
        response = lead_api.post("/api/projects/alpha/rules/", {"label": label.pk, "kind": "keyword",
                                                                "pattern": twin}, format="json")
        assert response.status_code == 400, (twin, response.content)
        assert f"rule {first.json()['id']}, keyword “refund”" in response.json()["pattern"][0]
    regex = [lead_api.post("/api/projects/alpha/rules/", {"label": label.pk, "kind": "regex", "pattern": p},
                           format="json").status_code for p in (r"\d+", r"\D+")]
    assert regex == [201, 201]
    assert Rule.objects.filter(label=label).count() == 3


def test_the_migration_keeps_one_of_the_keywords_that_match_alike(world):
    label = world["alpha"].labels.first()
    Rule.objects.bulk_create([Rule(project=world["alpha"], label=label, kind="keyword", pattern="refund", enabled=False),
                              Rule(project=world["alpha"], label=label, kind="keyword", pattern="Refund", enabled=True),
                              Rule(project=world["alpha"], label=label, kind="regex", pattern="refund", enabled=True)])
    dedupe(django_apps, None)
    kept = sorted(Rule.objects.filter(label=label).values_list("kind", "pattern", "enabled"))
    assert kept == [("keyword", "Refund", True), ("regex", "refund", True)]

