"""The final model: fine-tune the encoder on every label (and, with ``distill``, on unlabeled
texts the frozen head's probabilities label softly), then fit the head, calibrate and choose
thresholds as a retrain does (``train_classifier``, self-training on the unlabeled texts) on the
fine-tuned embeddings.

Whether it is better than the frozen encoder is decided out of fold, and honestly: the encoder
itself is cross-fitted. For each of ``folds`` group-aware folds a fresh encoder is fine-tuned on
the other folds only, a head is trained on their fine-tuned embeddings and predicts the held-out
fold; the frozen encoder's embeddings go through the same head procedure on the same folds. (A
single encoder fine-tuned on every label would have seen the held-out rows, and its out-of-fold
score would be flattering; a fold's distillation teacher is fitted on that fold's training rows
only, and the unlabeled texts are never labeled rows.) The report gives both macro-F1s over the
same held-out rows, and ``beats_frozen``. Cost: ``folds + 1`` fine-tunings.

The same folds give the served model its calibration, thresholds and held-out figures: per fold,
a head fitted as the served head is on that fold's encoder (``learner.finetune.held_out``), and
the evidence of the head's "auto" choices (structure and fallback floor, label-name prior,
penalty). The full encoder has seen every label, so folds over its embeddings would flatter them.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from learner.finetune.contrastive import FinetuneConfig, encode, finetune_encoder, load_encoder
from learner.finetune.distill import distill_encoder
from learner.finetune.held_out import FoldEvidence, FoldView, recalibrate
from learner.splits import group_kfold
from learner.training import TrainConfig, TrainedClassifier, train_classifier
from learner.training.hierarchy_choice import macro_f1, paired_standard_error

ENCODER_DIR = "encoder"
HEAD_FILE = "head.bin"
REPORT_FILE = "final_model.json"


@dataclass
class FinalModel:
    encoder: object                 # a sentence_transformers.SentenceTransformer
    classifier: TrainedClassifier   # head, calibration, thresholds over the fine-tuned embeddings
    report: dict

    def save(self, directory) -> Path:
        """``directory/encoder/`` (a sentence-transformers folder), ``head.bin`` and the report."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save(str(directory / ENCODER_DIR))
        (directory / HEAD_FILE).write_bytes(self.classifier.to_bytes())
        (directory / REPORT_FILE).write_text(json.dumps(self.report, indent=1, default=str))
        return directory

    def predict_texts(self, texts: list[str]) -> list[dict]:
        return self.classifier.decide(encode(self.encoder, texts))


def load_final_model(directory, device: str | None = None) -> FinalModel:
    directory = Path(directory)
    report = json.loads((directory / REPORT_FILE).read_text()) if (directory / REPORT_FILE).exists() else {}
    return FinalModel(load_encoder(str(directory / ENCODER_DIR), device),
                      TrainedClassifier.from_bytes((directory / HEAD_FILE).read_bytes()), report)


def fit_encoder(model_path: str, texts: list[str], y: np.ndarray, *, frozen: np.ndarray | None,
                unlabeled: list[str], frozen_unlabeled: np.ndarray | None, config: FinetuneConfig,
                train_config: TrainConfig, parents: dict | None = None, frozen_label_vectors: dict | None = None,
                on_progress=None):
    """One fine-tuned encoder and its report. ``distill``: the teacher is the frozen encoder's head
    on these labels (``train_classifier``, self-training on the unlabeled rows as a retrain does);
    its calibrated probabilities on the unlabeled texts are the soft targets."""
    if config.method != "distill":
        return finetune_encoder(model_path, texts, y, config, on_progress=on_progress)
    soft = classes = None
    if unlabeled:
        # the teacher's thresholds are never read, so the class-mix estimate they hold at is skipped
        teacher = train_classifier(frozen, y, config=replace(train_config, threshold_mix="labeled"),
                                   parents=parents, unlabeled=frozen_unlabeled, label_vectors=frozen_label_vectors)
        soft, classes = teacher.predict_proba(frozen_unlabeled), teacher.classes_
    return distill_encoder(model_path, texts, y, frozen=frozen, unlabeled=unlabeled or None, soft=soft,
                           classes=classes, config=config, on_progress=on_progress)


def label_vectors_of(encoder, label_texts: dict[str, str] | None) -> dict | None:
    """label → the encoder's vector of its "name: description" text (None without labels)."""
    if not label_texts:
        return None
    names = sorted(label_texts)
    return dict(zip(names, encode(encoder, [label_texts[n] for n in names]), strict=True))


def train_final_model(texts: list[str], labels, *, model_path: str, frozen=None, groups=None,
                      unlabeled: list[str] | None = None, frozen_unlabeled=None,
                      parents: dict | None = None, targets: dict | None = None,
                      train_config: TrainConfig | None = None, config: FinetuneConfig | None = None,
                      label_texts: dict[str, str] | None = None, unlabeled_total: int | None = None,
                      on_progress: Callable[[float, str], None] | None = None) -> FinalModel:
    """Fine-tune, compare out of fold with the frozen encoder (``frozen``: its embeddings of
    ``texts``, computed when None), then fit on every label. ``unlabeled``: texts nobody labeled
    (at most ``config.max_unlabeled``, a seeded sample, are used; ``frozen_unlabeled``: their
    frozen embeddings, computed when None): the distillation's unlabeled rows and the heads'
    self-training rows. Fold encoders never see a held-out fold's labels (its texts are not among
    the unlabeled ones either). ``label_texts`` (label → "name: description") are embedded by each
    encoder for the label-name prior (``train_classifier``'s ``label_vectors``, as a retrain's);
    ``unlabeled_total``: how many items the unlabeled sample was drawn from (the "pool" class mix).
    ``on_progress(share, message)``."""
    started = time.perf_counter()
    config = config or FinetuneConfig()
    train_config = train_config or TrainConfig()
    texts = list(texts)
    y = np.asarray([str(v) for v in labels])
    if len(texts) != len(y):
        raise ValueError(f"{len(texts)} texts but {len(y)} labels")
    if len(set(y.tolist())) < 2:
        raise ValueError("the final model needs at least 2 labels with examples")
    unlabeled = list(unlabeled or [])
    if frozen_unlabeled is not None and len(frozen_unlabeled) != len(unlabeled):
        raise ValueError(f"{len(unlabeled)} unlabeled texts but {len(frozen_unlabeled)} frozen rows for them")
    if len(unlabeled) > config.max_unlabeled:
        keep = np.sort(np.random.default_rng(config.seed).choice(len(unlabeled), config.max_unlabeled, replace=False))
        unlabeled = [unlabeled[i] for i in keep]
        frozen_unlabeled = None if frozen_unlabeled is None else np.asarray(frozen_unlabeled)[keep]
    stages = config.folds + 1
    progress = on_progress or (lambda share, message: None)
    cv_config = replace(train_config, self_training=False)
    frozen_label_vectors = None
    if (config.folds or config.method == "distill") and (frozen is None or (unlabeled and frozen_unlabeled is None)
                                                         or label_texts):
        base = load_encoder(model_path, config.device)
        frozen = encode(base, texts) if frozen is None else frozen
        frozen_unlabeled = encode(base, unlabeled) if unlabeled and frozen_unlabeled is None else frozen_unlabeled
        frozen_label_vectors = label_vectors_of(base, label_texts)
        del base
    frozen_unlabeled = None if frozen_unlabeled is None else np.asarray(frozen_unlabeled, dtype=np.float32)
    frozen = None if frozen is None else np.asarray(frozen, dtype=np.float32)
    fit = dict(unlabeled=unlabeled, frozen_unlabeled=frozen_unlabeled, train_config=train_config, parents=parents,
               frozen_label_vectors=frozen_label_vectors)
    comparison, evidence = None, FoldEvidence()
    if config.folds:
        fold = group_kfold(y, groups, config.folds, seed=config.seed)
        held_rows, pred_ft, pred_frozen, fold_seconds, fold_diffs = [], [], [], [], []
        for f in range(config.folds):
            train, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
            held = held[np.isin(y[held], y[train])]
            if len(held) == 0 or len(set(y[train].tolist())) < 2:
                continue
            message = f"fold {f + 1} of {config.folds}: fine-tuning on {len(train)} labels"
            progress(f / stages, message)
            model, ft_report = fit_encoder(
                model_path, [texts[i] for i in train], y[train], frozen=frozen[train],
                config=replace(config, seed=config.seed + f), **fit,
                on_progress=lambda s, f=f, message=message: progress((f + s) / stages, message))
            fold_seconds.append(ft_report["seconds"])
            X_ft = encode(model, texts)
            fold_groups = None if groups is None else np.asarray(groups)[train]
            fold_pred = {}
            for name, X, out in (("fine_tuned", X_ft, pred_ft), ("frozen", frozen, pred_frozen)):
                head = train_classifier(X[train], y[train], config=cv_config, groups=fold_groups, parents=parents)
                fold_pred[name] = np.array(head.predict(X[held]), dtype=object)
                out.extend(fold_pred[name])
            if len(set(y[held].tolist())) >= 2:
                ones = np.ones(len(held))
                fold_diffs.append(macro_f1(y[held], fold_pred["fine_tuned"], ones)
                                  - macro_f1(y[held], fold_pred["frozen"], ones))
            # this fold's encoder's view of the data: the final model's calibration, thresholds and
            # held-out figures come from heads fitted on it (learner/finetune/held_out.py)
            evidence.add(FoldView(train, held, X_ft, encode(model, unlabeled) if unlabeled else None,
                                  label_vectors_of(model, label_texts)))
            held_rows.extend(held.tolist())
            del model
        if held_rows:
            truth = y[np.array(held_rows)]
            ones = np.ones(len(truth))
            comparison = {
                "folds": config.folds, "rows": len(held_rows),
                "fine_tuned": round(macro_f1(truth, np.array(pred_ft, dtype=object), ones), 4),
                "frozen": round(macro_f1(truth, np.array(pred_frozen, dtype=object), ones), 4),
                "fold_finetune_seconds": fold_seconds,
                # how far the gain stands above the fold-to-fold noise (reported; the rule is "higher")
                "fold_differences": [round(d, 4) for d in fold_diffs],
                "standard_error": (round(se, 4) if np.isfinite(se := paired_standard_error(fold_diffs)) else None),
            }
    progress(config.folds / stages, f"fine-tuning on all {len(texts)} labels")
    model, ft_report = fit_encoder(
        model_path, texts, y, frozen=frozen, config=config, **fit,
        on_progress=lambda s: progress((config.folds + s) / stages, f"fine-tuning on all {len(texts)} labels"))
    X_ft = encode(model, texts)
    X_unlabeled = encode(model, unlabeled) if unlabeled else None
    # The "auto" choices (structure, prior, penalty) are judged on the cross-fitted folds too:
    # folds over X_ft would judge each row with an encoder that learned its label.
    classifier = train_classifier(X_ft, y, config=train_config, groups=groups, parents=parents, targets=targets,
                                  unlabeled=X_unlabeled, unlabeled_total=unlabeled_total,
                                  label_vectors=label_vectors_of(model, label_texts),
                                  cross_fitted=evidence.parts() if evidence.rows else None)
    if evidence.rows:
        classifier = recalibrate(classifier, evidence, y, groups, targets, parents, X_unlabeled, unlabeled_total)
    else:
        classifier.report.setdefault("notes", []).append(
            "no cross-fitted folds (folds=0): calibration, thresholds and held-out figures come from embeddings of "
            "an encoder fine-tuned on these very labels, and are optimistic")
    report = {
        "base_model": Path(str(model_path)).name,
        "finetune": ft_report,
        "finetune_config": asdict(config),
        "oof_macro_f1": comparison,
        "beats_frozen": None if comparison is None else comparison["fine_tuned"] > comparison["frozen"],
        "rows": int(len(y)),
        "unlabeled_rows": len(unlabeled),
        "seconds": round(time.perf_counter() - started, 2),
    }
    classifier.report["final_model"] = report
    progress(1.0, "final model trained")
    return FinalModel(model, classifier, report)
