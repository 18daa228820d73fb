"""Raw inter-annotator agreement follows the pages' one small-n rule (``learner.estimates.MIN_N``,
as κ, AP and the reliability bins do): below 5 pairs it is None in the API and "—" with the count
on the dashboard and the review page, never "75 %" from four pairs."""

import pytest
from rest_framework.test import APIClient

from labeling.annotations import selectors
from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.models import Label, Membership
from learner.estimates import MIN_N
from learner.text import text_hash

from .test_annotation_helpers import add_member

CHROMIUM = "/usr/bin/chromium"


def add_pairs(project, ann, bob, plan):
    """One item per (ann's label, bob's label), both answers by annotators."""
    for a, b in plan:
        text = f"item {Item.objects.count()}"
        item = Item.objects.create(project=project, text=text, text_hash=text_hash(text))
        Annotation.objects.create(project=project, item=item, label=a, annotator=ann)
        Annotation.objects.create(project=project, item=item, label=b, annotator=bob)


@pytest.fixture
def two_levels(project_factory, make_user):
    project = project_factory("raw", labels=())
    account = Label.objects.create(project=project, name="Account")
    reset = Label.objects.create(project=project, name="Reset", parent=account)
    pay = Label.objects.create(project=project, name="Payments")
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    return project, lead, make_user("ann"), make_user("bob"), reset, pay


@pytest.mark.django_db
def test_raw_agreement_is_shown_from_min_n_pairs_on_in_the_api_dashboard_and_review_page(two_levels):
    project, lead, ann, bob, reset, pay = two_levels
    api = APIClient()
    api.force_login(lead)
    assert MIN_N == 5
    # four pairs, three agree: 75 % (coarse: the same three) was shown before
    add_pairs(project, ann, bob, [(reset, reset), (pay, pay), (pay, reset), (reset, reset)])
    raw = api.get("/api/projects/raw/agreement/").json()
    assert raw["pairs"] == 4 and raw["raw_agreement"] is None and raw["raw_agreement_coarse"] is None
    panel = api.get("/api/projects/raw/dashboard/").json()["agreement"]
    assert panel["raw_agreement"] is None and panel["raw_agreement_reason"] == "4 pairs: fewer than 5"
    assert panel["raw_agreement_coarse"] is None and panel["raw_agreement_coarse_reason"] == "4 pairs: fewer than 5"
    page = api.get("/p/raw/review/").content.decode()
    assert '<strong id="raw-agreement">—</strong> <span class="muted">(4 pairs: fewer than 5)</span>' in page
    assert "75%" not in page

    add_pairs(project, ann, bob, [(pay, pay)])  # the fifth pair: four of five agree
    raw = api.get("/api/projects/raw/agreement/").json()
    assert raw["pairs"] == 5 and raw["raw_agreement"] == 0.8 and raw["raw_agreement_coarse"] == 0.8
    panel = api.get("/api/projects/raw/dashboard/").json()["agreement"]
    assert (panel["raw_agreement"], panel["raw_agreement_reason"]) == (0.8, None)
    assert (panel["raw_agreement_coarse"], panel["raw_agreement_coarse_reason"]) == (0.8, None)
    page = api.get("/p/raw/review/").content.decode()
    assert '<strong id="raw-agreement">80%</strong>\n' in page


@pytest.mark.django_db
def test_a_flat_taxonomy_has_no_coarse_reason(project_factory, make_user):
    project = project_factory("flat", labels=("billing", "login"))
    billing, login = (project.labels.get(name=n) for n in ("billing", "login"))
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    add_pairs(project, make_user("ann"), make_user("bob"), [(billing, billing)])
    api = APIClient()
    api.force_login(lead)
    panel = api.get("/api/projects/flat/dashboard/").json()["agreement"]
    assert panel["raw_agreement"] is None and panel["raw_agreement_reason"] == "1 pair: fewer than 5"
    assert panel["raw_agreement_coarse"] is None and panel["raw_agreement_coarse_reason"] is None


def test_each_annotators_agreement_with_others_follows_the_same_rule(two_levels):
    project, lead, ann, bob, reset, pay = two_levels
    add_pairs(project, ann, bob, [(reset, reset), (pay, pay), (pay, reset), (reset, reset)])
    rows = {row["username"]: row for row in selectors.annotator_throughput(project)}
    assert rows["ann"]["double_labeled"] == 4 and rows["ann"]["agreement_with_others"] is None  # 3 of 4
    add_pairs(project, ann, bob, [(pay, pay)])
    rows = {row["username"]: row for row in selectors.annotator_throughput(project)}
    assert rows["ann"]["double_labeled"] == 5 and rows["ann"]["agreement_with_others"] == 0.8
    assert rows["bob"]["agreement_with_others"] == 0.8
