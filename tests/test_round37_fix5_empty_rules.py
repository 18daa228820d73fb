"""A regular expression that can match zero characters ("q*", "(refund)?", "a|") is refused on its
pattern field when a rule is saved or previewed, through the API, the rules page and the admin: it
was saved without a word and counted as matching every item of the pool."""
import pytest
from django.test import Client

from labeling.items.models import Item
from labeling.projects.models import Rule
from learner.text import text_hash
from tests.test_annotation_helpers import api_as

pytestmark = pytest.mark.django_db

WHY = "can match zero characters (as it does in the empty text)"


def test_api_preview_and_save_refuse_an_empty_matching_regex(world):
    alpha = world["alpha"]
    for text in ["please refund me", "my login fails", "nothing"]:
        Item.objects.create(project=alpha, source=alpha.sources.first(), text=text, text_hash=text_hash(text))
    billing = alpha.labels.get(name="billing")
    api = api_as(world["lead"])
    for pattern in ["q*", "(refund)?", "a|"]:
        preview = api.post("/api/projects/alpha/rules/preview/", {"kind": "regex", "pattern": pattern}, format="json")
        assert preview.status_code == 400, preview.content
        assert preview.json()["pattern"][0].startswith(f"Pattern “{pattern}”: this regular expression {WHY}")
        saved = api.post("/api/projects/alpha/rules/", {"label": billing.pk, "kind": "regex", "pattern": pattern},
                         format="json")
        assert saved.status_code == 400 and WHY in saved.json()["pattern"][0]
    assert not Rule.objects.exists()
    # what needs a character is previewed and saved as before
    preview = api.post("/api/projects/alpha/rules/preview/", {"kind": "regex", "pattern": "(refund)s?"}, format="json")
    assert (preview.status_code, preview.json()["matches"], preview.json()["scanned"]) == (200, 1, 3)
    rule = api.post("/api/projects/alpha/rules/", {"label": billing.pk, "kind": "regex", "pattern": "refund"},
                    format="json").json()
    changed = api.patch(f"/api/projects/alpha/rules/{rule['id']}/", {"pattern": "(refund)?"}, format="json")
    assert changed.status_code == 400 and WHY in changed.json()["pattern"][0]
    assert Rule.objects.get().pattern == "refund"


def test_rules_page_and_admin_refuse_it_on_the_pattern_field(world):
    billing = world["alpha"].labels.get(name="billing")
    page = Client()
    page.force_login(world["lead"])
    r = page.post("/p/alpha/settings/rules/", {"label": billing.pk, "kind": "regex", "pattern": "q*", "enabled": "on"})
    assert r.status_code == 200 and WHY in r.content.decode()
    admin = Client()
    admin.force_login(world["admin"])
    r = admin.post("/admin/projects/rule/add/", {"project": world["alpha"].pk, "label": billing.pk, "kind": "regex",
                                                 "pattern": "(refund)?", "enabled": "on"})
    assert r.status_code == 200 and WHY in r.content.decode()
    assert not Rule.objects.exists()
