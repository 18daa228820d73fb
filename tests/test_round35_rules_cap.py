"""A lead's regex cannot freeze a server: a pattern whose RE2 program is over
LONGTAIL_RULE_MAX_PROGRAM_SIZE is refused where rules are saved (API, rules page, admin) and
previewed, naming the pattern field; and highlighting a batch stops at
LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS, so a slow rule stored earlier (or under a raised cap) cannot
make a lease or the annotation page take seconds per item."""
import time

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from labeling.projects.models import Membership, Rule
from tests.test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db

FREEZE = ".{0,1000}.{0,1000}.{0,1000}z"  # an RE2 program of 27,005 instructions (asserted below)
WORDS = ["refund", "chargeback", "invoice", "receipt", "overcharged", "billing", "payment", "declined",
         "subscription", "renewal", "cancel", "credit", "debit", "statement", "balance", "fee", "charge",
         "paypal", "iban", "swift", "wire", "transfer", "voucher", "coupon", "discount", "promo", "vat",
         "tax", "price", "cost", "quote", "estimate", "bill", "dunning", "overdue", "late", "penalty",
         "installment", "deposit", "escrow", "payout", "payroll", "salary", "bonus", "tip", "cashback",
         "rebate", "surcharge", "premium", "tariff"]


def _lead_and_label(world):
    return world["lead"], world["alpha"].labels.get(name="billing")


def test_api_refuses_a_regex_over_the_program_size_cap(world):
    lead, billing = _lead_and_label(world)
    api = api_as(lead)
    r = api.post("/api/projects/alpha/rules/", {"label": billing.pk, "kind": "regex", "pattern": FREEZE}, format="json")
    assert r.status_code == 400, r.content
    message = r.json()["pattern"][0]
    assert "27,005" in message and "LONGTAIL_RULE_MAX_PROGRAM_SIZE" in message and FREEZE in message
    assert not Rule.objects.exists()
    preview = api.post("/api/projects/alpha/rules/preview/", {"kind": "regex", "pattern": FREEZE}, format="json")
    assert preview.status_code == 400 and "27,005" in preview.json()["pattern"][0]
    # an existing rule cannot be changed into one either
    rule = api.post("/api/projects/alpha/rules/", {"label": billing.pk, "kind": "regex", "pattern": "refund"},
                    format="json").json()
    r = api.patch(f"/api/projects/alpha/rules/{rule['id']}/", {"pattern": FREEZE}, format="json")
    assert r.status_code == 400 and "LONGTAIL_RULE_MAX_PROGRAM_SIZE" in r.json()["pattern"][0]
    assert Rule.objects.get().pattern == "refund"


def test_the_cap_is_a_setting(world, settings):
    lead, billing = _lead_and_label(world)
    settings.LONGTAIL_RULE_MAX_PROGRAM_SIZE = 20
    r = api_as(lead).post("/api/projects/alpha/rules/", {"label": billing.pk, "kind": "regex",
                                                         "pattern": r"[\w.+-]+@[\w-]+\.[\w.]+"}, format="json")
    assert r.status_code == 400 and "over the limit of 20" in r.json()["pattern"][0]


def test_ordinary_patterns_still_save(world):
    lead, billing = _lead_and_label(world)
    api = api_as(lead)
    alternation = r"\b(?:" + "|".join(WORDS) + r")\b"
    assert len(WORDS) == 50 and len(alternation) <= 500
    for kind, pattern in [("regex", alternation), ("regex", "refund.{0,200}account"),
                          ("regex", r"\d{1,2}/\d{1,2}/\d{2,4}"), ("regex", r"[\w.+-]+@[\w-]+\.[\w.]+"),
                          ("regex", r"\b\p{Lu}\p{Ll}{2,}\b"), ("keyword", " ".join(WORDS * 2)[:500])]:
        r = api.post("/api/projects/alpha/rules/", {"label": billing.pk, "kind": kind, "pattern": pattern},
                     format="json")
        assert r.status_code == 201, (pattern, r.content)


def test_rules_page_and_admin_refuse_it_on_the_pattern_field(world):
    lead, billing = _lead_and_label(world)
    page = Client()
    page.force_login(lead)
    r = page.post("/p/alpha/settings/rules/", {"label": billing.pk, "kind": "regex", "pattern": FREEZE, "enabled": "on"})
    assert r.status_code == 200
    assert "over the limit of 5,000 (LONGTAIL_RULE_MAX_PROGRAM_SIZE)" in r.content.decode()
    admin = Client()
    admin.force_login(world["admin"])
    r = admin.post("/admin/projects/rule/add/", {"project": world["alpha"].pk, "label": billing.pk, "kind": "regex",
                                                 "pattern": FREEZE, "enabled": "on"})
    assert r.status_code == 200 and "LONGTAIL_RULE_MAX_PROGRAM_SIZE" in r.content.decode()
    assert not Rule.objects.exists()
    with pytest.raises(ValidationError) as refused:
        Rule(project=world["alpha"], label=billing, kind="regex", pattern=FREEZE).full_clean()
    assert "pattern" in refused.value.message_dict


def _slow_project(project_factory, make_user, n_texts):
    project = project_factory("slow")
    project.batch_size = n_texts
    project.save()
    ann = add_member(make_user, project, "ann")
    add_member(make_user, project, "lena", role=Membership.LEAD)
    texts = [(f"lorem ipsum dolor sit amet {i} " * 800)[:20000] for i in range(n_texts)]
    make_open_wave(project, n_texts, texts=texts)
    # stored before the cap existed (or under a raised one): no validation on this path
    Rule.objects.create(project=project, label=project.labels.get(name="billing"), kind="regex", pattern=FREEZE)
    Rule.objects.create(project=project, label=project.labels.get(name="login"), kind="keyword", pattern="lorem")
    return project, ann


def test_a_slow_stored_rule_cannot_stall_a_batch_lease(project_factory, make_user, settings):
    settings.LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS = 0.1
    project, ann = _slow_project(project_factory, make_user, 12)
    started = time.monotonic()
    r = api_as(ann).post("/api/projects/slow/batches/", {}, format="json")
    took = time.monotonic() - started
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 12
    assert took < 3, f"one batch lease took {took:.1f} s"  # the old code ran past this bound
    cut = [item for item in items if item["highlights_cut"]]
    assert len(cut) >= 11, [item["highlights_cut"] for item in items]
    assert all(item["highlights"] == [] for item in cut[1:])
    assert "cut short" in cut[0]["highlights_note"] and "LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS" in cut[0]["highlights_note"]
    # the page highlights the held batch again on every load: bounded the same way
    page = Client()
    page.force_login(ann)
    started = time.monotonic()
    body = page.get("/p/slow/annotate/").content.decode()
    assert time.monotonic() - started < 3
    assert '"highlights_cut": true' in body


def test_within_the_budget_nothing_is_cut(project_factory, make_user, settings):
    project, ann = _slow_project(project_factory, make_user, 2)
    Rule.objects.filter(kind="regex").delete()
    r = api_as(ann).post("/api/projects/slow/batches/", {}, format="json")
    items = r.json()["items"]
    assert [item["highlights_cut"] for item in items] == [False, False]
    assert all(item["highlights_note"] == "" and item["highlights"][0][2] == "login" for item in items)
