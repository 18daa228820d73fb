"""The reason a precision + recall target is infeasible quotes the recall lower bound that failed.
Rounded to three places, a bound of 0.4996 reads "lower bound 0.500 < the recall target 0.5": the lead
sees a bound equal to the target called short of it, on the dashboard's "why" and in the API's
met_reason."""
import re

import numpy as np

from learner.thresholds import cross_fit_thresholds


def _rows():
    # label "a": 45 true rows; 28 of them predicted with top scores, then 30 rows of "b" predicted as
    # "a", then the other 17 true rows of "a". Only the cut after the first 28 keeps precision high.
    scores_a = np.r_[np.linspace(0.99, 0.90, 28), np.linspace(0.85, 0.70, 30), np.linspace(0.65, 0.55, 17)]
    y = np.r_[np.zeros(28, int), np.ones(30, int), np.zeros(17, int), np.ones(60, int)]
    p_a = np.r_[scores_a, np.full(60, 0.1)]
    proba = np.c_[p_a, 1 - p_a]
    return proba, y


def test_the_reason_never_calls_a_bound_that_reads_as_the_target_short_of_it():
    proba, y = _rows()
    _, table = cross_fit_thresholds(proba, y, ["a", "b"], {"a": {"precision": 0.8, "recall": 0.5}},
                                    folds=np.arange(len(y)) % 2)
    row = table[0]
    assert row["feasible"] is False, row
    assert "the precision target wins" in row["reason"], row["reason"]
    quoted = re.search(r"lower bound ([0-9.]+)\) < the recall target ([0-9.]+)", row["reason"])
    assert quoted, row["reason"]
    bound, target = (float(v) for v in quoted.groups())
    # the text must show the shortfall it asserts
    assert bound < target, row["reason"]
