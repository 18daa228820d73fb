"""The embedding cache, backed by the ``learner.Embedding`` table.

Keyed by (model_id, text_hash) where text_hash is ``labeling.items.normalize.text_hash``, so no
text is embedded twice, whichever worker or machine embedded it first. Vectors are float32 bytes.

It implements the learner core's cache protocol (``get_many(model_id, hashes) -> dict`` and
``put_many(model_id, {hash: vector})``) and adds ``project_matrix`` for the hot path: one SQL
join returning a whole project's pool as a matrix.

A per-process memo keeps recently read vectors. That is safe because an entry is
content-addressed and immutable: the vector for (model_id, text_hash) never changes, so a stale
memo cannot exist; it is bounded (``LONGTAIL_EMBEDDING_MEMO_MAX`` vectors, least recently
filled dropped first).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef

from labeling.items.models import Item

from .models import Embedding

# SQLite allows 999 bound variables per statement in old builds; stay well below.
_IN_CHUNK = 500


class _Memo:
    def __init__(self):
        self._data: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return int(getattr(settings, "LONGTAIL_EMBEDDING_MEMO_MAX", 200_000))

    def get(self, model_id: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        with self._lock:
            found = {}
            for h in hashes:
                vec = self._data.get((model_id, h))
                if vec is not None:
                    found[h] = vec
            return found

    def put(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        limit = self.limit
        if limit <= 0:
            return
        with self._lock:
            for h, vec in vectors.items():
                self._data[(model_id, h)] = vec
            while len(self._data) > limit:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


memo = _Memo()


def _as_vector(raw) -> np.ndarray:
    vec = np.frombuffer(bytes(raw), dtype=np.float32)
    vec.flags.writeable = False
    return vec


class DbEmbeddingCache:
    """The learner core's cache protocol over the Embedding table."""

    def get_many(self, model_id: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(hashes))
        found = memo.get(model_id, wanted)
        missing = [h for h in wanted if h not in found]
        fetched: dict[str, np.ndarray] = {}
        for start in range(0, len(missing), _IN_CHUNK):
            chunk = missing[start : start + _IN_CHUNK]
            rows = Embedding.objects.filter(model_id=model_id, text_hash__in=chunk).values_list(
                "text_hash", "vector"
            )
            for text_hash, raw in rows:
                fetched[text_hash] = _as_vector(raw)
        memo.put(model_id, fetched)
        found.update(fetched)
        return found

    def put_many(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        rows = [
            Embedding(model_id=model_id, text_hash=h, vector=np.asarray(v, dtype=np.float32).tobytes())
            for h, v in vectors.items()
        ]
        # Another worker may have embedded the same text meanwhile: same key, same vector.
        Embedding.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        memo.put(model_id, {h: _as_vector(np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()})


def missing_item_ids(project_id: int, model_id: str, item_ids: Iterable[int] | None = None) -> list[int]:
    """Items of the project (or of ``item_ids``) whose text has no cached vector yet."""
    items = Item.objects.filter(project_id=project_id)
    if item_ids is not None:
        items = items.filter(id__in=list(item_ids))
    cached = Embedding.objects.filter(model_id=model_id, text_hash=OuterRef("text_hash"))
    return list(items.exclude(Exists(cached)).order_by("id").values_list("id", flat=True))


def project_matrix(
    project_id: int, model_id: str, *, id_min: int | None = None, id_max: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(item ids ascending, float32 matrix row-aligned) for the project's items that have a
    cached vector, optionally restricted to ids in [id_min, id_max]. One SQL join; the vectors
    go through the memo so a second call in the same process skips the big transfer."""
    item_table = Item._meta.db_table
    emb_table = Embedding._meta.db_table
    where = ["i.project_id = %s"]
    params: list = [project_id]
    if id_min is not None:
        where.append("i.id >= %s")
        params.append(id_min)
    if id_max is not None:
        where.append("i.id <= %s")
        params.append(id_max)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.id, i.text_hash FROM {item_table} i WHERE {' AND '.join(where)} ORDER BY i.id",
            params,
        )
        pairs = cursor.fetchall()
    if not pairs:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    hashes = [h for _, h in pairs]
    found = memo.get(model_id, hashes)
    if len(found) < len(set(hashes)):
        fetched: dict[str, np.ndarray] = {}
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT e.text_hash, e.vector FROM {item_table} i JOIN {emb_table} e "
                f"ON e.text_hash = i.text_hash AND e.model_id = %s WHERE {' AND '.join(where)}",
                [model_id, *params],
            )
            for text_hash, raw in cursor.fetchall():
                if text_hash not in found:
                    fetched[text_hash] = _as_vector(raw)
        memo.put(model_id, fetched)
        found.update(fetched)
    keep = [(item_id, h) for item_id, h in pairs if h in found]
    ids = np.fromiter((item_id for item_id, _ in keep), dtype=np.int64, count=len(keep))
    if not keep:
        return ids, np.zeros((0, 0), dtype=np.float32)
    matrix = np.stack([found[h] for _, h in keep]).astype(np.float32, copy=False)
    return ids, matrix


def vectors_for_items(project_id: int, model_id: str, item_ids: list[int]) -> np.ndarray:
    """Rows aligned with ``item_ids``; raises LookupError naming how many are not embedded."""
    hash_by_id = dict(Item.objects.filter(project_id=project_id, id__in=item_ids).values_list("id", "text_hash"))
    vectors = DbEmbeddingCache().get_many(model_id, hash_by_id.values())
    missing = [i for i in item_ids if hash_by_id.get(i) not in vectors]
    if missing:
        raise LookupError(f"{len(missing)} item(s) have no cached embedding (first ids: {missing[:5]})")
    if not item_ids:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([vectors[hash_by_id[i]] for i in item_ids]).astype(np.float32, copy=False)
