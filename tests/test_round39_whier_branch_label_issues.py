"""learner.label_issues.find_label_issues with ``branches`` (a two-level taxonomy's columns that
agree with a given label): an answer right at its level is not a label issue, a real mislabel still is.

Columns: account (a coarse label whose class holds the items answered at the coarse level only),
billing, fraud, login (fraud and login under account)."""
import numpy as np
import pytest

from learner.label_issues import find_label_issues

CLASSES = ["account", "billing", "fraud", "login"]
BRANCHES = {0: [2, 3], 2: [0], 3: [0]}  # account ↔ its fine labels; billing is beside the tree


def _rows(spec):
    y, proba, kinds = [], [], []
    for kind, (given, row, n) in spec.items():
        for i in range(n):
            jitter = np.array(row) + 0.01 * ((i % 5) - 2) * np.array([1, -1, 0, 0])  # rows differ a little
            y.append(given)
            proba.append(jitter / jitter.sum())
            kinds.append(kind)
    return np.array(y), np.array(proba), np.array(kinds)


SPEC = {
    "login": (3, [0.05, 0.05, 0.05, 0.85], 20),
    "fraud": (2, [0.05, 0.05, 0.85, 0.05], 20),
    "billing": (1, [0.06, 0.80, 0.07, 0.07], 30),
    # answered "account" only, and they are login items: right at the coarse level
    "coarse_right": (0, [0.07, 0.05, 0.03, 0.85], 10),
    # answered "account", but the models put them in billing: real mislabels
    "coarse_wrong": (0, [0.05, 0.85, 0.05, 0.05], 3),
    # answered "login"; the class of its coarse label holds the most: no mislabel either
    "fine_under_parent": (3, [0.60, 0.05, 0.05, 0.30], 2),
    # billing items answered "login": real mislabels
    "fine_wrong": (3, [0.05, 0.85, 0.05, 0.05], 3),
}


def test_answers_right_at_their_level_are_not_flagged_and_real_mislabels_are():
    y, proba, kinds = _rows(SPEC)
    flat = {kinds[i["index"]] for i in find_label_issues(y, proba, CLASSES)}
    assert "coarse_right" in flat  # what flat classes make of a coarse answer: its own column is low
    issues = find_label_issues(y, proba, CLASSES, branches=BRANCHES)
    found = [kinds[i["index"]] for i in issues]
    assert sorted(set(found)) == ["coarse_wrong", "fine_wrong"], found
    assert found.count("coarse_wrong") == 3 and found.count("fine_wrong") == 3
    for issue in issues:
        assert issue["suggested_label"] == "billing"
        if kinds[issue["index"]] == "coarse_wrong":
            # the score is the branch's (account + fraud + login), not the account column alone
            assert issue["self_confidence"] == pytest.approx(proba[issue["index"], [0, 2, 3]].sum())
            assert "its branch" in issue["reason"]
    scores = [i["self_confidence"] for i in issues]
    assert scores == sorted(scores)


def test_a_suggestion_never_lies_in_the_given_labels_own_branch():
    y, proba, kinds = _rows(SPEC)
    for issue in find_label_issues(y, proba, CLASSES, branches=BRANCHES, filter_by="predicted_neq_given"):
        given = CLASSES.index(issue["given_label"])
        assert CLASSES.index(issue["suggested_label"]) not in BRANCHES.get(given, []), issue


def test_max_issues_counts_the_issues_left_after_the_branch_check():
    y, proba, _ = _rows(SPEC)
    assert len(find_label_issues(y, proba, CLASSES, branches=BRANCHES, max_issues=4)) == 4


@pytest.mark.parametrize("branches, message", [({0: [7]}, r"branches\[0\] names 7"),
                                               ({9: [0]}, r"branches\[9\] names 9"),
                                               ({0: ["login"]}, r"branches\[0\] names 'login'")])
def test_a_bad_branch_column_is_named(branches, message):
    y, proba, _ = _rows(SPEC)
    with pytest.raises(ValueError, match=message):
        find_label_issues(y, proba, CLASSES, branches=branches)
