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
