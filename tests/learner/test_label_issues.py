"""Label issues on synthetic data where the flipped labels are known."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from learner.label_issues import find_label_issues
from tests.learner.helpers import clusters

COUNTS = [400, 300, 200, 150, 100, 80, 60, 40]


def noisy_data(spread, flip_share, seed):
    X, y, _ = clusters(COUNTS, dim=16, spread=spread, seed=seed)
    classes = sorted(set(y))
    truth = np.array([classes.index(v) for v in y])
    rng = np.random.default_rng(seed + 1)
    flipped = rng.random(len(truth)) < flip_share
    given = truth.copy()
    given[flipped] = (truth[flipped] + rng.integers(1, len(classes), flipped.sum())) % len(classes)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    oof = cross_val_predict(LogisticRegression(C=10, max_iter=2000), X, given, cv=folds, method="predict_proba")
    return classes, truth, given, flipped, oof


@pytest.mark.parametrize("spread", [0.8, 1.0, 1.2])
def test_flags_most_randomly_flipped_labels_and_few_clean_ones(spread):
    precisions, recalls, suggested_right = [], [], []
    for seed in range(3):
        classes, truth, given, flipped, oof = noisy_data(spread, 0.05, seed)
        issues = find_label_issues(given, oof, classes)
        flagged = np.zeros(len(given), bool)
        flagged[[issue["index"] for issue in issues]] = True
        precisions.append((flagged & flipped).sum() / max(flagged.sum(), 1))
        recalls.append((flagged & flipped).sum() / flipped.sum())
        hits = [issue for issue in issues if flipped[issue["index"]]]
        suggested_right.append(np.mean([classes.index(i["suggested_label"]) == truth[i["index"]] for i in hits]))
        confidences = [issue["self_confidence"] for issue in issues]
        assert confidences == sorted(confidences)  # most suspicious first
        for issue in issues:
            assert issue["given_label"] == classes[given[issue["index"]]] != issue["suggested_label"]
            assert issue["self_confidence"] == pytest.approx(oof[issue["index"], given[issue["index"]]])
    accuracy = np.mean(oof.argmax(axis=1) == truth)
    report = (f"spread {spread} (out-of-fold accuracy vs truth {accuracy:.3f}), 5 % flipped: flagged precision "
              f"{np.mean(precisions):.3f}, recall {np.mean(recalls):.3f}; suggestion = true label for "
              f"{np.mean(suggested_right):.3f} of the flipped ones flagged (3 seeds)")
    print(report)
    assert np.mean(precisions) >= {0.8: 0.9, 1.0: 0.75, 1.2: 0.55}[spread], report
    assert np.mean(recalls) >= 0.6, report
    assert np.mean(suggested_right) >= 0.8, report


def test_clean_labels_raise_few_flags():
    classes, truth, given, flipped, oof = noisy_data(0.8, 0.0, 7)
    assert not flipped.any()
    issues = find_label_issues(given, oof, classes)
    assert len(issues) <= 0.01 * len(given), f"{len(issues)} of {len(given)} clean rows flagged"


def test_degenerate_inputs():
    # one label in use, or labels given once: nothing to estimate the noise from
    p = np.tile([[0.9, 0.1]], (10, 1))
    assert find_label_issues(np.zeros(10, int), p, ["a", "b"]) == []
    assert find_label_issues(np.array([0, 1]), np.array([[0.1, 0.9], [0.9, 0.1]]), ["a", "b"]) == []
    assert find_label_issues(np.zeros(0, int), np.zeros((0, 2)), ["a", "b"]) == []
    # a label never given (column "c") does not stop the others from being checked
    classes, truth, given, flipped, oof = noisy_data(0.8, 0.05, 3)
    wider = np.c_[oof * 0.999, np.full(len(given), 0.001)]
    issues = find_label_issues(given, wider, [*classes, "never"])
    assert sum(flipped[i["index"]] for i in issues) >= 0.6 * flipped.sum()
    assert len(find_label_issues(given, oof, classes, max_issues=5)) == 5


@pytest.mark.parametrize(("args", "message"), [
    ((np.array([0, 2]), np.full((2, 2), 0.5)), r"y_idx\[1\] = 2"),
    ((np.array([0, 1]), np.full((3, 2), 0.5)), "shape"),
    ((np.array([0, 1]), np.array([[0.5, 0.5], [0.7, 0.7]])), "row 1 sums to 1.4000"),
    ((np.array([0, 1]), np.array([[np.nan, 0.5], [0.5, 0.5]])), "row 0 has a negative or non-finite"),
    ((np.array(["a", "b"]), np.full((2, 2), 0.5)), "column indices"),
])
def test_invalid_input_is_named(args, message):
    with pytest.raises(ValueError, match=message):
        find_label_issues(*args, ["a", "b"])
    with pytest.raises(ValueError, match="filter_by"):
        find_label_issues(np.array([0, 1]), np.full((2, 2), 0.5), ["a", "b"], filter_by="magic")


def test_cleanlab_imports_without_network():
    code = ("import socket\n"
            "def refuse(*a, **k):\n    raise OSError('network used')\n"
            "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
            "import learner.label_issues\nprint('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2], env={"PATH": "", "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
