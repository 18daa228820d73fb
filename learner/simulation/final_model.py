"""The final-model step at the end of a simulated budget (``simulate --final-model``).

After the last wave the encoder is fine-tuned and the final model trained as the product's
``labeling.modeling.final.train_final_version`` does (``learner.finetune.final.train_final_model``): the
labeled rows in item order with their duplicate groups, the taxonomy restricted to the labels
present, the same ``TrainConfig`` as the loop's retrains, the frozen embeddings the simulation
already has, and as unlabeled texts a sample (seeded by the version number, at most
``min(max_unlabeled, self_training_rows)``) of the pool rows outside the labeled rows' duplicate
groups. The pool never holds an evaluation row (test split, or dev rows with ``--dev-fraction``),
so no evaluation text reaches the fine-tuning. The fine-tuned model is then scored on the same
evaluation rows as the waves (``learner.simulation.evaluate``), beside the last wave's frozen model.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from learner.finetune import FinetuneConfig
from learner.finetune.contrastive import encode
from learner.finetune.final import FinalModel, train_final_model
from learner.jsonable import to_jsonable
from learner.planning import duplicate_groups
from learner.simulation.data import humanise
from learner.simulation.evaluate import evaluate_model
from learner.simulation.pool import SimPool
from learner.simulation.presets import SimConfig
from learner.training import TrainConfig
from learner.training.config import prior_possible
from learner.training.self_training import rows_outside_labeled_groups, sample_unlabeled_rows
from learner.training.taxonomy import restrict_taxonomy


def simulation_finetune_config(sim: SimConfig) -> FinetuneConfig:
    """The fine-tuning options of the final-model step: the run's seed, then its ``finetune_options``
    (``FinetuneConfig.from_dict`` refuses unknown or bad fields with a ValueError)."""
    return FinetuneConfig.from_dict({"seed": sim.seed, **(sim.finetune_options or {})})


def final_unlabeled_rows(pool: SimPool, labeled_rows: np.ndarray, *, limit: int, version: int
                         ) -> tuple[np.ndarray, int]:
    """(pool rows the final model may use as unlabeled texts, how many rows they were drawn from),
    as the product's ``unlabeled_items`` draws them: outside the labeled rows' duplicate groups, a
    seeded sample of at most ``limit``."""
    rest = rows_outside_labeled_groups(pool.groups, np.asarray(labeled_rows, dtype=np.int64))
    return sample_unlabeled_rows(rest, limit, seed=version), len(rest)


def train_simulated_final_model(pool: SimPool, labeled_rows: np.ndarray, labels, *, model_path: str,
                                config: TrainConfig, finetune: FinetuneConfig, version: int,
                                parents: dict | None = None, targets: dict | None = None,
                                self_training_rows: int = 20_000,
                                on_progress: Callable[[float, str], None] | None = None) -> FinalModel:
    """The final model on the labeled pool rows (``labels``: their names), as the product's
    version ``version`` would train it."""
    labeled_rows = np.asarray(labeled_rows, dtype=np.int64)
    order = np.argsort(pool.item_ids[labeled_rows], kind="stable")  # the product trains in item order
    labeled_rows, labels = labeled_rows[order], np.asarray(labels, dtype=object)[order]
    parents, targets = restrict_taxonomy(dict(parents or {}), dict(targets or {}), {str(v) for v in labels})
    unlabeled, unlabeled_total = final_unlabeled_rows(
        pool, labeled_rows, limit=min(finetune.max_unlabeled, self_training_rows), version=version)
    # the label-name prior from the texts the planner's label vectors were embedded from
    label_texts = ({name: humanise(name) for name in pool.label_names}
                   if prior_possible(config) and pool.label_vectors is not None else None)
    near = None if pool.near_groups is None else [pool.near_groups[r] for r in labeled_rows]
    groups = duplicate_groups(pool.item_ids[labeled_rows], near, [pool.text_hashes[r] for r in labeled_rows])
    return train_final_model(
        [pool.texts[r] for r in labeled_rows], labels, model_path=model_path,
        frozen=pool.embeddings[labeled_rows], groups=np.asarray(groups),
        unlabeled=[pool.texts[r] for r in unlabeled], frozen_unlabeled=pool.embeddings[unlabeled],
        parents=parents or None, targets=targets or None, train_config=config, config=finetune,
        label_texts=label_texts, unlabeled_total=unlabeled_total if len(unlabeled) else None,
        on_progress=on_progress)


def final_model_entry(pool: SimPool, labeled_rows: np.ndarray, labels, *, eval_texts: list[str], y_eval,
                      label_names: list[str], rare_classes: list[str], frozen_macro_f1: float,
                      evaluated_on: str, version: int, **train) -> dict:
    """Train the final model (``train``: ``train_simulated_final_model``'s keywords), score it on the
    evaluation rows and return the result's ``final_model`` object."""
    started = time.perf_counter()
    if len(set(np.asarray(labels, dtype=str).tolist())) < 2:
        return {"skipped": "the final model needs at least 2 labels with examples", "version": version}
    final = train_simulated_final_model(pool, labeled_rows, labels, version=version, **train)
    train_seconds = time.perf_counter() - started
    t = time.perf_counter()
    label_index = {name: i for i, name in enumerate(label_names)}
    metrics = evaluate_model(final.classifier, encode(final.encoder, list(eval_texts)), y_eval, label_names,
                             label_index, rare_classes)
    report = final.report
    return to_jsonable({
        "version": version, "labels": int(len(labeled_rows)), "unlabeled_rows": report["unlabeled_rows"],
        "evaluated_on": evaluated_on, "evaluation_rows": int(len(eval_texts)),
        **metrics,
        "frozen_macro_f1": frozen_macro_f1,
        "gain": round(float(metrics["macro_f1"]) - float(frozen_macro_f1), 4),
        "oof_macro_f1": report["oof_macro_f1"], "beats_frozen": report["beats_frozen"],
        "device": report["finetune"].get("device"),
        "seconds": round(time.perf_counter() - started, 2),
        "seconds_training": round(train_seconds, 2), "seconds_evaluation": round(time.perf_counter() - t, 2),
        "finetune": report["finetune"], "finetune_config": report["finetune_config"],
    })
