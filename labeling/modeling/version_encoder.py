"""Which encoder serves an existing model version: the one it was trained on, as it recorded it.

A head reads the vectors of the encoder it was trained on. A retrain records that encoder's key in
the embeddings table (``config.embedding_model``: ``all-MiniLM-L6-v2``, or
``all-MiniLM-L6-v2+onnx-int8`` for the 8-bit ONNX backend), a final model its fine-tuned encoder's
(``config.encoder_model_id``). The ``LONGTAIL_ENCODER_BACKEND`` setting only chooses the encoder of
the next retrain: a version trained before the setting changed keeps being served (predict, stored
scores, the planner's scores of new items, the bundle) by the backend it recorded, loaded beside
the setting's, never by the setting's vectors (int8 vectors are up to 4e-4 cosine distance from
fp32's: docs/encoder.md). ``recorded_encoder_id`` is the one place that decides it.

A version recording an encoder this server cannot build (another model than LONGTAIL_MODEL_ID)
raises ``RecordedEncoderUnavailable``, which says so and asks for a retrain.
"""
from __future__ import annotations

from django.conf import settings

from learner.embedding import BACKENDS, EncoderQualityError, encoder_model_id, get_encoder
from learner.encoders.onnx_backend import UnsupportedModelError

from . import embedding
from .artifact_paths import encoder_exports_root
from .models import ModelVersion


class EncoderFolderMissing(ValueError):
    """A version's encoder cannot be loaded on this host (a final model's fine-tuned encoder folder
    is not here, or the frozen encoder it recorded cannot be built here); the message says which
    and what to do. The predict API answers it with 409."""


class RecordedEncoderUnavailable(EncoderFolderMissing):
    """The frozen encoder a version recorded at training cannot be built on this server."""


def recorded_encoder_id(version: ModelVersion) -> str:
    """The embeddings-table key of the vectors the version's head reads: its fine-tuned encoder's,
    else the frozen encoder it trained on; the current setting's only for a version stored before
    the encoder was recorded (all of them then ran the fp32 model, whose key it is unless the
    setting is onnx-int8)."""
    config = version.config or {}
    return config.get("encoder_model_id") or config.get("embedding_model") or embedding.model_id()


def recorded_frozen_id(version: ModelVersion) -> str:
    """The key of the frozen encoder's vectors the version was built from (a final model's base
    encoder's, before fine-tuning): what its out-of-fold label-issue scan reads, whatever the
    setting is now."""
    return (version.config or {}).get("embedding_model") or embedding.model_id()


def recorded_backend(key: str) -> str | None:
    """The ``LONGTAIL_ENCODER_BACKEND`` value whose vectors are stored under ``key`` (the setting's
    own when it does: ``auto``, ``torch`` and ``onnx`` share one key), None when no backend of
    LONGTAIL_MODEL_ID writes that key."""
    if key == embedding.model_id():
        return settings.LONGTAIL_ENCODER_BACKEND
    # fp32 vectors wanted while the setting is onnx-int8: "auto" picks ONNX fp32 on CPU (same key).
    candidates = [b for b in BACKENDS if encoder_model_id(settings.LONGTAIL_MODEL_ID, b) == key]
    return candidates[0] if candidates else None


class RecordedFrozenEncoder:
    """The frozen encoder a version trained on, behind the learner's encoder protocol (``model_id``,
    ``encode``); ``path`` is the model folder it loads from. The encoder itself is the process's
    memoised one for that backend (``get_encoder``), loaded on the first encode."""

    def __init__(self, version: ModelVersion):
        self.model_id = recorded_encoder_id(version)
        self.number = version.number
        self.path = str(settings.LONGTAIL_MODEL_PATH)
        self.backend = recorded_backend(self.model_id)

    def _refusal(self, why: str) -> RecordedEncoderUnavailable:
        return RecordedEncoderUnavailable(
            f"model v{self.number} was trained on the encoder {self.model_id!r}, which this server cannot run ({why}); "
            f"its head would answer wrongly on other vectors. Retrain to serve a model on the current encoder "
            f"({embedding.model_id()!r}).")

    def encode(self, texts: list[str]):
        if self.backend is None:
            raise self._refusal(f"it runs {settings.LONGTAIL_MODEL_ID!r}")
        encoder = get_encoder(str(settings.LONGTAIL_MODEL_PATH), settings.LONGTAIL_MODEL_ID, backend=self.backend,
                              artifact_dir=str(encoder_exports_root()))
        try:
            return encoder.encode(list(texts))
        except (EncoderQualityError, UnsupportedModelError, ImportError) as exc:
            raise self._refusal(f"{type(exc).__name__}: {exc}") from exc
