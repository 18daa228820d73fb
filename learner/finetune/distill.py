"""Fine-tune the encoder end to end with a linear head, on the labels and on unlabeled texts
(self-distillation): class-weighted cross-entropy on the labeled rows plus the KL divergence from
a teacher's calibrated probabilities on unlabeled rows (the teacher: the frozen encoder's head,
``learner.training.train_classifier`` with self-training). The head starts as a logistic
regression on the frozen embeddings, so training starts from the teacher's decisions and the
unlabeled rows keep the encoder from over-fitting the few labels of the rare classes.

AdamW with linear warm-up and decay in a plain torch loop, seeded, on CUDA when the machine has
it; the result is an ordinary sentence-transformers model (the head is only a training device:
the served head is refitted on the new embeddings)."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from learner.finetune.contrastive import (
    FinetuneConfig,
    fresh_encoder,
    pick_device,
    to_device,
    torch_threads,
    total_steps,
    warmup_then_decay,
)
from learner.weighting import class_weights as inverse_frequency


def class_weights(y_index: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights (``learner.weighting``: w_c = N / (K · n_c)) per class index,
    rescaled to mean 1 over the rows; 0 for a class with no rows."""
    counts = np.bincount(y_index, minlength=n_classes)
    weights = np.zeros(n_classes)
    present = counts > 0
    weights[present] = inverse_frequency(counts[present])
    return weights / max(1e-12, float(np.mean(weights[y_index])))


def initial_head(frozen: np.ndarray, y_index: np.ndarray, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(weight K×d, bias K) of a class-balanced logistic regression on the frozen embeddings."""
    from sklearn.linear_model import LogisticRegression  # heavy (scipy, pandas): only when fine-tuning

    present = np.unique(y_index)
    lr = LogisticRegression(C=10.0, max_iter=300, class_weight="balanced", random_state=seed)
    lr.fit(frozen, y_index)
    weight = np.zeros((n_classes, frozen.shape[1]), dtype=np.float32)
    bias = np.full(n_classes, -10.0, dtype=np.float32)
    if len(present) == 2:  # sklearn keeps one row for a binary problem
        weight[present[1]], bias[present[1]] = lr.coef_[0] / 2, lr.intercept_[0] / 2
        weight[present[0]], bias[present[0]] = -lr.coef_[0] / 2, -lr.intercept_[0] / 2
    else:
        weight[present], bias[present] = lr.coef_, lr.intercept_
    return weight, bias


def distill_encoder(model_path: str, texts: list[str], labels, *, frozen: np.ndarray,
                    unlabeled: list[str] | None = None, soft: np.ndarray | None = None,
                    classes: list[str] | None = None, config: FinetuneConfig | None = None,
                    on_progress: Callable[[float], None] | None = None):
    """A fresh copy of the encoder at ``model_path`` fine-tuned on (``texts``, ``labels``) and, when
    given, ``unlabeled`` texts with the teacher's probabilities ``soft`` (columns in ``classes``
    order; default: the sorted labels). ``frozen``: the frozen embeddings of ``texts`` (the head's
    starting point). Returns (model, report); ``on_progress(share)`` as steps complete."""
    import torch  # heavy: only when fine-tuning
    import torch.nn.functional as F  # noqa: N812 (torch's own name)

    config = config or FinetuneConfig()
    y = np.asarray([str(v) for v in labels])
    if len(texts) != len(y) or len(frozen) != len(y):
        raise ValueError(f"{len(texts)} texts, {len(y)} labels and {len(frozen)} frozen rows")
    classes = list(classes) if classes is not None else sorted(set(y.tolist()))
    position = {c: i for i, c in enumerate(classes)}
    if not set(y.tolist()) <= set(classes):
        raise ValueError("every label must be one of the classes")
    y_index = np.array([position[v] for v in y])
    unlabeled = list(unlabeled or [])
    if unlabeled and (soft is None or np.shape(soft) != (len(unlabeled), len(classes))):
        raise ValueError(f"soft must be {len(unlabeled)} × {len(classes)} (one row per unlabeled text)")
    started = time.perf_counter()
    device = pick_device(config.device)
    with torch_threads(config, device):
        rng = np.random.default_rng(config.seed)
        model = fresh_encoder(model_path, config, device)
        weight, bias = initial_head(np.asarray(frozen, dtype=np.float32), y_index, len(classes), config.seed)
        head = torch.nn.Linear(weight.shape[1], len(classes)).to(device)
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(weight))
            head.bias.copy_(torch.from_numpy(bias))
        cw = torch.tensor(class_weights(y_index, len(classes)), dtype=torch.float32, device=device)
        soft_t = torch.tensor(np.asarray(soft, dtype=np.float32), device=device) if unlabeled else None
        labeled_batch = config.batch_size
        unlabeled_batch = config.unlabeled_batch_size if unlabeled else 0
        total = total_steps(int(np.ceil(max(len(y) / labeled_batch, len(unlabeled) / max(1, unlabeled_batch)))),
                            config)
        optimizer = torch.optim.AdamW([{"params": model.parameters(), "lr": config.lr},
                                       {"params": head.parameters(), "lr": config.head_lr}])
        scheduler = warmup_then_decay(optimizer, total, config.warmup_ratio)
        labeled_stream = _stream(len(y), labeled_batch, rng)
        unlabeled_stream = _stream(len(unlabeled), unlabeled_batch, rng) if unlabeled else None
        model.train()
        seen_ce, seen_kl = [], []
        for step in range(total):
            rows = next(labeled_stream)
            batch = [texts[i] for i in rows]
            extra = next(unlabeled_stream) if unlabeled_stream is not None else np.array([], dtype=int)
            batch += [unlabeled[i] for i in extra]
            features = to_device(model.preprocess(batch), device)
            embedded = F.normalize(model(features)["sentence_embedding"], dim=-1)
            logits = head(embedded)
            target = torch.as_tensor(y_index[rows], device=device)
            ce = F.cross_entropy(logits[:len(rows)], target, weight=cw)
            loss = ce
            if len(extra):
                kl = F.kl_div(F.log_softmax(logits[len(rows):], dim=-1), soft_t[torch.as_tensor(extra, device=device)],
                              reduction="batchmean")
                loss = ce + config.distill_weight * kl
                seen_kl.append(float(kl.detach()))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            seen_ce.append(float(ce.detach()))
            if on_progress and ((step + 1) % 5 == 0 or step + 1 == total):
                on_progress((step + 1) / total)
        model.eval()
    report = {"method": "distill", "device": device, "steps": total, "labeled_rows": int(len(y)),
              "unlabeled_rows": len(unlabeled),
              "ce_first": _mean(seen_ce[:5]), "ce_last": _mean(seen_ce[-5:]),
              "kl_first": _mean(seen_kl[:5]), "kl_last": _mean(seen_kl[-5:]),
              "seconds": round(time.perf_counter() - started, 2)}
    return model, report


def _stream(n: int, batch: int, rng: np.random.Generator):
    """Endless batches of row indices, a fresh permutation each pass."""
    while True:
        order = rng.permutation(n)
        for start in range(0, n, batch):
            yield order[start:start + batch]


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 5) if values else None
