"""Keywords stored as two rules before the fold spelled "ß" as "ss" ("straße" and "strasse", two
rules then, twins now) stay editable: the lead can disable or re-enable either one. Only a new or
changed pattern is checked against the label's other rules."""
import pytest
from rest_framework.test import APIClient

from labeling.projects.models import Rule

pytestmark = pytest.mark.django_db


def test_a_stored_twin_can_still_be_disabled_and_enabled(world):
    alpha = world["alpha"]
    label = alpha.labels.first()
    # as an upgrade finds them: saved when they were two rules (bulk_create skips the twin check)
    first, second = Rule.objects.bulk_create([Rule(project=alpha, label=label, kind="keyword", pattern="straße"),
                                              Rule(project=alpha, label=label, kind="keyword", pattern="strasse")])
    api = APIClient()
    api.force_authenticate(world["lead"])
    for enabled in (False, True):
        r = api.patch(f"/api/projects/alpha/rules/{second.pk}/", {"enabled": enabled}, format="json")
        assert r.status_code == 200, r.content
        assert Rule.objects.get(pk=second.pk).enabled is enabled
    # a changed pattern is still checked: "strasse" → "STRASSE" is the other rule's twin
    r = api.patch(f"/api/projects/alpha/rules/{second.pk}/", {"pattern": "STRASSE"}, format="json")
    assert r.status_code == 400 and f"rule {first.pk}, keyword “straße”" in r.json()["pattern"][0], r.content
