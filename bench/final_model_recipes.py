"""Final-model recipes compared on the labels active learning chose (the record behind the
shipped recipe). Each run appends one entry to ``bench/results/final_model_recipes.json``.

Rows: the ``labeled_rows`` of a ``manage.py simulate`` result (default strategy). Unlabeled texts:
the pool rows nobody labeled (never the test split). ``--split dev`` holds out a stratified 20 %
of the labeled rows (seeded; labels with one row stay in training) and scores on them: recipes are
chosen there. ``--split test`` trains on every labeled row and scores on the test split.

Per run: the frozen encoder's head (``train_classifier`` with and without self-training on the
unlabeled rows; the former is the distillation teacher), then the encoder fine-tuned
(``--method distill``: ``learner.finetune.distill``; ``contrastive``: SetFit pairs) and three
heads over it: fine-tuned embeddings alone, [frozen, fine-tuned] concatenated, and the average of
the frozen and fine-tuned heads' calibrated probabilities. Macro-F1, seconds, device.

    OMP_NUM_THREADS=2 nice -n 19 python bench/final_model_recipes.py --split dev --epochs 3 --lr 3e-5
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learner.embedding import bundled_model_path  # noqa: E402
from learner.finetune.contrastive import FinetuneConfig, encode, finetune_encoder  # noqa: E402
from learner.finetune.distill import distill_encoder  # noqa: E402
from learner.simulation import load_jsonl  # noqa: E402
from learner.training import TrainConfig, train_classifier  # noqa: E402
from learner.training.hierarchy_choice import macro_f1  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
OUT = ROOT / "bench" / "results" / "final_model_recipes.json"


def dev_split(y: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A stratified boolean mask of held-out rows: round(share × n) of each label, none of a label
    with one row, never all of a label's rows."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        k = min(len(rows) - 1, int(round(share * len(rows))))
        held[rows[:k]] = True
    return held


def score(truth, pred) -> float:
    return round(macro_f1(np.asarray(truth), np.asarray(pred, dtype=object), np.ones(len(truth))), 4)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="banking77_longtail")
    parser.add_argument("--sim", default=str(ROOT / "bench" / "results" / "sim_final" / "banking77_longtail"
                                             / "default-seed0.json"))
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--dev-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", choices=("distill", "contrastive"), default="distill")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--unlabeled-batch-size", type=int, default=32)
    parser.add_argument("--distill-weight", type=float, default=1.0)
    parser.add_argument("--no-unlabeled", action="store_true", help="distill: labels only (no teacher)")
    parser.add_argument("--pairs-per-row", type=float, default=8.0)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=1,
                        help="distill: >1 = distil again from the base encoder, the teacher being the last "
                             "round's fine-tuned head (self-training on its own embeddings)")
    parser.add_argument("--name", default=None)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--embeddings", default=None)
    parser.add_argument("--data-file", default=None, help="a data file elsewhere (e.g. bench/sibling_file.py's), "
                        "instead of --data in the shared datasets")
    args = parser.parse_args()

    data = load_jsonl(Path(args.data_file) if args.data_file else DATASETS / f"{args.data}.jsonl")
    emb = np.load(args.embeddings or ROOT / "bench" / ".cache" / "emb" / f"{args.data}.npy")
    sim = json.loads(Path(args.sim).read_text())
    texts, y = list(data.texts), data.labels.astype(str)
    labeled = np.array(sim["labeled_rows"])
    pool = np.flatnonzero(~data.is_test)
    unlabeled = np.setdiff1d(pool, labeled)
    if args.split == "dev":
        held = dev_split(y[labeled], args.dev_share, args.seed)
        train, evaluate = labeled[~held], labeled[held]
    else:
        train, evaluate = labeled, np.flatnonzero(data.is_test)
    config = TrainConfig(seed=args.seed)
    entry = {"name": args.name, "split": args.split, "data": Path(args.data_file).stem if args.data_file else args.data,
             "sim": Path(args.sim).name,
             "train_rows": int(len(train)), "eval_rows": int(len(evaluate)), "unlabeled_rows": int(len(unlabeled)),
             "machine": f"{platform.machine()}, {os.cpu_count()} cores shared (nice 19, {args.threads} threads)"}
    t = time.perf_counter()
    teacher = train_classifier(emb[train], y[train], config=config, unlabeled=emb[unlabeled])
    no_st = train_classifier(emb[train], y[train], config=TrainConfig(seed=args.seed, self_training=False))
    entry["frozen_self_training"] = score(y[evaluate], teacher.predict(emb[evaluate]))
    entry["frozen_no_self_training"] = score(y[evaluate], no_st.predict(emb[evaluate]))
    entry["frozen_heads_seconds"] = round(time.perf_counter() - t, 1)
    print(json.dumps(entry), flush=True)

    ft = FinetuneConfig(method=args.method, epochs=args.epochs, lr=args.lr, head_lr=args.head_lr,
                        batch_size=args.batch_size, unlabeled_batch_size=args.unlabeled_batch_size,
                        distill_weight=args.distill_weight, pairs_per_row=args.pairs_per_row,
                        max_seq_length=args.max_seq_length, threads=args.threads, seed=args.seed,
                        max_steps=args.max_steps, folds=0)
    import torch  # heavy: the encoding below runs on it

    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    if args.method == "distill":
        use_unlabeled = not args.no_unlabeled
        model, report = distill_encoder(
            str(bundled_model_path()), [texts[i] for i in train], y[train], frozen=emb[train],
            unlabeled=[texts[i] for i in unlabeled] if use_unlabeled else None,
            soft=teacher.predict_proba(emb[unlabeled]) if use_unlabeled else None,
            classes=teacher.classes_, config=ft)
    else:
        model, report = finetune_encoder(str(bundled_model_path()), [texts[i] for i in train], y[train], ft)
    entry["finetune_seconds"] = round(time.perf_counter() - t, 1)
    entry["finetune"] = report
    entry["finetune_config"] = asdict(ft)
    t = time.perf_counter()
    rows = np.concatenate([train, unlabeled, evaluate])
    X = np.zeros_like(emb)
    X[rows] = encode(model, [texts[i] for i in rows])
    entry["encode_seconds"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    head = train_classifier(X[train], y[train], config=config, unlabeled=X[unlabeled])
    entry["fine_tuned"] = score(y[evaluate], head.predict(X[evaluate]))
    both = np.hstack([emb, X])
    concat = train_classifier(both[train], y[train], config=config, unlabeled=both[unlabeled])
    entry["concat_frozen_fine_tuned"] = score(y[evaluate], concat.predict(both[evaluate]))
    assert head.classes_ == teacher.classes_
    mean = (head.predict_proba(X[evaluate]) + teacher.predict_proba(emb[evaluate])) / 2
    entry["prob_average"] = score(y[evaluate], [teacher.classes_[i] for i in mean.argmax(axis=1)])
    entry["heads_seconds"] = round(time.perf_counter() - t, 1)
    for round_ in range(2, args.rounds + 1):
        t = time.perf_counter()
        model, report = distill_encoder(
            str(bundled_model_path()), [texts[i] for i in train], y[train], frozen=emb[train],
            unlabeled=[texts[i] for i in unlabeled], soft=head.predict_proba(X[unlabeled]),
            classes=head.classes_, config=ft)
        X[rows] = encode(model, [texts[i] for i in rows])
        head = train_classifier(X[train], y[train], config=config, unlabeled=X[unlabeled])
        entry[f"round{round_}"] = {"fine_tuned": score(y[evaluate], head.predict(X[evaluate])),
                                   "seconds": round(time.perf_counter() - t, 1), "finetune": report}
        print(json.dumps(entry[f"round{round_}"]), flush=True)
    print(json.dumps({k: v for k, v in entry.items() if k not in ("finetune_config",)}), flush=True)
    out = Path(args.out)
    runs = json.loads(out.read_text()) if out.exists() else []
    runs.append(entry)
    out.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
