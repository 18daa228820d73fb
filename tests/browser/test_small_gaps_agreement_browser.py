"""The dashboard prints raw agreement below MIN_N pairs as "—" with the pair count, in Chromium."""
import pytest

from tests.test_small_gaps_agreement import add_pairs, two_levels  # noqa: F401  (fixture)


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_prints_a_dash_with_the_count_below_min_n_pairs(page, login, two_levels):  # noqa: F811
    project, lead, ann, bob, reset, pay = two_levels
    add_pairs(project, ann, bob, [(reset, reset), (pay, pay), (pay, reset)])
    login(page, "lea")
    page.goto("/p/raw/dashboard/")
    page.wait_for_selector("#dashboard[data-ready]")
    shown = dict(zip(page.locator("#agreement dt").all_inner_texts(), page.locator("#agreement dd").all_inner_texts(),
                     strict=True))
    assert shown["raw agreement"] == "— (3 pairs: fewer than 5)", shown
    assert shown["raw agreement coarse"] == "— (3 pairs: fewer than 5)", shown
    assert shown["pairs"] == "3", shown
