"""Embedding the pool and query texts with the learner's encoder, through the embeddings table
(every text is encoded once per encoder, whichever worker did it first)."""
from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import transaction

from labeling.items.models import Item
from labeling.projects.models import Project
from learner.embedding import embed_texts, encoder_model_id, get_encoder
from learner.text import exact_text_hash

from .artifact_paths import encoder_exports_root
from .embedding_store import (
    DbEmbeddingCache,
    ProjectEmbeddingCache,
    hold_projects,
    memo,
    missing_item_ids,
    stored_hashes,
)
from .models import EmbeddingUse


def model_id() -> str:
    """The encoder's id: the key of its vectors in the embeddings table (int8 vectors get their own)."""
    return encoder_model_id(settings.LONGTAIL_MODEL_ID, settings.LONGTAIL_ENCODER_BACKEND)


def encoder():
    """The process's encoder (loaded on its first encode, never at import): the backend the
    setting names, "auto" = ONNX Runtime on CPU when its exported copy passed its check against
    torch (cached under encoder_exports_root()), torch fp16 on CUDA (docs/encoder.md)."""
    return get_encoder(str(settings.LONGTAIL_MODEL_PATH), settings.LONGTAIL_MODEL_ID,
                       backend=settings.LONGTAIL_ENCODER_BACKEND, artifact_dir=str(encoder_exports_root()))


def embed_items(item_ids: list[int]) -> int:
    """Embed the given items' texts that are not cached yet; returns how many texts were encoded.
    Idempotent: a second call finds everything cached and encodes nothing. The vectors of items
    whose project was deleted while they were encoded are not stored (ProjectEmbeddingCache)."""
    key = model_id()
    rows = list(Item.objects.filter(id__in=list(item_ids)).values_list("project_id", "text_hash", "text"))
    cache = ProjectEmbeddingCache({project_id for project_id, _, _ in rows})
    text_by_hash = {h: text for _, h, text in rows}
    stored = stored_hashes(key, text_by_hash)
    absent = [h for h in text_by_hash if h not in stored]
    # Vectors this process remembers of rows a project deletion removed: written back, not encoded again.
    remembered = memo.get(key, absent)
    cache.put_many(key, remembered)
    todo = {h: text_by_hash[h] for h in absent if h not in remembered}
    if todo:
        # Keyed by Item.text_hash, the key project_matrix joins on.
        embed_texts(list(todo.values()), encoder(), cache, hashes=list(todo))
    return len(todo)


def unembedded_item_ids(project: Project) -> list[int]:
    return missing_item_ids(project.id, model_id())


def embed_project(project: Project, *, chunk: int = 256, on_progress=None) -> int:
    """Synchronously embed every item of the project that is not cached yet."""
    todo = unembedded_item_ids(project)
    done = 0
    for start in range(0, len(todo), chunk):
        done += embed_items(todo[start : start + chunk])
        if on_progress:
            on_progress(min(1.0, (start + chunk) / len(todo)))
    return done


def record_uses(project_id: int, hashes: list[str]) -> None:
    """Record that the project uses these rows of the embeddings table (EmbeddingUse), so that its
    deletion removes those no other project uses. Under the project's row lock, before the vectors
    are stored: a deletion either commits first (nothing is recorded, and ProjectEmbeddingCache then
    stores nothing for the project) or comes after the record and finds it. Texts recorded already
    are read without a lock first: a repeated predict must not wait for a plan or an activation
    holding the project's row (only a text new to the project takes the share lock)."""
    wanted = set(hashes)
    new = wanted - set(EmbeddingUse.objects.filter(project_id=project_id, text_hash__in=sorted(wanted))
                       .values_list("text_hash", flat=True))
    if not new:
        return
    with transaction.atomic():
        if hold_projects([project_id]):
            EmbeddingUse.objects.bulk_create([EmbeddingUse(project_id=project_id, text_hash=h) for h in sorted(new)],
                                             ignore_conflicts=True)


def embed_query_texts(texts: list[str], *, project_id: int | None = None, by=None,
                      record: bool = True) -> np.ndarray:
    """Vectors for arbitrary texts (label descriptions, predict requests), each of its own text,
    through the cache under ``exact_text_hash`` (an item's vector, under ``text_hash``, may be of an
    exact duplicate: a predict answer must be of the text sent, as the exported bundle gives it);
    the encoder is only loaded when some text is not cached. ``project_id``: the texts are that
    project's (its label texts, its predict requests): recorded as its own (record_uses), also when
    cached already (another project's text too), and stored only while it exists
    (ProjectEmbeddingCache). Without it the vectors are stored for no project: no deletion removes them.
    ``by``: another encoder than the setting's (a model version's own, ``final.query_vectors``);
    ``record=False`` where the rows go with something else than the project (a fine-tuned key's)."""
    cache = DbEmbeddingCache() if project_id is None else ProjectEmbeddingCache([project_id])
    hashes = [exact_text_hash(t) for t in texts]
    if project_id is not None and hashes and record:
        record_uses(project_id, hashes)
    cached = cache.get_many(model_id() if by is None else by.model_id, hashes)
    missing = [i for i, h in enumerate(hashes) if h not in cached]
    if missing:  # only these are encoded (and the encoder loaded); the cache is not read for the rest again
        new = embed_texts([texts[i] for i in missing], encoder() if by is None else by, cache,
                          hashes=[hashes[i] for i in missing])
        cached.update((hashes[i], vector) for i, vector in zip(missing, new, strict=True))
    if not hashes:
        return np.asarray(embed_texts([], encoder() if by is None else by, cache, hashes=[]), dtype=np.float32)
    return np.stack([cached[h] for h in hashes]).astype(np.float32)
