"""The final model (fine-tuned encoder + head) against frozen MiniLM + logistic regression, at the
labels active learning chose.

1. ``manage.py simulate`` (default strategy, budget 1,000 in waves of 100, seed ``--seed``) on
   banking77_longtail: the 1,000 labeled rows at the end, and the loop's own model there (frozen
   MiniLM + LR with self-training, as the product trains it) with its test macro-F1.
2. Frozen + LR on exactly those rows, the head procedure the final model uses (``train_classifier``
   with self-training on the unlabeled pool rows), and without self-training.
3. ``learner.finetune.final.train_final_model`` on those rows with the pool rows nobody labeled as its
   unlabeled texts (never the test split): ``--method distill`` (the default: the frozen head's
   probabilities on the unlabeled texts distilled into the encoder, with cross-entropy on the
   labels) or ``contrastive`` (SetFit pairs), then its test macro-F1; with ``--folds k`` also the
   cross-fitted out-of-fold comparison the product uses to decide whether the final model is served
   (k + 1 fine-tunings).

Writes ``bench/results/final_model.json`` (with the device and timings). Run:

    OMP_NUM_THREADS=2 nice -n 19 python bench/final_model_bench.py [--seed 0] [--epochs 2] [--folds 0] \
        [--device cuda]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"
SIM_OUT = ROOT / "bench" / "results" / "sim_final"
OUT = ROOT / "bench" / "results" / "final_model.json"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="banking77_longtail")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--method", choices=("distill", "contrastive"), default="distill")
    parser.add_argument("--pairs-per-row", type=float, default=8.0)
    parser.add_argument("--max-pairs", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--unlabeled-batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--folds", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--max-steps", type=int, default=None, help="cap the fine-tuning (smoke runs)")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--datasets", default=str(DATASETS), help="folder of the dataset files")
    parser.add_argument("--embeddings", default=None, help="cached frozen vectors (.npy) of the data file")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from learner.finetune import FinetuneConfig
    from learner.finetune.contrastive import encode, load_encoder
    from learner.finetune.final import train_final_model
    from learner.simulation import load_jsonl
    from learner.training import TrainConfig, train_classifier
    from learner.training.hierarchy_choice import macro_f1

    data_path = Path(args.datasets) / f"{args.data}.jsonl"
    sim_dir = SIM_OUT / args.data
    result_file = sim_dir / f"default-seed{args.seed}.json"
    started = time.perf_counter()
    if not result_file.exists() or "labeled_rows" not in json.loads(result_file.read_text()):
        call_command("simulate", data=str(data_path), budget=args.budget, wave_size=100, strategy="default",
                     seed=args.seed, out=str(sim_dir), no_progress=True,
                     **({"embeddings": args.embeddings} if args.embeddings else {}))
    sim = json.loads(result_file.read_text())
    sim_seconds = time.perf_counter() - started
    data = load_jsonl(data_path)
    rows = np.array(sim["labeled_rows"])
    test = np.flatnonzero(data.is_test)
    unlabeled = np.setdiff1d(np.flatnonzero(~data.is_test), rows)
    texts = list(data.texts)
    y = data.labels.astype(str)
    parents = ({str(f): str(c) for f, c in zip(data.labels, data.coarse, strict=True)}
               if data.coarse is not None else None)
    emb = np.load(args.embeddings or ROOT / "bench" / ".cache" / "emb" / f"{args.data}.npy")

    def test_f1(model, X_test):
        return round(macro_f1(y[test], np.array(model.predict(X_test), dtype=object), np.ones(len(test))), 4)

    import torch  # heavy: the fine-tuning and encoding below run on it

    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    frozen_head = train_classifier(emb[rows], y[rows], config=TrainConfig(seed=args.seed), parents=parents,
                                   unlabeled=emb[unlabeled])
    frozen_same_head = test_f1(frozen_head, emb[test])
    frozen_head = train_classifier(emb[rows], y[rows], config=TrainConfig(seed=args.seed, self_training=False),
                                   parents=parents)
    frozen_no_st = test_f1(frozen_head, emb[test])
    frozen_seconds = time.perf_counter() - t

    config = FinetuneConfig(method=args.method, epochs=args.epochs, pairs_per_row=args.pairs_per_row,
                            max_pairs=args.max_pairs, batch_size=args.batch_size,
                            unlabeled_batch_size=args.unlabeled_batch_size, lr=args.lr,
                            max_seq_length=args.max_seq_length, folds=args.folds, seed=args.seed,
                            device=args.device, threads=args.threads, max_steps=args.max_steps)
    t = time.perf_counter()
    marks = []
    final = train_final_model([texts[i] for i in rows], y[rows], model_path=str(settings.LONGTAIL_MODEL_PATH),
                              frozen=emb[rows], unlabeled=[texts[i] for i in unlabeled],
                              frozen_unlabeled=emb[unlabeled], parents=parents,
                              train_config=TrainConfig(seed=args.seed), config=config,
                              on_progress=lambda s, m: marks.append((round(s, 3), m)))
    train_seconds = time.perf_counter() - t
    t = time.perf_counter()
    X_test = encode(final.encoder, [texts[i] for i in test])
    encode_seconds = time.perf_counter() - t
    fine_tuned = test_f1(final.classifier, X_test)
    # The encoder loads back from its saved folder and gives the same predictions.
    saved = final.save(ROOT / "var" / "final_model_bench")
    reloaded = load_encoder(str(saved / "encoder"), args.device)
    same = bool(np.allclose(encode(reloaded, [texts[i] for i in test[:50]]), X_test[:50], atol=1e-4))

    loop_model = sim["waves"][-1]["macro_f1"]
    full_pool = sim["full_pool_macro_f1"]
    out = {
        "what": f"{args.data}: {len(rows)} labels chosen by the default strategy (simulate, seed {args.seed}); "
                "test macro-F1 on the test split",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other sessions (loaded)",
        "device": final.report["finetune"]["device"],
        "labels": int(len(rows)), "unlabeled_pool_rows": int(len(unlabeled)), "test_rows": int(len(test)),
        "frozen_lr_loop_model": round(float(loop_model), 4),
        "frozen_lr_same_head": frozen_same_head,
        "frozen_lr_same_head_no_self_training": frozen_no_st,
        "frozen_full_pool": round(float(full_pool), 4),
        "fine_tuned": fine_tuned,
        "gain_vs_loop_model": round(fine_tuned - float(loop_model), 4),
        "gain_vs_same_head": round(fine_tuned - frozen_same_head, 4),
        "targets": {"gain_ge_0.02": fine_tuned - float(loop_model) >= 0.02,
                    "above_frozen_full_pool": fine_tuned > float(full_pool)},
        "oof_comparison": final.report["oof_macro_f1"],
        "finetune": final.report["finetune"],
        "finetune_config": final.report["finetune_config"],
        "seconds": {"simulation": round(sim_seconds, 1), "frozen_head": round(frozen_seconds, 1),
                    "final_model_training": round(train_seconds, 1), "encode_test": round(encode_seconds, 1)},
        "export_reloads_identically": same,
        "progress_marks": marks[-3:],
    }
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps({k: out[k] for k in ("frozen_lr_loop_model", "frozen_lr_same_head",
                                          "fine_tuned", "frozen_full_pool", "seconds")}, indent=1))


if __name__ == "__main__":
    main()
