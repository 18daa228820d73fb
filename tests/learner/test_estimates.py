"""Design-based estimates judged against finite populations whose truth is known: Monte Carlo
coverage of the intervals, bias of the estimators, and the documented degenerate cases."""
import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from learner.estimates import design_estimates, wilson_interval, wilson_lower_bound

PREVALENCE = np.array([0.01, 0.02, 0.03, 0.05, 0.09, 0.2, 0.6])
ACCURACY = np.array([0.6, 0.7, 0.8, 0.75, 0.85, 0.9, 0.95])
LABELS = [f"l{c}" for c in range(len(PREVALENCE))]
FIGURES = ("prevalence", "precision", "recall")


def population(seed=1, size=20000):
    """A pool in three source strata (rare labels concentrated in stratum 2, the one sampled
    most), a fixed imperfect model (its predictions and its confidence per item)."""
    rng = np.random.default_rng(seed)
    k = len(PREVALENCE)
    strata = rng.integers(0, 3, size)
    truth = np.empty(size, dtype=int)
    for h, tilt in enumerate(([1, 1, 0.5, 0.7, 1, 1, 1], [1, 1, 0.5, 0.7, 1, 1, 1], [0.3, 0.3, 3, 2, 1, 1, 1])):
        p = PREVALENCE * tilt
        truth[strata == h] = rng.choice(k, int(np.sum(strata == h)), p=p / p.sum())
    correct = rng.random(size) < ACCURACY[truth]
    other = rng.choice(k, size, p=PREVALENCE)
    pred = np.where(correct, truth, np.where(other == truth, (truth + 1) % k, other))
    confidence = np.where(correct, rng.beta(5, 2, size), rng.beta(2, 4, size))
    return truth, pred, strata, confidence


def pool_truth(truth, pred):
    k = len(PREVALENCE)
    out = {}
    for c in range(k):
        tp = np.sum((truth == c) & (pred == c))
        out[c] = {"prevalence": np.mean(truth == c), "precision": tp / np.sum(pred == c),
                  "recall": tp / np.sum(truth == c), "f1": 2 * tp / (np.sum(truth == c) + np.sum(pred == c))}
    return out


def draw(rng, strata, confidence, design, n):
    """Indices of one labeled sample, their π and stratum. "stratified": SRS without replacement
    per stratum at rates 1:1.5:6; "poisson": independent draws with π ∝ the model's uncertainty."""
    if design == "stratified":
        rate = np.array([1.0, 1.5, 6.0]) * n / (8.5 * len(strata) / 3)
        picked, pi = [], np.zeros(len(strata))
        for h in range(3):
            members = np.flatnonzero(strata == h)
            take = int(round(rate[h] * len(members)))
            pi[members] = take / len(members)
            picked.append(rng.choice(members, take, replace=False))
        idx = np.concatenate(picked)
        return idx, pi[idx], strata[idx]
    u = 1.05 - confidence
    pi = np.minimum(1.0, n * u / u.sum())
    idx = np.flatnonzero(rng.random(len(pi)) < pi)
    return idx, pi[idx], None


@pytest.fixture(scope="module")
def pool():
    truth, pred, strata, confidence = population()
    return truth, pred, strata, confidence, pool_truth(truth, pred)


@pytest.mark.parametrize(("design", "n"), [("stratified", 300), ("stratified", 800), ("poisson", 300), ("poisson", 800)])
def test_intervals_cover_the_pool_truth(pool, design, n):
    truth, pred, strata, confidence, target = pool
    rng = np.random.default_rng(11)
    reps = 200
    covered = {f: [] for f in FIGURES}
    per_cell: dict = {}
    macro_covered, widths = [], []
    for _ in range(reps):
        idx, pi, st = draw(rng, strata, confidence, design, n)
        est = design_estimates(truth[idx], pred[idx], pi, classes=list(range(7)), strata=st)
        for c in range(7):
            for f in FIGURES:
                if est[c][f] is None:
                    continue
                lo, hi = est[c][f"{f}_ci"]
                assert lo <= est[c][f] <= hi
                ok = lo - 1e-12 <= target[c][f] <= hi + 1e-12
                covered[f].append(ok)
                per_cell.setdefault((c, f), []).append(ok)
        seen = [c for c in range(7) if np.any(truth[idx] == c) or np.any(pred[idx] == c)]
        assert est["macro_f1_labels"] == len(seen)
        macro_truth = np.mean([target[c]["f1"] for c in seen])
        lo, hi = est["macro_f1_ci"]
        macro_covered.append(lo <= macro_truth <= hi)
        widths.append(hi - lo)
    coverage = {f: round(float(np.mean(v)), 3) for f, v in covered.items()}
    report = (f"{design} n≈{n}: coverage {coverage}, macro-F1 {np.mean(macro_covered):.3f} "
              f"(mean width {np.mean(widths):.3f}) over {reps} samples")
    print(report)
    for f in FIGURES:
        assert coverage[f] >= 0.90, report
        assert len(covered[f]) >= reps * 4, report  # most labels are estimable in most samples
    worst = min((np.mean(v), cell) for cell, v in per_cell.items() if len(v) >= 50)
    assert worst[0] >= 0.85, f"label/figure {worst[1]} covered only {worst[0]:.3f}; {report}"
    assert np.mean(macro_covered) >= 0.90, report


@pytest.mark.parametrize("design", ["stratified", "poisson"])
def test_estimates_are_approximately_unbiased_where_the_unweighted_ones_are_not(pool, design):
    truth, pred, strata, confidence, target = pool
    rng = np.random.default_rng(5)
    reps = 200
    est = {(c, f): [] for c in range(7) for f in FIGURES}
    naive_prevalence = []
    for _ in range(reps):
        idx, pi, st = draw(rng, strata, confidence, design, 800)
        out = design_estimates(truth[idx], pred[idx], pi, classes=list(range(7)), strata=st)
        for c in range(7):
            for f in FIGURES:
                if out[c][f] is not None:
                    est[(c, f)].append(out[c][f])
        naive_prevalence.append(np.bincount(truth[idx], minlength=7) / len(idx))
    lines, failures = [], []
    for (c, f), values in est.items():
        if len(values) < 0.9 * reps:  # a rare label's recall is often not estimable at this size
            continue
        values = np.array(values)
        bias = values.mean() - target[c][f]
        se = values.std(ddof=1) / np.sqrt(len(values))
        lines.append(f"l{c} {f}: bias {bias:+.4f} (MC se {se:.4f})")
        # Hájek ratios are unbiased up to O(1/n): 4 Monte Carlo SE plus 5 % of a prevalence
        # (rare labels) or 0.02 of a precision / recall
        slack = 0.05 * target[c][f] if f == "prevalence" else 0.02
        if abs(bias) > 4 * se + slack:
            failures.append(lines[-1])
    assert len(lines) >= 17, lines
    assert not failures, "; ".join(failures)
    naive = np.array(naive_prevalence)
    prevalence = np.array([target[c]["prevalence"] for c in range(7)])
    naive_bias = naive.mean(axis=0) - prevalence
    naive_se = naive.std(axis=0, ddof=1) / np.sqrt(reps)
    # the design really is informative: ignoring π fails the same tolerance for most labels
    assert np.sum(np.abs(naive_bias) > 4 * naive_se + 0.05 * prevalence) >= 4, (naive_bias, naive_se)


def test_census_is_exact_and_matches_sklearn():
    truth, pred, _, _ = population(seed=3, size=600)
    out = design_estimates(truth, pred, np.ones(600), classes=list(range(7)))
    precision, recall, f1, support = precision_recall_fscore_support(truth, pred, labels=list(range(7)),
                                                                      zero_division=np.nan)
    for c in range(7):
        row = out[c]
        assert row["n"] == support[c]
        assert row["prevalence"] == pytest.approx(support[c] / 600)
        for name, expected in (("precision", precision[c]), ("recall", recall[c]), ("f1", f1[c])):
            if row[name] is None:
                continue
            assert row[name] == pytest.approx(expected)
            assert row[f"{name}_ci"] == pytest.approx([expected, expected])
    assert out["macro_f1_estimate"] == pytest.approx(f1_score(truth, pred, average="macro"))
    assert out["macro_f1_ci"][0] == pytest.approx(out["macro_f1_ci"][1])


def test_wilson_matches_published_values():
    # Wilson 95 % for 3/3 is [0.4385, 1]; for 0/10 it is [0, 0.2775]; 5/10 gives [0.2366, 0.7634]
    assert wilson_interval(1.0, 3) == pytest.approx((0.4385, 1.0), abs=1e-4)
    assert wilson_interval(0.0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(0.5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_lower_bound(1.0, 25, 0.95) == pytest.approx(25 / (25 + 1.6449**2), abs=1e-4)
    assert wilson_interval(0.3, float("inf")) == (0.3, 0.3)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(0.5, 10, confidence=1.0)


def test_few_items_are_not_estimable_and_never_a_bare_one():
    y = ["a", "a", "a", "b", "b", "b", "b", "b"]
    pred = ["a", "a", "a", "b", "b", "b", "a", "a"]
    out = design_estimates(y, pred, [0.1] * 8)
    assert out["a"]["precision"] == pytest.approx(0.6)  # 5 predicted as a: 3 right
    assert out["a"]["recall"] is None and "only 3 labeled items of 'a'" in out["a"]["reasons"]["recall"]
    assert out["b"]["precision"] is None and "fewer than 5" in out["b"]["reasons"]["precision"]
    assert out["b"]["recall"] == pytest.approx(0.6)
    # with min_n=1 the three hits give 1.0, but with Wilson's lower bound well below it
    loose = design_estimates(y, pred, [0.1] * 8, min_n=1)
    assert loose["a"]["recall"] == 1.0 and loose["a"]["recall_ci"][0] < 0.5


def test_degenerate_samples():
    # a label never seen: prevalence 0 with an upper bound, precision and recall not estimable
    y = ["a"] * 5 + ["b"] * 5
    out = design_estimates(y, y, [0.2] * 10, classes=["a", "b", "c"])
    assert out["c"]["prevalence"] == 0.0 and 0 < out["c"]["prevalence_ci"][1] < 0.5
    assert out["c"]["precision"] is None and out["c"]["recall"] is None and out["c"]["f1"] is None
    assert "no labeled items predicted as 'c'" in out["c"]["reasons"]["precision"]
    assert out["macro_f1_labels"] == 2 and out["macro_f1_estimate"] == 1.0
    assert out["macro_f1_ci"][0] < 1.0  # perfect on 10 items is not certainty
    # positives present but never predicted: recall 0, precision not estimable
    pred = ["a"] * 10
    out = design_estimates(y, pred, [0.2] * 10)
    assert out["b"]["recall"] == 0.0 and out["b"]["recall_ci"][1] > 0.2
    assert out["b"]["precision"] is None and "no labeled items predicted as 'b'" in out["b"]["reasons"]["precision"]
    # a single item: nothing estimable, with the reason
    one = design_estimates(["a"], ["a"], [0.5])
    assert one["a"]["prevalence"] is None and one["macro_f1_estimate"] is None
    assert "only 1 labeled items" in one["macro_f1_reason"]
    # no items at all
    empty = design_estimates([], [], [], classes=["a"])
    assert empty["a"]["recall"] is None and "no labeled items" in empty["macro_f1_reason"]
    # every stratum a singleton: still estimates, with finite intervals
    ids = list(range(10))
    out = design_estimates(y, ["a"] * 5 + ["b"] * 5, np.linspace(0.1, 0.9, 10), strata=ids)
    assert 0 < out["a"]["precision_ci"][0] <= out["a"]["precision_ci"][1] <= 1


def test_output_shape():
    y = ["a"] * 6 + ["b"] * 6
    out = design_estimates(y, y[::-1], [0.5] * 12, pool_size=40)
    assert list(out) == ["a", "b", "macro_f1_estimate", "macro_f1_ci", "macro_f1_reason", "macro_f1_labels"]
    row = out["a"]
    for key in ("recall", "recall_ci", "precision", "precision_ci", "prevalence", "prevalence_ci", "n"):
        assert key in row
    assert row["n"] == 6 and row["n_predicted"] == 6
    assert row["pool_count"] == pytest.approx(20.0)
    assert isinstance(out["macro_f1_ci"], list) and len(out["macro_f1_ci"]) == 2


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"inclusion_prob": [0.5, 0.0, 0.5]}, r"inclusion_prob\[1\] = 0.0"),
    ({"inclusion_prob": [0.5, 0.5, 1.5]}, r"inclusion_prob\[2\] = 1.5"),
    ({"inclusion_prob": [np.nan, 0.5, 0.5]}, r"inclusion_prob\[0\] = nan"),
    ({"inclusion_prob": [-0.1, 0.5, 0.5]}, r"every π must lie in \(0, 1\]"),
    ({"inclusion_prob": [0.5, 0.5]}, "differ in length"),
    ({"y_pred": ["a", "b", "z"], "classes": ["a", "b"]}, r"y_pred\[2\] = 'z' is not one of the classes"),
    ({"classes": ["a", "b", "macro_f1_ci"]}, "clashes"),
    ({"pool_size": 2}, "pool_size"),
    ({"strata": [1, 2]}, "strata has 2 entries"),
    ({"strata": [[1], [2], [3]]}, r"strata\[0\]"),
    ({"confidence": 95}, "confidence"),
    ({"min_n": 0}, "min_n"),
])
def test_invalid_input_is_named(kwargs, message):
    args = {"y_true": ["a", "b", "a"], "y_pred": ["a", "b", "b"], "inclusion_prob": [0.5, 0.5, 0.5]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        design_estimates(args.pop("y_true"), args.pop("y_pred"), args.pop("inclusion_prob"), **args)
