"""simulate's per-wave estimates: the documented keys, built only from known-π picks of later
waves, and intervals that hold the quantity they estimate on a synthetic pool."""
import numpy as np

from learner.simulation import SimConfig, run_simulation
from learner.simulation.data import Dataset
from tests.learner.helpers import clusters

KEYS = {"recall", "recall_ci", "precision", "precision_ci", "prevalence", "n"}


def _dataset(seed=0):
    X, y, _ = clusters([900, 600, 400, 300, 200, 100], dim=12, spread=1.6, seed=seed)
    n = len(y)
    # distinct words per row (text normalisation folds digits, which would make every row a duplicate)
    texts = ["row " + "".join(chr(97 + (i // 26**k) % 26) for k in range(3)) for i in range(n)]
    is_test = np.zeros(n, bool)
    is_test[np.random.default_rng(seed).permutation(n)[: n // 5]] = True
    data = Dataset(path="synthetic.jsonl", texts=texts, labels=np.array(y, dtype=object).astype(str), coarse=None,
                   sources=np.array([""] * n, dtype=object), is_test=is_test, pool_splits=("train",))
    return data, X


def test_each_wave_carries_estimates_whose_intervals_hold_the_estimand():
    covered = total = 0
    for seed in (0, 1):
        data, X = _dataset(seed)
        # random strategy: every pick is a simple random sample of the eligible pool, π = k / N
        sim = SimConfig(strategy="random", budget=600, wave_size=100, seed=seed,
                        train_options={"self_training": False})
        result = run_simulation(data, X, sim, full_pool_macro_f1=0.0, progress=False, estimate_truth=True)
        waves = result["waves"]
        assert len(waves) == 6
        for wave in waves:
            est = wave["estimates"]
            labels = [k for k in est if k.startswith("c")]
            assert len(labels) == 6 and all(KEYS <= set(est[k]) for k in labels)
            assert "macro_f1_estimate" in wave and "macro_f1_ci" in wave
            later = [w["wave"] for w in waves if w["wave"] > wave["wave"]]
            assert est["sample"]["waves"] == later  # only picks planned after this model
            if not later:
                assert wave["macro_f1_estimate"] is None and est["sample"]["reason"]
                continue
            assert est["sample"]["items"] == 100 * len(later)
            lo, hi = wave["macro_f1_ci"]
            assert 0 <= lo <= wave["macro_f1_estimate"] <= hi <= 1
            for label in labels:
                row, truth = est[label], wave["estimates_truth"][label]
                for fig in ("precision", "recall", "prevalence"):
                    if row[fig] is None:
                        continue
                    assert row[f"{fig}_ci"][0] <= row[fig] <= row[f"{fig}_ci"][1]
                    total += 1
                    covered += row[f"{fig}_ci"][0] - 1e-9 <= truth[fig] <= row[f"{fig}_ci"][1] + 1e-9
    assert total > 100
    assert covered / total >= 0.88, (covered, total)


def test_pool_mix_precision_is_the_precision_on_a_test_split_resampled_to_the_pool_mix():
    """The pool-mix precision weights test rows by pool share / test share; replicating each test
    row by that (integer) ratio builds a test split with the pool's mix, where plain precision
    must agree. The raw test precision must not, or the check would prove nothing."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import precision_score

    from learner.simulation.estimates import EstimateTracker
    from learner.simulation.pool import SimPool

    names = ["c0", "c1", "c2"]
    X, y, _ = clusters([1200, 600, 200], dim=8, spread=2.0, seed=3)  # overlapping clusters
    y = np.array(y)
    rng = np.random.default_rng(0)
    test_rows = np.concatenate([rng.choice(np.flatnonzero(y == c), 100, replace=False) for c in names])
    pool_rows = np.setdiff1d(np.arange(len(y)), test_rows)  # pool mix 11 : 5 : 1, test mix 1 : 1 : 1
    test_X, test_y = X[test_rows], y[test_rows]
    model = LogisticRegression(max_iter=500).fit(X[pool_rows], y[pool_rows])
    pool = SimPool(item_ids=np.arange(len(pool_rows)), texts=[f"t{i}" for i in range(len(pool_rows))],
                   sources=np.array([""] * len(pool_rows)), embeddings=X[pool_rows], label_names=names)
    tracker = EstimateTracker(pool, np.array([names.index(v) for v in y[pool_rows]]), names, truth=True)
    tracker.add_model(1, model, test_X, test_y)
    got = {c: tracker.test[1][c]["precision_pool_mix"] for c in names}

    factor = {"c0": 11, "c1": 5, "c2": 1}  # pool share / test share, times 1700/300
    rep = np.concatenate([np.repeat(i, factor[test_y[i]]) for i in range(len(test_y))])
    pred = model.predict(test_X)
    resampled = precision_score(test_y[rep], pred[rep], labels=names, average=None, zero_division=0)
    raw = precision_score(test_y, pred, labels=names, average=None, zero_division=0)
    for k, c in enumerate(names):
        assert abs(got[c] - resampled[k]) < 1e-9, (c, got[c], resampled[k])
    assert max(abs(got[c] - raw[k]) for k, c in enumerate(names)) > 0.02


def test_each_waves_estimates_say_which_sources_they_cover():
    """A source at quota 0 beside quotas adding up to 1 is never drawn: simulate's estimates say
    that nothing in them speaks for its items, as the product's dashboard does."""
    data, X = _dataset(0)
    n = len(data.texts)
    data.sources = np.array(["email", "chat", "social"] * (n // 3) + ["email"] * (n % 3), dtype=object)
    sim = SimConfig(strategy="default", budget=300, wave_size=100, seed=0, train_options={"self_training": False},
                    source_quotas={"email": 0.5, "chat": 0.5, "social": 0.0})
    waves = run_simulation(data, X, sim, full_pool_macro_f1=0.0, progress=False)["waves"]
    social = int(((data.sources == "social") & ~data.is_test).sum())
    first = waves[0]["estimates"]["sample"]["coverage"]
    assert first["sources"] == ["chat", "email"]
    assert first["left_out"] == [{"source": "social", "items": social}]
    assert first["summary"].endswith(f"social had no pick with a stated inclusion probability in waves 2, 3, so "
                                     f"nothing here speaks for its {social} items")
    assert waves[-1]["estimates"]["sample"]["coverage"] is None  # no later picks, no sample
