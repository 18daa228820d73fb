"""Fine-tune a sentence-transformers encoder on labeled texts with SetFit's objective: pairs of
rows with the same label pulled together, pairs with different labels pushed apart
(``sentence_transformers`` ``CosineSimilarityLoss``), AdamW with linear warm-up and decay, in a
plain torch loop (no ``accelerate`` / ``datasets`` needed). On CUDA when the machine has it,
seeded; the result is saved and loaded as an ordinary sentence-transformers folder."""
from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from learner.finetune.pairs import make_pairs


@dataclass
class FinetuneConfig:
    # "distill" (learner.finetune.distill: cross-entropy on the labels + the frozen head's
    # probabilities on unlabeled texts; bench/results/final_model.json) or "contrastive" (SetFit
    # pairs, this module)
    method: str = "distill"
    epochs: int = 2                 # distill: passes over the larger of the labeled / unlabeled sets
    pairs_per_row: float = 8.0      # pairs = pairs_per_row × labeled rows, within [min_pairs, max_pairs]
    min_pairs: int = 64
    max_pairs: int = 20_000
    batch_size: int = 16            # contrastive: pairs per step; distill: labeled rows per step
    lr: float = 3e-5
    warmup_ratio: float = 0.1
    max_seq_length: int = 128
    folds: int = 3                  # cross-fitted out-of-fold comparison with the frozen encoder (0 = skip)
    seed: int = 0
    device: str | None = None       # None = cuda when available, else cpu
    threads: int | None = None      # torch threads on CPU (None = torch's default)
    max_steps: int | None = None    # cap (tests, quick runs)
    unlabeled_batch_size: int = 32  # distill: unlabeled rows per step (batch_size labeled rows with them)
    head_lr: float = 1e-3           # distill: the training head's learning rate
    distill_weight: float = 1.0     # distill: weight of the KL term
    max_unlabeled: int = 20_000     # at most this many unlabeled texts (a seeded sample)

    @classmethod
    def from_dict(cls, data: dict | None) -> FinetuneConfig:
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown fine-tuning option(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        config = cls(**data)
        if config.epochs < 1 or config.batch_size < 1 or config.lr <= 0 or config.min_pairs < 1:
            raise ValueError("epochs, batch_size and min_pairs must be at least 1 and lr positive")
        if config.method not in ("contrastive", "distill"):
            raise ValueError(f"method must be 'contrastive' or 'distill', got {config.method!r}")
        if config.folds == 1 or config.folds < 0:
            raise ValueError(f"folds must be 0 (no comparison) or at least 2, got {config.folds}")
        return config

    def n_pairs(self, n_rows: int) -> int:
        return int(min(self.max_pairs, max(self.min_pairs, round(self.pairs_per_row * n_rows))))


def pick_device(device: str | None) -> str:
    import torch  # heavy: only when fine-tuning

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def load_encoder(path: str, device: str | None = None):
    """A sentence-transformers model from a local folder (never downloads)."""
    from sentence_transformers import SentenceTransformer  # heavy (torch)

    return SentenceTransformer(str(path), device=pick_device(device), local_files_only=True)


def encode(model, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised float32 rows, as the product's encoder returns them."""
    vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


def finetune_encoder(model_path: str, texts: list[str], labels, config: FinetuneConfig | None = None, *,
                     on_progress: Callable[[float], None] | None = None):
    """A fresh copy of the encoder at ``model_path`` fine-tuned on (``texts``, ``labels``); returns
    (model, report). ``on_progress(share)`` is called as steps complete."""
    import torch  # heavy: only when fine-tuning
    from sentence_transformers import losses  # heavy (torch)

    config = config or FinetuneConfig()
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    started = time.perf_counter()
    device = pick_device(config.device)
    with torch_threads(config, device):
        model = fresh_encoder(model_path, config, device)
        first, second, target = make_pairs(labels, config.n_pairs(len(texts)), seed=config.seed)
        loss_fn = losses.CosineSimilarityLoss(model)
        rng = np.random.default_rng(config.seed)
        total = total_steps(int(np.ceil(len(first) / config.batch_size)), config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
        scheduler = warmup_then_decay(optimizer, total, config.warmup_ratio)
        model.train()
        losses_seen, step = [], 0
        while step < total:
            order = rng.permutation(len(first))
            for start in range(0, len(order), config.batch_size):
                if step >= total:
                    break
                rows = order[start:start + config.batch_size]
                features = [to_device(model.preprocess([texts[i] for i in first[rows]]), device),
                            to_device(model.preprocess([texts[i] for i in second[rows]]), device)]
                loss = loss_fn(features, torch.tensor(target[rows], device=device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                losses_seen.append(float(loss.detach()))
                step += 1
                if on_progress and (step % 5 == 0 or step == total):
                    on_progress(step / total)
        model.eval()
    report = {"config": asdict(config), "device": device, "pairs": int(len(first)),
              "positive_pairs": int(target.sum()), "steps": step,
              "loss_first": round(float(np.mean(losses_seen[:5])), 5) if losses_seen else None,
              "loss_last": round(float(np.mean(losses_seen[-5:])), 5) if losses_seen else None,
              "seconds": round(time.perf_counter() - started, 2)}
    return model, report


def to_device(features: dict, device: str) -> dict:
    """A tokenizer batch moved to ``device`` (tensors only)."""
    return {k: (v.to(device) if hasattr(v, "to") else v) for k, v in features.items()}


@contextmanager
def torch_threads(config: FinetuneConfig, device: str):
    """Seeds torch and, on CPU, runs with ``config.threads`` torch threads, restored afterwards."""
    import torch  # heavy: only when fine-tuning

    saved = torch.get_num_threads()
    if config.threads and device == "cpu":
        torch.set_num_threads(config.threads)
    try:
        torch.manual_seed(config.seed)
        yield
    finally:
        torch.set_num_threads(saved)


def fresh_encoder(model_path: str, config: FinetuneConfig, device: str):
    """A new copy of the encoder at ``model_path`` on ``device``, truncating at ``config.max_seq_length``."""
    model = load_encoder(model_path, device)
    model.max_seq_length = config.max_seq_length
    return model


def total_steps(steps_per_epoch: int, config: FinetuneConfig) -> int:
    """Optimiser steps of a fine-tune: ``epochs`` passes, capped by ``max_steps``."""
    total = steps_per_epoch * config.epochs
    return min(total, config.max_steps) if config.max_steps else total


def warmup_then_decay(optimizer, total: int, warmup_ratio: float):
    """Linear warm-up over ``warmup_ratio`` of ``total`` steps, then linear decay to 0."""
    import torch  # heavy: only when fine-tuning

    warmup = max(1, int(warmup_ratio * total))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
