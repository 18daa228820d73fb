"""Lead rules run on RE2: a pattern that makes a backtracking engine run for minutes, such as
``(?:[\\w\\s]+)+!`` against a long text without "!", answers at once in the rules preview (page's
API) and in planning; syntax RE2 lacks (lookarounds, backreferences) is refused with a message
naming the pattern and the construct; rule matching also stops at its time budget and says so."""
import time

import numpy as np
import pytest
from rest_framework.test import APIClient

from learner.rules import MatchReport, compile_rule, match_rules
from learner.text import text_hash
from tests.test_loop_helpers import DIM, build_project, unit

EVIL = r"(?:[\w\s]+)+!"
LONG = "word " * 4000  # 20,000 characters and no "!": exponential for a backtracking engine


def test_compile_refuses_what_re2_lacks_with_a_clear_message():
    for pattern, named in [(r"card(?= stolen)", "lookahead"), (r"(?<!not )stolen", "lookbehind"),
                           (r"(\w+) \1", "backreference"), (r"(?>ab)", "atomic group"), (r"a++", "possessive")]:
        with pytest.raises(ValueError) as err:
            compile_rule("regex", pattern)
        assert named in str(err.value) and "RE2" in str(err.value), (pattern, str(err.value))
    with pytest.raises(ValueError, match="invalid regular expression: missing \\)"):
        compile_rule("regex", "(unclosed")
    # Keyword rules stay whole-word and case-insensitive, Unicode letters included.
    card = compile_rule("keyword", "card")
    assert card.search("My CARD!") and not card.search("cardigan") and not card.search("écard")
    assert compile_rule("keyword", "café").search("Un CAFÉ noir")


def test_match_rules_is_linear_and_keeps_to_its_budget():
    matcher = compile_rule("regex", EVIL)
    t = time.perf_counter()
    assert match_rules([("fraud", matcher)], [LONG] * 20, {"fraud": 0}) == {}
    assert time.perf_counter() - t < 1.0
    report = MatchReport()
    many = ["x card y"] * 200_000
    out = match_rules([("fraud", compile_rule("keyword", "card"))], many, {"fraud": 0}, budget_s=0.0, report=report)
    assert report.partial and report.scanned < len(many) and "time budget" in report.message()
    assert len(out.get(0, [])) == report.scanned


@pytest.fixture
def lead_client(world):
    from labeling.items.models import Item

    alpha = world["alpha"]
    source = alpha.sources.first()
    for text in [LONG, "card stolen!", "login broken"]:
        Item.objects.create(project=alpha, source=source, text=text, text_hash=text_hash(text))
    client = APIClient()
    client.force_authenticate(world["lead"])
    return client


def test_preview_api_answers_fast_and_refuses_lookahead(lead_client, world):
    t = time.perf_counter()
    r = lead_client.post("/api/projects/alpha/rules/preview/", {"kind": "regex", "pattern": EVIL}, format="json")
    assert time.perf_counter() - t < 2.0
    assert r.status_code == 200 and r.json()["scanned"] == 3 and r.json()["matches"] == 1
    assert r.json()["partial"] is False
    bad = lead_client.post("/api/projects/alpha/rules/preview/", {"kind": "regex", "pattern": "card(?= stolen)"},
                           format="json")
    assert bad.status_code == 400
    assert "card(?= stolen)" in str(bad.json()) and "lookahead" in str(bad.json())
    made = lead_client.post("/api/projects/alpha/rules/", {"label": world["alpha"].labels.get(name="fraud").pk, "kind": "regex", "pattern": "(a)\\1"},
                            format="json")
    assert made.status_code == 400 and "backreference" in str(made.json())


def test_preview_stops_at_its_time_budget(lead_client, settings):
    settings.LONGTAIL_RULE_TIME_BUDGET_SECONDS = 0
    r = lead_client.post("/api/projects/alpha/rules/preview/", {"kind": "keyword", "pattern": "card"}, format="json")
    assert r.status_code == 200 and r.json()["partial"] is True
    assert r.json()["scanned"] < 3 and "time budget" in r.json()["message"]


def test_rules_page_refuses_lookahead_with_the_pattern_named(client, world):
    from django.urls import reverse

    from labeling.projects.models import Rule

    client.force_login(world["lead"])
    label = world["alpha"].labels.get(name="fraud")
    url = reverse("project-rules", kwargs={"slug": "alpha"})
    page = client.post(url, {"label": label.pk, "kind": "regex", "pattern": "stolen(?! card)", "enabled": "on"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "stolen(?! card)" in html and "negative lookahead" in html
    assert not Rule.objects.exists()
    ok = client.post(url, {"label": label.pk, "kind": "regex", "pattern": EVIL, "enabled": "on"})
    assert ok.status_code == 302 and Rule.objects.filter(pattern=EVIL).exists()


def test_planning_with_a_catastrophic_rule_is_fast(project_factory, settings):
    from django.conf import settings as conf

    from labeling.items.models import Item
    from labeling.modeling.models import Embedding
    from labeling.projects.models import Rule
    from labeling.waves import services as waves

    project, _ = build_project(project_factory, slug="evil", n_items=200, n_labeled=0, wave_size=20)
    source = project.sources.first()
    rng = np.random.default_rng(1)
    for i, vec in enumerate(unit(rng, 30, DIM)):
        text = "".join(chr(97 + int(d)) for d in f"{i:02d}") + " " + LONG
        Item.objects.create(project=project, source=source, text=text, text_hash=text_hash(text))
        Embedding.objects.create(model_id=conf.LONGTAIL_MODEL_ID, text_hash=text_hash(text), vector=vec.tobytes())
    Rule.objects.create(project=project, label=project.labels.get(name="fraud"), kind="regex", pattern=EVIL)
    t = time.perf_counter()
    wave = waves.plan_next_wave(project)
    assert time.perf_counter() - t < 10.0
    assert wave.size == 20 and "rules_partial" not in wave.report["timings"]
    settings.LONGTAIL_RULE_TIME_BUDGET_SECONDS = 0
    waves.close_wave(wave)  # a project keeps one planned wave: closing it before it opened discards it
    second = waves.plan_next_wave(project)
    assert "time budget" in second.report["timings"]["rules_partial"]
