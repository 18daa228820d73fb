"""Cohen's κ comes with its 95 % interval (bootstrap over double-labeled pairs) on the agreement
API, the dashboard's panel and the review page: κ 0.62 from 12 pairs and from 1,200 pairs are not
the same news. The interval must cover the population κ of two simulated raters about 95 % of
the time; the population κ is worked out from the simulation's own probabilities, not by the
code under test."""

import numpy as np
import pytest
from rest_framework.test import APIClient

from labeling.annotations.agreement import kappa_interval
from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.models import Label, Membership
from learner.text import text_hash

from .test_annotation_helpers import add_member

PREVALENCE = np.array([0.5, 0.2, 0.15, 0.1, 0.05])


def population_kappa(accuracy: float) -> float:
    """Each rater gives the true label with probability ``accuracy``, else a uniform label (the
    true one included): P(answer j | truth t) = accuracy·[j = t] + (1 − accuracy)/K."""
    k = len(PREVALENCE)
    answer_given_truth = accuracy * np.eye(k) + (1 - accuracy) / k
    joint = answer_given_truth.T @ np.diag(PREVALENCE) @ answer_given_truth  # raters independent given truth
    observed = np.trace(joint)
    marginal = joint.sum(axis=1)
    chance = float(marginal @ marginal)
    return (observed - chance) / (1 - chance)


def simulated_pairs(rng, n: int, accuracy: float) -> list[tuple[int, int]]:
    k = len(PREVALENCE)
    truth = rng.choice(k, size=n, p=PREVALENCE)

    def rater():
        right = rng.random(n) < accuracy
        return np.where(right, truth, rng.integers(0, k, size=n))

    return list(zip(rater().tolist(), rater().tolist(), strict=True))


@pytest.mark.parametrize(("n", "accuracy"), [(40, 0.8), (150, 0.6)])
def test_the_interval_covers_the_population_kappa_about_95_percent_of_the_time(n, accuracy):
    truth = population_kappa(accuracy)
    rng = np.random.default_rng(7)
    runs, covered, widths = 300, 0, []
    for _ in range(runs):
        low, high = kappa_interval(simulated_pairs(rng, n, accuracy), resamples=1000)
        covered += low <= truth <= high
        widths.append(high - low)
    share = covered / runs
    # 3 standard errors of a 95 % share over 300 runs is about ±0.038
    assert 0.91 <= share <= 0.99, (share, truth)
    assert np.mean(widths) > 0.05  # an interval, not a point


def test_no_interval_below_five_pairs_nor_where_kappa_is_undefined():
    assert kappa_interval([(1, 1), (2, 2), (1, 2), (2, 1)]) is None
    assert kappa_interval([("a", "a")] * 30) is None  # one label only: κ undefined everywhere
    # every pair agrees: κ = 1, but 10 pairs cannot rule out much lower (no "[1.000, 1.000]")
    low, high = kappa_interval([("a", "a")] * 5 + [("b", "b")] * 5)
    assert high == 1.0 and 0.2 < low < 0.8
    low_more, _ = kappa_interval([("a", "a")] * 100 + [("b", "b")] * 100)
    assert low < low_more < 1.0
    # more pairs, narrower: the same agreement pattern repeated
    few = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "c"), ("c", "a"), ("b", "b")]
    low_few, high_few = kappa_interval(few * 2)
    low_many, high_many = kappa_interval(few * 50)
    assert high_many - low_many < (high_few - low_few) / 3


@pytest.mark.django_db
def test_the_api_dashboard_and_review_page_show_kappa_with_its_interval(project_factory, make_user):
    project = project_factory("kci", labels=())
    account = Label.objects.create(project=project, name="Account")
    reset = Label.objects.create(project=project, name="Reset", parent=account)
    pay = Label.objects.create(project=project, name="Payments")
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    ann, bob = make_user("ann"), make_user("bob")
    plan = [(reset, reset)] * 6 + [(pay, pay)] * 5 + [(reset, pay), (pay, account), (account, account)]
    for a, b in plan:
        text = f"item {Item.objects.count()}"
        item = Item.objects.create(project=project, text=text, text_hash=text_hash(text))
        Annotation.objects.create(project=project, item=item, label=a, annotator=ann)
        Annotation.objects.create(project=project, item=item, label=b, annotator=bob)
    api = APIClient()
    api.force_login(lead)
    summary = api.get("/api/projects/kci/agreement/").json()
    low, high = summary["kappa_ci"]
    assert low < summary["kappa"] < high <= 1.0 and high - low > 0.1
    c_low, c_high = summary["kappa_coarse_ci"]
    assert c_low < summary["kappa_coarse"] <= c_high
    panel = api.get("/api/projects/kci/dashboard/").json()["agreement"]
    assert panel["kappa_ci"] == [low, high]
    page = api.get("/p/kci/review/").content.decode()
    assert f'<span class="muted" id="kappa-ci">(95 % interval {low:.3f} to {high:.3f})</span>' in page

    Annotation.objects.filter(project=project).delete()
    for item, (a, b) in zip(Item.objects.filter(project=project)[:4], plan[-4:], strict=True):
        Annotation.objects.create(project=project, item=item, label=a, annotator=ann)
        Annotation.objects.create(project=project, item=item, label=b, annotator=bob)
    summary = api.get("/api/projects/kci/agreement/").json()  # four pairs: no κ, and no interval either
    assert summary["pairs"] == 4 and summary["kappa"] is None and summary["kappa_ci"] is None
