"""Design-based estimates in the simulation: what the product would show a lead about each model,
computed only from labels the product has — the oracle's answers to picks with a known inclusion
probability — and only from picks the model was not trained on.

For the model trained after wave *w*, the sample is every pick with a stated π of the waves
planned after it (*w*+1, *w*+2, …): each was drawn from that wave's eligible pool (unlabeled
items, one per duplicate group), which the model never saw. The waves' samples are stacked, each
item weighted 1/π, with one stratum per (wave, source), and ``learner.estimates.design_estimates``
gives per-label prevalence, precision and recall with 95 % intervals and the macro-F1 with its
interval. The estimand is the model's figure over those waves' eligible pools stacked (the
unlabeled pool it would be used on); the last wave's model has no later picks and says so.

``EstimateTracker`` collects the picks and the models' predictions while the simulation runs and
fills ``entry["estimates"]`` (and ``macro_f1_estimate`` / ``macro_f1_ci``) of every wave at the
end. With ``truth=True`` it also stores, per wave, the quantity each interval aims at, computed
from every eligible item's oracle label (``estimates_truth``: the benchmark's check of coverage),
the model's test-split precision and recall (``test_per_class``; with ``precision_pool_mix``, the
precision with the test rows weighted to the pool's label mix) and its test ECE at that mix
(``ece_pool_mix``).
"""
from __future__ import annotations

import numpy as np

from learner.estimates import design_estimates
from learner.metrics import classification_report, expected_calibration_error

FIGURES = ("prevalence", "precision", "recall")


class EstimateTracker:
    def __init__(self, pool, y_pool: np.ndarray, label_names: list[str], *, truth: bool = False):
        self.pool = pool
        self.y_pool = np.asarray(y_pool, dtype=np.int64)
        self.label_names = list(label_names)
        self.truth = truth
        self.samples: dict[int, tuple[np.ndarray, np.ndarray, list[str]]] = {}  # wave -> rows, pi, strata
        self.eligible: dict[int, np.ndarray] = {}  # wave -> eligible representative rows (truth only)
        self.predicted: dict[int, np.ndarray] = {}  # wave -> the wave's model's label index per pool row
        self.test: dict[int, dict] = {}

    def add_wave(self, wave: int, plan, labeled_before: np.ndarray) -> None:
        """Record the wave's picks with a stated π (before its answers are marked labeled)."""
        picks = [p for p in plan.picks if p.inclusion_prob is not None]
        rows = np.array([p.row for p in picks], dtype=np.int64)
        pi = np.array([p.inclusion_prob for p in picks], dtype=np.float64)
        self.samples[wave] = (rows, pi, [f"{wave}|{p.source}" for p in picks])
        if self.truth:
            groups = self.pool.groups
            taken = np.isin(groups, groups[labeled_before])
            eligible = np.flatnonzero(~labeled_before & ~taken)
            _, first = np.unique(groups[eligible], return_index=True)
            self.eligible[wave] = eligible[first]

    def add_model(self, wave: int, model, X_test=None, y_test=None) -> None:
        """Record the predictions of the model trained after ``wave`` on every pool row."""
        index = {name: k for k, name in enumerate(self.label_names)}
        self.predicted[wave] = np.array([index[str(v)] for v in model.predict(self.pool.embeddings)], dtype=np.int64)
        if self.truth and X_test is not None:
            predicted = [str(v) for v in model.predict(X_test)]  # once: the report and the pool-mix figures
            report = classification_report([str(v) for v in y_test], predicted, None, self.label_names)
            self.test[wave] = {c: {k: row[k] for k in ("precision", "recall", "support")}
                               for c, row in report["per_class"].items() if row["support"] > 0}
            y = np.array([index[str(v)] for v in y_test])
            weight = self._pool_mix_weights(y)
            for c, precision in self._precision_pool_mix(y, np.array([index[v] for v in predicted]), weight).items():
                if c in self.test[wave]:
                    self.test[wave][c]["precision_pool_mix"] = precision
            proba = np.zeros((len(y), len(self.label_names)))
            proba[:, [index[str(c)] for c in model.classes_]] = model.predict_proba(X_test)
            # Top-label ECE (15 bins) at the pool's mix: the calibration on data like the pool, where
            # the test split's mix differs (banking77_longtail's test split is balanced, its pool long-tailed).
            self.test[wave]["_ece_pool_mix"] = expected_calibration_error(proba, y, 15, weight)

    def _pool_mix_weights(self, y: np.ndarray) -> np.ndarray:
        """Per test row: its label's pool share over its test share (the test rows reweighted so
        that the labels have their pool frequencies)."""
        k = len(self.label_names)
        pool_share = np.bincount(self.y_pool, minlength=k) / len(self.y_pool)
        test_share = np.bincount(y, minlength=k) / len(y)
        return pool_share[y] / test_share[y]

    def _precision_pool_mix(self, y: np.ndarray, pred: np.ndarray, weight: np.ndarray) -> dict:
        """Each label's test-split precision with the test rows weighted to the pool's label mix
        (``y``, ``pred``: label indices; ``weight``: ``_pool_mix_weights(y)``). Precision depends on
        the mix (the other labels' rows are where false positives come from), recall does not;
        where the test split's mix differs from the pool's (trec's published test split), a pool
        estimate can only be checked against this."""
        out = {}
        for c, label in enumerate(self.label_names):
            predicted = pred == c
            if predicted.any():
                out[label] = float(weight[predicted & (y == c)].sum() / weight[predicted].sum())
        return out

    def estimates_for(self, wave: int) -> dict:
        """The estimates object of the model trained after ``wave``."""
        later = [w for w in sorted(self.samples) if w > wave]
        rows = np.concatenate([self.samples[w][0] for w in later]) if later else np.zeros(0, dtype=np.int64)
        pi = np.concatenate([self.samples[w][1] for w in later]) if later else np.zeros(0)
        strata = [s for w in later for s in self.samples[w][2]]
        names = np.array(self.label_names, dtype=object)
        full = design_estimates(names[self.y_pool[rows]].tolist(), names[self.predicted[wave][rows]].tolist(), pi,
                                classes=self.label_names, strata=strata or None)
        out: dict = {}
        for label in self.label_names:
            row = full[label]
            out[label] = {"recall": row["recall"], "recall_ci": row["recall_ci"], "precision": row["precision"],
                          "precision_ci": row["precision_ci"], "prevalence": row["prevalence"],
                          "prevalence_ci": row["prevalence_ci"], "n": row["n"], "n_predicted": row["n_predicted"]}
        out["macro_f1_estimate"] = full["macro_f1_estimate"]
        out["macro_f1_ci"] = full["macro_f1_ci"]
        out["macro_f1_labels"] = full["macro_f1_labels"]
        out["sample"] = {"items": int(len(rows)), "waves": later,
                         "reason": None if len(later) else "no pick with a stated inclusion probability was "
                                                           "planned after this model",
                         "coverage": self._coverage(rows, later)}
        return out

    def _coverage(self, rows: np.ndarray, later: list[int]) -> dict | None:
        """Which of the pool's sources the sample's picks come from, as the product's dashboard
        says it (``sample.coverage``): a source none of the later waves drew from (a quota of 0
        beside quotas adding up to 1 is never drawn) is not spoken for by these figures."""
        if not len(rows):
            return None
        sources = np.asarray(self.pool.sources, dtype=object)
        names, counts = np.unique(sources, return_counts=True)
        covered = set(sources[rows].tolist())

        def name(source) -> str:
            return str(source) or "(no source)"

        left_out = [{"source": name(s), "items": int(n)} for s, n in zip(names, counts, strict=True) if s not in covered]
        items = int(sum(n for s, n in zip(names, counts, strict=True) if s in covered))
        text = [f"The figures cover source{'s' * (len(covered) > 1)} {', '.join(sorted(map(name, covered)))} "
                f"({items} of {len(sources)} pool items)"]
        waves = ", ".join(map(str, later))
        text += [f"{row['source']} had no pick with a stated inclusion probability in wave{'s' * (len(later) > 1)} "
                 f"{waves}, so nothing here speaks for its {row['items']} items" for row in left_out]
        return {"sources": sorted(map(name, covered)), "items": items, "pool_items": int(len(sources)),
                "left_out": left_out, "summary": "; ".join(text)}

    def truth_for(self, wave: int) -> dict:
        """What the intervals of ``estimates_for(wave)`` aim at, from every eligible item's label."""
        later = [w for w in sorted(self.eligible) if w > wave]
        k = len(self.label_names)
        tp, true, pred, total = np.zeros(k), np.zeros(k), np.zeros(k), 0
        for w in later:
            rows = self.eligible[w]
            y, p = self.y_pool[rows], self.predicted[wave][rows]
            tp += np.bincount(y[y == p], minlength=k)
            true += np.bincount(y, minlength=k)
            pred += np.bincount(p, minlength=k)
            total += len(rows)
        return {label: {"prevalence": true[c] / total if total else None,
                        "precision": tp[c] / pred[c] if pred[c] else None,
                        "recall": tp[c] / true[c] if true[c] else None}
                for c, label in enumerate(self.label_names)}

    def attach(self, waves: list[dict]) -> None:
        """Fill every wave entry whose model exists with its estimates (and truth when asked)."""
        for entry in waves:
            wave = entry["wave"]
            if wave not in self.predicted:
                entry["estimates"], entry["macro_f1_estimate"], entry["macro_f1_ci"] = None, None, None
                continue
            estimates = self.estimates_for(wave)
            entry["estimates"] = estimates
            entry["macro_f1_estimate"] = estimates["macro_f1_estimate"]
            entry["macro_f1_ci"] = estimates["macro_f1_ci"]
            if self.truth:
                entry["estimates_truth"] = self.truth_for(wave)
                test = dict(self.test.get(wave) or {})
                entry["ece_pool_mix"] = test.pop("_ece_pool_mix", None)
                entry["test_per_class"] = test
