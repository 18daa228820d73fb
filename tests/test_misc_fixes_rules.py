"""Regex rules: RE2 decides what is valid. Unicode classes followed by a repeat ("\\p{Greek}+",
"\\p{L}+") and classes holding repeat characters ("[*+]") are valid RE2 and are accepted; a real
possessive repeat ("a++", "a{2}+", which RE2 refuses) is still refused with the construct named."""
import pytest
from rest_framework.test import APIClient

from learner.rules import compile_rule
from learner.text import text_hash

VALID = [r"\p{Greek}+", r"\p{L}+", r"\pL+", r"\P{Greek}*", r"[*+]", r"[(?=]x", r"\}+"]
POSSESSIVE = [r"a++", r"a*+", r"a?+", r"a{2}+", r"a{2,3}+", r"\p{L}++"]


@pytest.mark.parametrize("pattern", VALID)
def test_valid_re2_patterns_compile(pattern):
    assert compile_rule("regex", pattern) is not None


def test_unicode_class_rules_match_what_they_say():
    assert compile_rule("regex", r"\p{Greek}+").search("price in ΔΡΧ")
    assert not compile_rule("regex", r"\p{Greek}+").search("plain ascii")
    assert compile_rule("regex", r"[*+]").search("5 * 3")


@pytest.mark.parametrize("pattern", POSSESSIVE)
def test_possessive_repeats_are_still_refused_by_name(pattern):
    with pytest.raises(ValueError, match="possessive repeat") as err:
        compile_rule("regex", pattern)
    assert "RE2" in str(err.value)


def test_a_repeat_of_a_repeat_that_is_not_possessive_gets_re2_s_reason():
    with pytest.raises(ValueError, match=r"invalid regular expression: bad repetition operator: \{2\}\*"):
        compile_rule("regex", r"x{2}*")


@pytest.fixture
def lead_client(world):
    from labeling.items.models import Item

    alpha = world["alpha"]
    source = alpha.sources.first()
    for text in ["Ο λογαριασμός μου", "my account", "ΑΒΓ again"]:
        Item.objects.create(project=alpha, source=source, text=text, text_hash=text_hash(text))
    client = APIClient()
    client.force_authenticate(world["lead"])
    return client


def test_preview_and_rule_api_accept_a_unicode_class(lead_client, world):
    url = "/api/projects/alpha/rules/"
    for pattern in [r"\p{Greek}+", r"\p{L}+"]:
        r = lead_client.post(url + "preview/", {"kind": "regex", "pattern": pattern}, format="json")
        assert r.status_code == 200, r.json()
    greek = lead_client.post(url + "preview/", {"kind": "regex", "pattern": r"\p{Greek}+"}, format="json")
    assert greek.json()["matches"] == 2
    made = lead_client.post(url, {"label": world["alpha"].labels.get(name="fraud").pk, "kind": "regex",
                                  "pattern": r"\p{Greek}+"}, format="json")
    assert made.status_code == 201, made.json()
    bad = lead_client.post(url + "preview/", {"kind": "regex", "pattern": "a{2}+"}, format="json")
    assert bad.status_code == 400 and "possessive repeat" in str(bad.json())
