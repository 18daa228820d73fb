"""The dashboard reads the active model's pool scores of labeled items (a second's reads and votes
at 30,000 labeled items, bench/results/page_costs.json) only for a chart its training report
lacks: a current report carries its PR curves and reliability bins, and those charts show them."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling.modeling.models import ItemScore
from labeling.projects import dashboard

from .test_dashboard import scored  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
SCORES_TABLE = ItemScore._meta.db_table


def score_reads(captured) -> list[str]:
    """The statements that read stored probabilities (only the pool-score charts need them)."""
    return [q["sql"] for q in captured.captured_queries if f'"{SCORES_TABLE}"."probs"' in q["sql"]]


def test_the_pool_scores_are_read_only_for_a_chart_the_report_lacks(scored):  # noqa: F811
    with CaptureQueriesContext(connection) as captured:
        data = dashboard.dashboard_data(scored["project"])
    assert data["pr_curves"]["source"].startswith("held-out validation")
    assert data["reliability"]["source"].startswith("held-out validation")
    assert score_reads(captured) == []

    v2 = scored["v2"]  # a report without its reliability bins: that chart comes from the pool scores
    v2.metrics = {**v2.metrics, "validation": {k: v for k, v in scored["report"].items() if k != "reliability"}}
    v2.save()
    with CaptureQueriesContext(connection) as captured:
        data = dashboard.dashboard_data(scored["project"])
    assert data["pr_curves"]["source"].startswith("held-out validation")
    assert data["reliability"]["source"].startswith("pool scores")
    assert sum(b["count"] for b in data["reliability"]["bins"]) == 60  # every labeled item's score
    assert len(score_reads(captured)) == 1
