"""Items a model version has not scored yet: the vectors its head reads, and their stored scores.

A version's head reads the vectors of the encoder it was trained on: the frozen encoder's for a
retrain, the fine-tuned encoder's for a final model (``labeling.modeling.final``; its own key in
the embeddings table). Both have the same width, so a head fed the other encoder's vectors raises
nothing and returns probabilities without meaning. Whatever scores items outside a version's
stored scores (the planner, for items imported after the version scored the pool) takes their
vectors from ``head_vectors``: a final model's items without a vector yet are encoded with its
encoder first, in chunks, through the embeddings table (each text once per encoder).

``score_new_items`` stores the active version's scores of newly imported items, so that the
planner, the item browser, review routing and the estimates see them without a retrain.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from django.conf import settings

from labeling.modeling import embedding
from labeling.modeling.embedding_store import ProjectEmbeddingCache, vectors_for_items
from labeling.modeling.final import EncoderFolderMissing, VersionEncoder, version_encoder_id
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.scores import score_items
from labeling.modeling.versions import active_model
from labeling.projects.models import Project
from learner.embedding import embed_texts

from .models import Item


def reads_frozen_vectors(version: ModelVersion) -> bool:
    """True when the version's head reads the vectors of the encoder the setting names now (a retrain's
    version trained since the setting last changed); the pool's embedding step stores those."""
    return version_encoder_id(version) == embedding.model_id()


def embed_items_for_version(version: ModelVersion, item_ids, *, chunk: int | None = None) -> int:
    """Encode with the encoder a version recorded (a final model's fine-tuned one, or a frozen backend
    other than the setting's) the texts of the given items (of its project)
    that have no vector under its encoder id yet, ``chunk`` texts at a time (LONGTAIL_EMBED_CHUNK);
    returns how many texts were encoded. Idempotent. Nothing for a version that reads the frozen
    vectors (``labeling.modeling.embedding`` embeds those)."""
    if reads_frozen_vectors(version):
        return 0
    chunk = int(chunk or settings.LONGTAIL_EMBED_CHUNK)
    rows = Item.objects.filter(project_id=version.project_id, id__in=[int(i) for i in item_ids])
    text_by_hash = dict(rows.order_by("id").values_list("text_hash", "text"))
    hashes = list(text_by_hash)
    encoder = VersionEncoder(version)
    cache = ProjectEmbeddingCache([version.project_id])
    encoded = 0
    for start in range(0, len(hashes), chunk):
        part = hashes[start:start + chunk]
        cached = cache.get_many(encoder.model_id, part)
        todo = [h for h in part if h not in cached]
        if todo and not Path(encoder.path).is_dir():
            # a host that does not mount the artifact storage: refuse with the reason rather than
            # fail deep in the loader (or, as before, hand the head another encoder's vectors).
            # encoder.path is where the folder is looked for now (under LONGTAIL_ARTIFACT_DIR).
            raise EncoderFolderMissing(
                f"model v{version.number} is a fine-tuned final model and its encoder folder {encoder.path} is not on "
                f"this host: {len(hashes)} item(s) need its vectors; run this where LONGTAIL_ARTIFACT_DIR holds it, "
                "or restore the folder there")
        if todo:
            embed_texts([text_by_hash[h] for h in todo], encoder, cache, hashes=todo)
            encoded += len(todo)
    return encoded


def head_vectors(version: ModelVersion, item_ids: np.ndarray, frozen: np.ndarray) -> np.ndarray:
    """Rows aligned with ``item_ids``: the vectors the version's head reads. ``frozen`` (the same
    items' frozen vectors) is returned as it is for a version that reads them; a final model's
    items are embedded with its own encoder where they have no vector under it yet. Raises
    LookupError rather than hand back vectors of another encoder."""
    if reads_frozen_vectors(version):
        return frozen
    ids = [int(i) for i in item_ids]
    if not ids:
        return np.zeros((0, frozen.shape[1] if frozen.ndim == 2 else 0), dtype=np.float32)
    embed_items_for_version(version, ids)
    return vectors_for_items(version.project_id, version_encoder_id(version), ids)


def score_new_items(project: Project, item_ids) -> int:
    """Store the active version's scores (ItemScore) of the given items where it has none, after
    embedding them with its own encoder when it is a final model (the items' frozen vectors are
    expected to be there already: the import's embedding run made them). Returns how many items
    were scored; 0 without an active model or when every item had a score. Idempotent: scores are
    replaced, never duplicated, and items that had one are not scored again."""
    version = active_model(project)
    ids = sorted({int(i) for i in item_ids})
    if version is None or not ids:
        return 0
    scored = set(ItemScore.objects.filter(model_version=version, item_id__in=ids).values_list("item_id", flat=True))
    todo = [i for i in ids if i not in scored]
    if not todo:
        return 0
    embed_items_for_version(version, todo)
    return score_items(version, todo)
