"""The checks that need a GPU, in one run (a lent GPU's time is short): encoder throughput on CUDA,
the final model's training time there, and final-model recipes compared on a sibling dev set with
the choice rule fixed before the run, then the chosen recipe on banking77_longtail's test split.

1. **Encode.** The product's ``Encoder`` (torch backend) on CUDA, fp16 and fp32, batch 256 and
   512, over the same banking77 texts (warmed up, then timed end to end); cosine of fp16 to fp32.
2. **Recipes on a sibling** (``bench/sibling_file.py``'s banking77 sibling 100: its 1,000 labels
   chosen by simulate, its balanced dev rows scored; banking77's test split is never read).
   Frozen head; the shipped distillation recipe (seed 0); ensembles of the same recipe over 3 and
   5 seeds (calibrated probabilities averaged); the distillation weight 2; 4 epochs; contrastive
   (SetFit pairs). **Rule, fixed here:** a recipe replaces the shipped one only if its sibling
   macro-F1 is at least ``ADOPT_MARGIN`` higher; among those the highest wins.
3. **Test.** The shipped recipe and the winner on banking77_longtail's 1,000 AL-chosen labels
   (``sim_final``), test macro-F1 against the frozen head, with the seconds each took.

Every head is the product's (``train_classifier`` with self-training on the unlabeled pool rows).
Frozen vectors are computed here with the same encoder weights, on the GPU, so every figure in one
run shares one encoder. Writes ``--out`` after every step (a run cut short keeps what it did).

    python bench/gpu_checks.py --model DIR --data-dir DIR --out gpu_checks.json [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from learner.embedding import Encoder  # noqa: E402
from learner.finetune.contrastive import FinetuneConfig, encode, finetune_encoder  # noqa: E402
from learner.finetune.distill import distill_encoder  # noqa: E402
from learner.training import TrainConfig, train_classifier  # noqa: E402
from learner.training.hierarchy_choice import macro_f1  # noqa: E402

ADOPT_MARGIN = 0.005
SHIPPED = dict(method="distill", epochs=2, lr=3e-5, max_seq_length=64, batch_size=16, unlabeled_batch_size=32,
               folds=0)
VARIANTS = {  # name -> (FinetuneConfig changes, ensemble seeds)
    "shipped": ({}, [0]),
    "ensemble3": ({}, [0, 1, 2]),
    "ensemble5": ({}, [0, 1, 2, 3, 4]),
    "distill_weight2": ({"distill_weight": 2.0}, [0]),
    "epochs4": ({"epochs": 4}, [0]),
    "contrastive": ({"method": "contrastive", "epochs": 1, "pairs_per_row": 20.0, "batch_size": 32}, [0]),
}


def read_jsonl(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(texts, labels, is_test) of a dataset file. Not ``learner.simulation.load_jsonl``: importing
    that package imports the planner and ``learner.rules``, whose google-re2 the GPU machine's
    image lacks (it can install nothing); nothing else of the simulation is needed here."""
    texts, labels, test = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(str(row["label"]))
            test.append(row.get("split") == "test")
    return texts, np.array(labels), np.array(test)


def score(truth, pred) -> float:
    return round(macro_f1(np.asarray(truth), np.asarray(pred, dtype=object), np.ones(len(truth))), 4)


class Result:
    def __init__(self, path: Path):
        self.path, self.data = path, {}

    def put(self, key, value):
        self.data[key] = value
        self.path.write_text(json.dumps(self.data, indent=1, default=str))
        print(json.dumps({key: value}, default=str), flush=True)


def encode_speed(model_path: str, texts: list[str], repeat: int, device: str) -> dict:
    """texts/s of the product's encoder and, side by side on the same texts, of
    sentence-transformers' own ``encode`` on the same loaded model."""
    import torch

    out, vectors = {}, {}
    many = texts * repeat
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for precision in ("fp16", "fp32"):
        for batch in (256, 512, 1024):
            encoder = Encoder(model_path, device=device, backend="torch", precision=precision, batch_size=batch)
            paths = {"product": encoder.encode,
                     "sentence_transformers": lambda t, m=encoder.model, n=batch: m.encode(
                         t, batch_size=n, normalize_embeddings=True, convert_to_numpy=True,
                         show_progress_bar=False)}
            # whether the loaded torch backend passed its check for the pre-sorted path
            row = {"texts": len(many), "backend": encoder.active_backend,
                   "presorted": encoder.presorted_batches}
            for name, run in paths.items():
                run(many[:4096])  # warm-up: kernels, allocator
                sync()
                t = time.perf_counter()
                got = run(many)
                sync()
                seconds = time.perf_counter() - t
                row[name] = {"seconds": round(seconds, 3), "texts_per_s": round(len(many) / seconds)}
                if name == "product":
                    vectors[precision] = got[:len(texts)]
                else:
                    cos = np.sum(np.asarray(got[:len(texts)]) * vectors[precision], axis=1)
                    row["cosine_product_to_sentence_transformers_min"] = round(float(cos.min()), 6)
            row["ratio"] = round(row["product"]["texts_per_s"] / row["sentence_transformers"]["texts_per_s"], 2)
            out[f"{precision}_batch{batch}"] = row
            del encoder
    cos = np.sum(vectors["fp16"] * vectors["fp32"], axis=1)
    out["cosine_fp16_to_fp32"] = {"mean": round(float(cos.mean()), 6), "min": round(float(cos.min()), 6)}
    out["target_texts_per_s"] = 20_000
    out["tokenizers_parallelism"] = os.environ.get("TOKENIZERS_PARALLELISM", "(unset: on)")
    return out


class Recipes:
    """Fine-tunes and heads on one labeled set; members are cached so ensembles reuse them."""

    def __init__(self, model_path, texts, y, frozen, train, evaluate, unlabeled, quick):
        self.model_path, self.texts, self.y, self.frozen = model_path, texts, y, frozen
        self.train, self.evaluate, self.unlabeled, self.quick = train, evaluate, unlabeled, quick
        self.config = TrainConfig(seed=0)
        t = time.perf_counter()
        self.teacher = train_classifier(frozen[train], y[train], config=self.config, unlabeled=frozen[unlabeled])
        self.teacher_seconds = round(time.perf_counter() - t, 1)
        self.distill_teacher = train_classifier(frozen[train], y[train],
                                                config=replace(self.config, threshold_mix="labeled"),
                                                unlabeled=frozen[unlabeled])
        self.members: dict[tuple, tuple[np.ndarray, float, dict]] = {}

    def frozen_score(self) -> float:
        return score(self.y[self.evaluate], self.teacher.predict(self.frozen[self.evaluate]))

    def member(self, changes: dict, seed: int) -> tuple[np.ndarray, float, dict]:
        """Calibrated probabilities on the evaluated rows of one fine-tuned encoder's head."""
        key = (json.dumps(changes, sort_keys=True), seed)
        if key not in self.members:
            ft = FinetuneConfig(**{**SHIPPED, **changes, "seed": seed,
                                   "max_steps": 20 if self.quick else None})
            t = time.perf_counter()
            texts, train, unlabeled = self.texts, self.train, self.unlabeled
            if ft.method == "distill":
                model, report = distill_encoder(
                    self.model_path, [texts[i] for i in train], self.y[train], frozen=self.frozen[train],
                    unlabeled=[texts[i] for i in unlabeled],
                    soft=self.distill_teacher.predict_proba(self.frozen[unlabeled]),
                    classes=self.distill_teacher.classes_, config=ft)
            else:
                model, report = finetune_encoder(self.model_path, [texts[i] for i in train], self.y[train], ft)
            finetune_seconds = time.perf_counter() - t
            rows = np.concatenate([train, unlabeled, self.evaluate])
            X = np.zeros_like(self.frozen)
            X[rows] = encode(model, [texts[i] for i in rows], batch_size=256)
            head = train_classifier(X[train], self.y[train], config=self.config, unlabeled=X[unlabeled])
            assert head.classes_ == self.teacher.classes_
            self.members[key] = (head.predict_proba(X[self.evaluate]), round(time.perf_counter() - t, 1),
                                 {"finetune_seconds": round(finetune_seconds, 1), "steps": report.get("steps"),
                                  "device": report.get("device")})
            del model
        return self.members[key]

    def run(self, name: str) -> dict:
        changes, seeds = VARIANTS[name]
        try:
            members = [self.member(changes, s) for s in seeds]
        except Exception as error:  # one recipe failing must not cost the others their (short) GPU time
            return {"macro_f1": None, "error": f"{type(error).__name__}: {error}"}
        proba = np.mean([m[0] for m in members], axis=0)
        pred = [self.teacher.classes_[i] for i in proba.argmax(axis=1)]
        return {"macro_f1": score(self.y[self.evaluate], pred),
                "seconds_per_member": [m[1] for m in members], "members": [m[2] for m in members]}


def recipes_on(model_path, data_file: Path, sim_file: Path, quick: bool, device: str) -> Recipes:
    texts, y, is_test = read_jsonl(data_file)
    labeled = np.array(json.loads(sim_file.read_text())["labeled_rows"])
    unlabeled = np.setdiff1d(np.flatnonzero(~is_test), labeled)
    frozen = Encoder(model_path, device=device, backend="torch", precision="fp32", batch_size=256).encode(texts)
    return Recipes(model_path, texts, y, frozen, labeled, np.flatnonzero(is_test), unlabeled, quick)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a sentence-transformers folder of all-MiniLM-L6-v2")
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="banking77_longtail.jsonl, banking77_sibling100.jsonl and the two simulate results")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda", help="cpu for a smoke run here")
    parser.add_argument("--encode-only", action="store_true", help="only the throughput step")
    parser.add_argument("--no-encode", action="store_true", help="skip the throughput step")
    parser.add_argument("--quick", action="store_true", help="20 steps per fine-tune, few texts (a smoke run)")
    args = parser.parse_args()
    import torch

    result = Result(args.out)
    result.put("machine", {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                           "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                           "adopt_margin": ADOPT_MARGIN, "shipped": SHIPPED, "variants": VARIANTS})
    bank_texts = read_jsonl(args.data_dir / "banking77_longtail.jsonl")[0]
    if not args.no_encode:
        result.put("encode", encode_speed(args.model, bank_texts[:1000] if args.quick else bank_texts,
                                          1 if args.quick else 4, args.device))
    if args.encode_only:
        return

    sibling = recipes_on(args.model, args.data_dir / "banking77_sibling100.jsonl",
                         args.data_dir / "banking77_sibling100-seed100.json", args.quick, args.device)
    dev = {"frozen": sibling.frozen_score(), "frozen_head_seconds": sibling.teacher_seconds}
    for name in VARIANTS:
        dev[name] = sibling.run(name)
        result.put("sibling_dev", dev)
    shipped = dev["shipped"]["macro_f1"]
    better = {n: dev[n]["macro_f1"] for n in VARIANTS if n != "shipped" and dev[n]["macro_f1"] is not None
              and dev[n]["macro_f1"] >= shipped + ADOPT_MARGIN}
    chosen = max(better, key=better.get) if better else "shipped"
    result.put("chosen", {"recipe": chosen, "shipped_dev": shipped, "candidates_over_margin": better})

    test = recipes_on(args.model, args.data_dir / "banking77_longtail.jsonl",
                      args.data_dir / "default-seed0.json", args.quick, args.device)
    out = {"frozen": test.frozen_score(), "frozen_head_seconds": test.teacher_seconds}
    for name in dict.fromkeys(["shipped", chosen, *VARIANTS]):
        out[name] = test.run(name)
        if out[name]["macro_f1"] is not None:
            out[name]["gain_vs_frozen"] = round(out[name]["macro_f1"] - out["frozen"], 4)
        result.put("banking77_longtail_test", out)
    result.put("done", True)


if __name__ == "__main__":
    main()
