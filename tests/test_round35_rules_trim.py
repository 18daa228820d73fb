"""A regex rule's leading and trailing spaces are part of the pattern (" id " is not "id", which also
hits "idea", "said", "valid"): the API, the preview, the rules page and the admin keep it as typed.
A keyword's outer spaces mean nothing and are trimmed when it is saved."""
import pytest
from django.test import Client

from labeling.items.models import Item
from labeling.projects.models import Rule
from learner.text import text_hash
from tests.test_annotation_helpers import api_as

pytestmark = pytest.mark.django_db


def test_api_keeps_a_regex_as_typed_and_trims_a_keyword(world):
    billing = world["alpha"].labels.get(name="billing")
    api = api_as(world["lead"])
    r = api.post("/api/projects/alpha/rules/", {"label": billing.pk, "kind": "regex", "pattern": " id "}, format="json")
    assert r.status_code == 201 and r.json()["pattern"] == " id "
    r = api.patch(f"/api/projects/alpha/rules/{r.json()['id']}/", {"pattern": "\tid\t"}, format="json")
    assert r.status_code == 200 and Rule.objects.get().pattern == "\tid\t"
    r = api.post("/api/projects/alpha/rules/", {"label": billing.pk, "kind": "keyword", "pattern": "  refund "},
                 format="json")
    assert r.status_code == 201 and r.json()["pattern"] == "refund"
    r = api.post("/api/projects/alpha/rules/", {"label": billing.pk, "kind": "regex", "pattern": "   "}, format="json")
    assert r.status_code == 400 and "empty" in r.json()["pattern"][0]


def test_preview_matches_the_pattern_as_typed(world):
    alpha = world["alpha"]
    for text in ["my id is 7", "a good idea", "he said so"]:
        Item.objects.create(project=alpha, source=alpha.sources.first(), text=text, text_hash=text_hash(text))
    api = api_as(world["lead"])
    spaced = api.post("/api/projects/alpha/rules/preview/", {"kind": "regex", "pattern": " id "}, format="json").json()
    bare = api.post("/api/projects/alpha/rules/preview/", {"kind": "regex", "pattern": "id"}, format="json").json()
    assert (spaced["pattern"], spaced["matches"], bare["matches"]) == (" id ", 1, 3)


def test_rules_page_keeps_a_regex_as_typed(world):
    # Needs RuleForm's pattern field not to strip (labeling/projects/forms.py): fails until then.
    billing = world["alpha"].labels.get(name="billing")
    page = Client()
    page.force_login(world["lead"])
    page.post("/p/alpha/settings/rules/", {"label": billing.pk, "kind": "regex", "pattern": " id ", "enabled": "on"})
    page.post("/p/alpha/settings/rules/", {"label": billing.pk, "kind": "keyword", "pattern": " refund ", "enabled": "on"})
    assert list(Rule.objects.order_by("pk").values_list("pattern", flat=True)) == [" id ", "refund"]


def test_admin_keeps_a_regex_as_typed(world):
    # Needs RuleAdmin's form not to strip the pattern (labeling/projects/admin.py): fails until then.
    admin = Client()
    admin.force_login(world["admin"])
    admin.post("/admin/projects/rule/add/", {"project": world["alpha"].pk, "label": world["alpha"].labels.get(
        name="billing").pk, "kind": "regex", "pattern": " id ", "enabled": "on"})
    assert list(Rule.objects.values_list("pattern", flat=True)) == [" id "]
