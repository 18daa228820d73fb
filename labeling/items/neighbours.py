"""Nearest neighbours of one item by embedding, for the item page: the most similar labeled items
(with their resolved labels) and the most similar unlabeled ones.

Vectors come from the embeddings cache (the learner's Embedding table, L2-normalized, so cosine
is a dot product). The cost is bounded: at most ``LONGTAIL_NEIGHBOUR_SCAN_ROWS`` vectors per
side are read (the newest labeled items; for unlabeled items an evenly spread sample of the
pool once it is larger than that), and the page says when it searched a sample.

Where the process keeps whole pool matrices (``pool_memo_limit() > 0``: Celery workers, or web
processes given ``LONGTAIL_POOL_MEMO_PROJECTS``) the same rows are picked out of that per-process
copy in numpy instead of being copied out of PostgreSQL on every view: a repeat view of a 26k-item
project then reads two small id lists instead of ~40 MB of vectors.
"""
from __future__ import annotations

import math

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Mod

from labeling.modeling import embedding
from labeling.modeling.embedding_store import copy_id_blob_pairs, pool_matrix, pool_memo_limit
from labeling.modeling.models import Embedding
from labeling.projects.models import Project

from . import browse
from .models import Item

DEFAULT_SCAN_ROWS = 50_000


def scan_rows() -> int:
    return int(getattr(settings, "LONGTAIL_NEIGHBOUR_SCAN_ROWS", DEFAULT_SCAN_ROWS))


def _cached(model_id: str) -> QuerySet[Embedding]:
    return Embedding.objects.filter(model_id=model_id, text_hash=OuterRef("text_hash"))


def _vectors(queryset: QuerySet[Item], model_id: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 matrix) of the newest ``limit`` items of the queryset that have a cached vector."""
    rows = queryset.filter(Exists(_cached(model_id))).annotate(
        vector=Subquery(_cached(model_id).values("vector")[:1])
    ).order_by("-id").values_list("id", "vector")[:limit]
    if connection.vendor == "postgresql":
        # Binary COPY: text mode would hex-encode every vector (seconds for 50k rows).
        sql, params = rows.query.sql_with_params()
        pairs = copy_id_blob_pairs(sql, list(params))
        if pairs is not None:
            ids, blobs = pairs
            return ids, (blobs.view("<f4") if len(ids) else np.zeros((0, 0), np.float32))
    fetched = list(rows)
    if not fetched:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    ids = np.fromiter((r[0] for r in fetched), dtype=np.int64, count=len(fetched))
    return ids, np.stack([np.frombuffer(bytes(r[1]), dtype=np.float32) for r in fetched])


def _nearest(query: np.ndarray, ids: np.ndarray, matrix: np.ndarray, k: int) -> list[tuple[int, float]]:
    if not len(ids) or matrix.shape[1] != query.shape[0]:
        return []
    sims = matrix @ query
    top = np.argpartition(-sims, min(k, len(sims) - 1))[:k] if len(sims) > k else np.arange(len(sims))
    top = top[np.argsort(-sims[top], kind="stable")]
    return [(int(ids[i]), float(sims[i])) for i in top]


def _memo_pool(project: Project, model_id: str, total: int, cap: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The project's whole pool from the per-process copy, where one is kept and the pool is no
    bigger than the two sides' scans would read anyway (so a miss costs no more than they do)."""
    if connection.vendor != "postgresql" or pool_memo_limit() <= 0 or total > 2 * cap:
        return None
    return pool_matrix(project.id, model_id)


def _pick(ids: np.ndarray, matrix: np.ndarray, mask: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """The newest ``cap`` rows under ``mask``, newest first, as ``_vectors`` picks them in SQL
    (the same order, so ties between equal similarities break the same way on both paths)."""
    rows = np.flatnonzero(mask)[::-1][:cap]
    return ids[rows], matrix[rows]


def neighbours(project: Project, item: Item, *, k: int = 8) -> dict:
    # The key the configured backend's vectors are stored under (int8 vectors get their own).
    model_id = embedding.model_id()
    own = Embedding.objects.filter(model_id=model_id, text_hash=item.text_hash).values_list("vector", flat=True).first()
    if own is None:
        return {"available": False, "message": "This item has no embedding yet; items are embedded before the "
                "next wave is planned.", "labeled": [], "unlabeled": []}
    query = np.frombuffer(bytes(own), dtype=np.float32)
    cap = scan_rows()
    project_items = Item.objects.filter(project=project)
    total = project_items.count()
    step = max(1, math.ceil(total / cap))
    pool = _memo_pool(project, model_id, total, cap)
    if pool is not None and len(pool[0]):
        ids, matrix = pool
        labeled = np.isin(ids, list(project_items.filter(Exists(browse.usable_answers())).values_list("id", flat=True)))
        others = ids != item.id
        # The same sample as the SQL path: every step-th id, in the item's own bucket.
        in_sample = (ids % step) == (item.id % step)
        labeled_ids, labeled_x = _pick(ids, matrix, others & labeled, cap)
        unlabeled_ids, unlabeled_x = _pick(ids, matrix, others & ~labeled & in_sample, cap)
    else:
        others = project_items.exclude(id=item.id)
        labeled_ids, labeled_x = _vectors(others.filter(Exists(browse.usable_answers())), model_id, cap)
        unlabeled = others.exclude(Exists(browse.usable_answers()))
        if step > 1:
            # An evenly spread sample of about ``cap`` items: every step-th id.
            unlabeled = unlabeled.alias(bucket=Mod("id", step)).filter(bucket=item.id % step)
        unlabeled_ids, unlabeled_x = _vectors(unlabeled, model_id, cap)
    near_labeled = _nearest(query, labeled_ids, labeled_x, k)
    near_unlabeled = _nearest(query, unlabeled_ids, unlabeled_x, k)
    return {
        "available": True, "sampled": step > 1,
        "scanned_labeled": int(len(labeled_ids)), "scanned_unlabeled": int(len(unlabeled_ids)),
        "labeled": _rows(project, near_labeled, with_labels=True),
        "unlabeled": _rows(project, near_unlabeled, with_labels=False),
    }


def _rows(project: Project, pairs: list[tuple[int, float]], *, with_labels: bool) -> list[dict]:
    ids = [i for i, _ in pairs]
    items = Item.objects.filter(project=project, id__in=ids).select_related("source").in_bulk()
    resolved = {}
    if with_labels and ids:
        resolved = {i: f["resolved_name"] for i, f in browse.row_states(project, ids).items()}
    return [{
        "id": i, "similarity": round(sim, 4), "text": items[i].text[:300],
        "source": items[i].source.name if items[i].source_id else None, "label": resolved.get(i),
    } for i, sim in pairs if i in items]
