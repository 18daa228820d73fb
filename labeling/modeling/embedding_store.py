"""The embedding cache, backed by the ``learner.Embedding`` table.

Keyed by (model_id, text_hash) where text_hash is ``learner.text.text_hash``, so no
text is embedded twice, whichever worker or machine embedded it first. Vectors are float32 bytes.

It implements the learner core's cache protocol (``get_many(model_id, hashes) -> dict`` and
``put_many(model_id, {hash: vector})``) and adds ``project_matrix`` for the hot path: one SQL
join returning a whole project's pool as a matrix.

A per-process memo keeps recently read vectors (and, on PostgreSQL, whole pools: see
``pool_matrix``). That is safe because an entry is
content-addressed and immutable: the vector for (model_id, text_hash) never changes, so a stale
memo cannot exist; it is bounded (``LONGTAIL_EMBEDDING_MEMO_MAX`` vectors, least recently
filled dropped first).

The table has no foreign key (a vector serves every project with its text), so work for a project
writes through ``ProjectEmbeddingCache``: under the project's row lock, and nothing for a project
that ``delete_project`` removed meanwhile.
"""
from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from labeling.items.models import Item
from labeling.projects.models import Project

from .models import Embedding

# SQLite allows 999 bound variables per statement in old builds; stay well below.
_IN_CHUNK = 500


class _Memo:
    def __init__(self):
        self._data: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return settings.LONGTAIL_EMBEDDING_MEMO_MAX

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


def _memo_after_commit(model_id: str, vectors: dict[str, np.ndarray]) -> None:
    """Remember vectors only once the rows that hold them are committed: a rolled-back write must
    not leave the memo claiming a vector the table lacks (the embed step would then skip it)."""
    if vectors:
        transaction.on_commit(lambda: memo.put(model_id, vectors))


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
        _memo_after_commit(model_id, fetched)
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
        _memo_after_commit(
            model_id, {h: _as_vector(np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()}
        )


def hold_projects(project_ids: Iterable[int]) -> set[int]:
    """Share-lock the projects' rows until the transaction ends; returns the ids of those still
    there. ``delete_project`` locks its project FOR UPDATE before it deletes the vectors only that
    project uses, so a writer holding the row either commits first (its rows are then deleted with
    the rest) or waits and finds the project gone. FOR KEY SHARE is the lock inserting any row
    that refers to the project takes anyway: it waits only for what such an insert waits for."""
    wanted = sorted({int(pk) for pk in project_ids})
    if not wanted:
        return set()
    if connection.vendor != "postgresql":
        return set(Project.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT id FROM "{Project._meta.db_table}" WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE',
                       [wanted])
        return {row[0] for row in cursor.fetchall()}


class ProjectEmbeddingCache(DbEmbeddingCache):
    """The cache as the work of given projects writes to it (their items' chunks, a fine-tuned
    encoder's pool, its predictions). A chunk encodes for seconds after it read its texts; a forced
    deletion of its project in that time removed the vectors only that project used, and without
    this the chunk's write would then store rows no project uses. So each write holds the projects
    (hold_projects) and stores nothing for one that is gone: of a chunk that mixed projects, only
    the texts an item of a project still there has."""

    def __init__(self, project_ids: Iterable[int]):
        self.project_ids = frozenset(int(pk) for pk in project_ids)

    def put_many(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        with transaction.atomic():
            alive = hold_projects(self.project_ids)
            if alive != self.project_ids:
                kept = set(Item.objects.filter(project_id__in=sorted(alive), text_hash__in=list(vectors))
                           .values_list("text_hash", flat=True)) if alive else set()
                vectors = {h: v for h, v in vectors.items() if h in kept}
            super().put_many(model_id, vectors)


def stored_hashes(model_id: str, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` have a row in the table (never the memo: a project deletion removes the
    rows only that project used, which other processes may still remember)."""
    wanted, found = list(dict.fromkeys(hashes)), set()
    for start in range(0, len(wanted), _IN_CHUNK):
        found.update(Embedding.objects.filter(model_id=model_id, text_hash__in=wanted[start : start + _IN_CHUNK])
                     .values_list("text_hash", flat=True))
    return found


def missing_item_ids(project_id: int, model_id: str, item_ids: Iterable[int] | None = None) -> list[int]:
    """Items of the project (or of ``item_ids``) whose text has no cached vector yet."""
    items = Item.objects.filter(project_id=project_id)
    if item_ids is not None:
        items = items.filter(id__in=list(item_ids))
    cached = Embedding.objects.filter(model_id=model_id, text_hash=OuterRef("text_hash"))
    return list(items.exclude(Exists(cached)).order_by("id").values_list("id", flat=True))


def copy_id_blob_pairs(sql: str, params: list) -> tuple[np.ndarray, np.ndarray] | None:
    """PostgreSQL only: run ``sql`` (selecting a bigint and a fixed-length bytea) through
    ``COPY … TO STDOUT (FORMAT binary)`` and decode it with numpy in one pass: (ids, uint8 matrix
    of the blobs). Text-mode fetching hex-encodes bytea and costs seconds per 100k vectors; this
    reads the raw bytes. Returns None when the blobs are not all the same length."""
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        query = cursor.cursor.mogrify(sql, params).decode()
        cursor.cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT binary)", buffer)
    data = buffer.getbuffer()
    # Header: 11-byte signature, int32 flags, int32 extension length (+ extension); trailer int16 -1.
    start = 19 + int.from_bytes(data[15:19], "big")
    body = data[start : len(data) - 2]
    if len(body) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.uint8)
    if int.from_bytes(body[2:6], "big") != 8:
        return None
    blob_len = int.from_bytes(body[14:18], "big")
    row = 2 + 4 + 8 + 4 + blob_len
    if blob_len <= 0 or len(body) % row:
        return None
    rows = np.frombuffer(body, dtype=np.dtype([("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"),
                                                ("blob", "u1", (blob_len,))]))
    if (rows["l2"] != blob_len).any() or (rows["l1"] != 8).any():
        return None
    return rows["id"].astype(np.int64), np.ascontiguousarray(rows["blob"])


# Per-process copy of whole pools (PostgreSQL path): (project_id, model_id) → (fingerprint, ids,
# matrix). Safe because (a) vectors are content-addressed and immutable, (b) the fingerprint —
# count and sum of the project's item ids — changes with any insert or delete (ids only grow, so
# k deletions plus k insertions always raise the sum), and (c) only complete pools (every item had
# a vector) are kept, so a vector added later cannot be missing from a kept copy.
_POOLS: OrderedDict[tuple[int, str], tuple[tuple, np.ndarray, np.ndarray]] = OrderedDict()
_POOLS_LOCK = threading.Lock()
# Set by labeling.loop.tasks when a Celery worker starts: only workers keep whole pools by default, so
# web processes do not each hold a 150 MB copy per project.
WORKER_PROCESS = False


def pool_memo_limit() -> int:
    configured = settings.LONGTAIL_POOL_MEMO_PROJECTS
    if configured is not None:
        return int(configured)
    return 2 if WORKER_PROCESS else 0


def _items_fingerprint(project_id: int) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), coalesce(sum(id), 0) FROM {Item._meta.db_table} WHERE project_id = %s", [project_id]
        )
        count, total = cursor.fetchone()
    return int(count), int(total)


def pool_matrix(project_id: int, model_id: str) -> tuple[np.ndarray, np.ndarray] | None:
    """PostgreSQL: (ids ascending, read-only float32 matrix) of every project item with a cached
    vector, from one binary COPY or the per-process copy. None when the binary path does not apply."""
    keep = pool_memo_limit()
    fingerprint = _items_fingerprint(project_id)
    key = (project_id, model_id)
    with _POOLS_LOCK:
        hit = _POOLS.get(key)
        if hit is not None and hit[0] == fingerprint:
            _POOLS.move_to_end(key)
            return hit[1], hit[2]
    pairs = copy_id_blob_pairs(
        f"SELECT i.id, e.vector FROM {Item._meta.db_table} i JOIN {Embedding._meta.db_table} e "
        "ON e.text_hash = i.text_hash AND e.model_id = %s WHERE i.project_id = %s ORDER BY i.id",
        [model_id, project_id],
    )
    if pairs is None:
        return None
    ids, blobs = pairs
    matrix = blobs.view("<f4") if len(ids) else np.zeros((0, 0), dtype=np.float32)
    ids.flags.writeable = False
    matrix.flags.writeable = False
    if keep > 0 and len(ids) == fingerprint[0]:
        with _POOLS_LOCK:
            _POOLS[key] = (fingerprint, ids, matrix)
            while len(_POOLS) > keep:
                _POOLS.popitem(last=False)
    return ids, matrix


def clear_memos() -> None:
    """Forget every per-process copy (tests and benchmarks measuring cold loads)."""
    memo.clear()
    with _POOLS_LOCK:
        _POOLS.clear()


def project_matrix(
    project_id: int, model_id: str, *, id_min: int | None = None, id_max: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(item ids ascending, float32 matrix row-aligned) for the project's items that have a
    cached vector, optionally restricted to ids in [id_min, id_max]. On PostgreSQL one binary
    COPY of a join; elsewhere one join whose vectors go through the memo."""
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
    if connection.vendor == "postgresql":
        pool = pool_matrix(project_id, model_id)
        if pool is not None:
            ids, matrix = pool
            lo = 0 if id_min is None else int(np.searchsorted(ids, id_min, side="left"))
            hi = len(ids) if id_max is None else int(np.searchsorted(ids, id_max, side="right"))
            if hi <= lo:
                return ids[:0], np.zeros((0, 0), dtype=np.float32)
            return ids[lo:hi], matrix[lo:hi]
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
        _memo_after_commit(model_id, fetched)
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
