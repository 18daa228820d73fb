"""What the final model reports about itself against what it does on the test split.

The final model's encoder is fine-tuned on every labeled text. Before ``learner.finetune.held_out``,
its calibration, thresholds and per-label table came from folds over that encoder's embeddings,
which had learned the held-out rows' labels. This trains the final model twice on the same labels
(trec, ``--labels`` random train-split rows, flat head, self-training off, the distill recipe with
no unlabeled texts, short sequences so it runs on this CPU):

- ``folds 0``: no cross-fitted folds, the figures from folds over the full encoder's embeddings
  (what every final model reported before);
- ``folds 3``: the figures from the cross-fitted folds (what it reports now);

and the frozen encoder's retrain on the same labels. Per model: the reported held-out macro-F1,
accuracy, top-label ECE (out of fold) and mean top probability, against the same on the test split
(labels the training rows have; the test split is read only here).

    OMP_NUM_THREADS=2 python bench/final_model_held_out.py --out bench/results/final_model_held_out.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"

from learner.embedding import bundled_model_path  # noqa: E402
from learner.finetune import FinetuneConfig  # noqa: E402
from learner.finetune.contrastive import encode, load_encoder  # noqa: E402
from learner.finetune.final import train_final_model  # noqa: E402
from learner.metrics import expected_calibration_error  # noqa: E402
from learner.training import TrainConfig, train_classifier  # noqa: E402


def judged(classifier, X_test, y_test) -> dict:
    """The classifier's own held-out figures beside the test split's."""
    report = classifier.report
    proba = classifier.predict_proba(X_test)
    predicted = np.array(classifier.classes_, dtype=object)[proba.argmax(axis=1)]
    index = {c: i for i, c in enumerate(classifier.classes_)}
    y_idx = np.array([index[v] for v in y_test])
    labels = sorted(set(y_test.tolist()))
    f1 = [2 * np.sum((predicted == c) & (y_test == c)) / max(1, np.sum(predicted == c) + np.sum(y_test == c))
          for c in labels]
    return {
        "reported": {"source": report.get("validation_source"), "rows": report.get("n_evaluated"),
                     "macro_f1": round(report["validation"]["macro_f1"], 4),
                     "accuracy": round(report["validation"].get("accuracy", float("nan")), 4),
                     "ece": round(report["calibration"]["ece_after"], 4),
                     "temperature": round(report["calibration"]["temperature"], 3)},
        "test": {"rows": int(len(y_test)), "macro_f1": round(float(np.mean(f1)), 4),
                 "accuracy": round(float(np.mean(predicted == y_test)), 4),
                 "ece": round(expected_calibration_error(proba, y_idx, 15), 4),
                 "mean_top_probability": round(float(proba.max(axis=1).mean()), 4)},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "final_model_held_out.json")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (DATASETS / "trec.jsonl").open()]
    train = [r for r in rows if r["split"] != "test"]
    pick = np.random.default_rng(args.seed).choice(len(train), args.labels, replace=False)
    texts = [train[i]["text"] for i in pick]
    y = np.array([train[i]["label"] for i in pick], dtype=object)
    test = [r for r in rows if r["split"] == "test" and r["label"] in set(y.tolist())]
    test_texts, y_test = [r["text"] for r in test], np.array([r["label"] for r in test], dtype=object)
    config = TrainConfig(self_training=False, hierarchy="flat")
    base = load_encoder(bundled_model_path())
    frozen = encode(base, texts)
    out = {"command": "python bench/final_model_held_out.py " + " ".join(sys.argv[1:]),
           "what": __doc__.split("\n\n")[1].replace("\n", " "), "labels": args.labels, "seed": args.seed,
           "test_rows_with_trained_labels": len(test),
           "frozen": judged(train_classifier(frozen, y, config=config), encode(base, test_texts), y_test)}
    for folds in (0, 3):
        started = time.perf_counter()
        final = train_final_model(texts, y.tolist(), model_path=bundled_model_path(), frozen=frozen, train_config=config,
                                  config=FinetuneConfig(epochs=args.epochs, folds=folds, max_seq_length=32,
                                                        seed=args.seed))
        out[f"final_folds_{folds}"] = judged(final.classifier, encode(final.encoder, test_texts), y_test)
        out[f"final_folds_{folds}"]["seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(out[f"final_folds_{folds}"]), flush=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
