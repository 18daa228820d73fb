"""Encode on a GPU without the host as the bottleneck.

On an H200, sentence-transformers' ``encode`` ran all-MiniLM-L6-v2 at 6,200-14,000 texts/s,
and fp16 was no faster than fp32 (``bench/results/gpu/``, docs/encoder.md): the GPU waited on the
host, which tokenised every batch separately and copied every batch's vectors back. Here every
text is tokenised once, in one call of the fast tokenizer (its own threads), batches are cut
from the texts sorted by length (little padding) and padded with numpy, and the vectors stay
on the GPU until one copy back at the end. The model's own module chain (transformer, pooling,
normalisation) computes each batch, so the vectors are sentence-transformers' own; the encoder
checks this path against ``model.encode`` before using it (``learner.embedding``).
"""
from __future__ import annotations

import numpy as np


def encode_presorted(model, texts: list[str], batch_size: int) -> np.ndarray:
    """(len(texts), d) float32 unit rows of ``model`` (a ``SentenceTransformer``) on its device."""
    import torch  # heavy: only with a torch model

    if not texts:
        dimension = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
        return np.zeros((0, int(dimension)), dtype=np.float32)
    tokenizer = model.tokenizer
    ids = tokenizer(list(texts), truncation=True, max_length=model.max_seq_length, padding=False,
                    return_attention_mask=False, return_token_type_ids=False)["input_ids"]
    lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
    order = np.argsort(-lengths, kind="stable")
    device = model.device
    pad = tokenizer.pad_token_id or 0
    out = None
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = int(lengths[rows[0]])
            input_ids = np.full((len(rows), width), pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                input_ids[i, :lengths[row]] = ids[row]
                mask[i, :lengths[row]] = 1
            features = {"input_ids": torch.from_numpy(input_ids).to(device, non_blocking=True),
                        "attention_mask": torch.from_numpy(mask).to(device, non_blocking=True),
                        "token_type_ids": torch.zeros((len(rows), width), dtype=torch.long, device=device)}
            vectors = model(features)["sentence_embedding"].float()
            vectors = torch.nn.functional.normalize(vectors, dim=-1)
            if out is None:
                out = torch.empty((len(texts), vectors.shape[1]), dtype=torch.float32, device=device)
            out[torch.from_numpy(rows).to(device)] = vectors
    return out.cpu().numpy()
