"""Keyword rules match the text folded as the item search folds it (learner.text_fold: NFKC,
accents dropped, invisible characters removed): what the search finds, the rule preview counts,
planning's rule strategy picks and the annotation page highlights, on the raw characters."""
import pytest

from labeling.annotations import context
from labeling.items import browse, invisible
from labeling.items.models import Item
from labeling.projects.models import Membership, Rule
from labeling.waves import pool
from learner import text_fold
from learner.rules import compile_rule, match_rules
from learner.text import text_hash
from tests.test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db

TEXTS = ["please reset my password", "please reset my pass\u200bword",  # zero-width space inside
         "le café est fermé", "le cafe\u0301 est fermé",  # precomposed vs. combining accent
         "ｒｅｆｕｎｄ please", "refund please"]  # fullwidth vs. ASCII


def test_one_fold_for_search_and_rules():
    assert browse.search_form is text_fold.search_form
    # the search columns' SQL removes labeling.items.invisible.INVISIBLE: the fold must remove the same
    assert text_fold.INVISIBLE.pattern == invisible.INVISIBLE.pattern


def test_rule_preview_counts_what_search_finds(world):
    alpha = world["alpha"]
    for text in TEXTS:
        Item.objects.create(project=alpha, source=alpha.sources.first(), text=text, text_hash=text_hash(text))
    api = api_as(world["lead"])
    for word in ["password", "café", "cafe\u0301", "refund", "ｒｅｆｕｎｄ", "pass\u200bword"]:
        found = api.get("/api/projects/alpha/items/", {"q": word, "count": "true"}).json()["count"]
        preview = api.post("/api/projects/alpha/rules/preview/", {"kind": "keyword", "pattern": word},
                           format="json").json()["matches"]
        assert (word, found, preview) == (word, 2, 2)
    # "word" alone is no longer a whole word in "pass\u200bword" (the search does not find it either)
    preview = api.post("/api/projects/alpha/rules/preview/", {"kind": "keyword", "pattern": "word"}, format="json")
    assert preview.json()["matches"] == 0


def test_a_keyword_of_only_invisible_characters_is_refused(world):
    billing = world["alpha"].labels.get(name="billing")
    r = api_as(world["lead"]).post("/api/projects/alpha/rules/", {"label": billing.pk, "kind": "keyword",
                                                                  "pattern": "\u200b\u200d"}, format="json")
    assert r.status_code == 400 and "no visible characters" in r.json()["pattern"][0]


def test_highlights_cover_the_raw_characters(world):
    alpha = world["alpha"]
    for label, word in [("billing", "refund"), ("login", "password"), ("fraud", "café")]:
        Rule.objects.create(project=alpha, label=alpha.labels.get(name=label), kind="keyword", pattern=word)
    rules = context._rules(alpha)
    text = "pass\u200bword? ｒｅｆｕｎｄ at le cafe\u0301!"
    spans = context.highlights(text, rules)
    assert [(text[a:b], name) for a, b, name in spans] == [
        ("pass\u200bword", "login"), ("ｒｅｆｕｎｄ", "billing"), ("cafe\u0301", "fraud")]


def test_lease_highlights_and_the_rule_strategy_use_the_fold(project_factory, make_user):
    project = project_factory("fold")
    ann = add_member(make_user, project, "ann")
    add_member(make_user, project, "lena", role=Membership.LEAD)
    make_open_wave(project, 2, texts=["my pass\u200bword is gone", "nothing here"], shuffle=False)
    Rule.objects.create(project=project, label=project.labels.get(name="login"), kind="keyword", pattern="password")
    items = api_as(ann).post("/api/projects/fold/batches/", {}, format="json").json()["items"]
    by_text = {item["text"]: item["highlights"] for item in items}
    assert by_text == {"my pass\u200bword is gone": [[3, 12, "login"]], "nothing here": []}
    # planning matches the pool's texts with the project's rules the same way (waves.pool)
    rows = match_rules(pool._compiled_rules(project), ["nothing", "my pass\u200bword is gone", "ｐａｓｓｗｏｒｄ"],
                       {"login": 0})
    assert rows[0].tolist() == [1, 2]


def test_regex_rules_match_the_raw_text():
    # documented: a regular expression means the characters it spells
    assert compile_rule("regex", "password").search("pass\u200bword") is None
    assert compile_rule("regex", "pass\u200bword").search("pass\u200bword")
