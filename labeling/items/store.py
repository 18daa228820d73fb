"""The database side of duplicate grouping (labeling.items.dedup.DedupStore): what earlier
imports (and earlier chunks of this one) stored, looked up with indexed queries in batches."""
from __future__ import annotations

import numpy as np
from django.db import connection
from psycopg2.extras import execute_values

from .dedup import BANDS, Features, features
from .models import Item, ItemLsh


def _batch_size() -> int:
    # SQLite caps the number of query parameters; PostgreSQL takes long IN lists happily.
    limit = connection.features.max_query_params
    return min(limit - 10, 900) if limit else 5000


def _batches(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]


class DbDedupStore:
    def __init__(self, project_id: int):
        self.project_id = project_id

    def groups_for_hashes(self, hashes) -> dict[str, int]:
        found: dict[str, int] = {}
        for part in _batches(list(hashes), _batch_size()):
            rows = Item.objects.filter(project_id=self.project_id, text_hash__in=part).values_list("text_hash", "dup_group", "id")
            for h, group, item_id in rows:
                # Items that never went through grouping (dup_group NULL) are their own group.
                found.setdefault(h, group or item_id)
        return found

    def items_for_band_keys(self, keys: np.ndarray) -> dict[int, list[int]]:
        if connection.vendor == "postgresql":
            return self._items_for_band_keys_pg(keys)
        found: dict[int, list[int]] = {}
        size = _batch_size()
        for band in range(BANDS):
            column = f"b{band}"
            for part in _batches(np.unique(keys[:, band]).tolist(), size):
                rows = ItemLsh.objects.filter(project_id=self.project_id, **{f"{column}__in": part}).values_list(column, "item_id")
                for key, item_id in rows:
                    found.setdefault(key, []).append(item_id)
        return found

    def groups_and_features(self, item_ids) -> dict[int, tuple[int, Features]]:
        out: dict[int, tuple[int, Features]] = {}
        for part in _batches(list(item_ids), _batch_size()):
            rows = list(Item.objects.filter(id__in=part).values_list("id", "dup_group", "text"))
            feats = features([text for _, _, text in rows])
            for (item_id, group, _), f in zip(rows, feats, strict=True):
                out[item_id] = (group or item_id, f)
        return out

    def _items_for_band_keys_pg(self, keys: np.ndarray) -> dict[int, list[int]]:
        """One query for all bands: PostgreSQL ORs the 16 band indexes into one bitmap scan, and
        arrays travel as one parameter each instead of thousands."""
        wanted = [np.unique(keys[:, band]).tolist() for band in range(BANDS)]
        columns = [f"b{band}" for band in range(BANDS)]
        where = " OR ".join(f"{c} = ANY(%s::bigint[])" for c in columns)
        sql = f"SELECT item_id, {', '.join(columns)} FROM {ItemLsh._meta.db_table} WHERE project_id = %s AND ({where})"
        sets = [set(w) for w in wanted]
        found: dict[int, list[int]] = {}
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.project_id, *wanted])
            for item_id, *row in cursor.fetchall():
                for band, key in enumerate(row):
                    if key in sets[band]:
                        found.setdefault(key, []).append(item_id)
        return found


def insert_band_keys(project_id: int, item_ids: list[int], keys: np.ndarray) -> None:
    """Store the LSH keys of new items: execute_values pages of 5,000 rows on PostgreSQL (the ORM's
    per-value preparation costs more than the insert here), bulk_create elsewhere."""
    if not item_ids:
        return
    if connection.vendor == "postgresql":
        columns = ", ".join(f"b{band}" for band in range(BANDS))
        rows = [(item_id, project_id, *row) for item_id, row in zip(item_ids, keys.tolist(), strict=True)]
        with connection.cursor() as cursor:
            execute_values(cursor.cursor, f"INSERT INTO {ItemLsh._meta.db_table} (item_id, project_id, {columns}) VALUES %s",
                           rows, page_size=5000)
        return
    ItemLsh.objects.bulk_create(
        [ItemLsh(item_id=item_id, project_id=project_id, **{f"b{b}": k for b, k in enumerate(row)})
         for item_id, row in zip(item_ids, keys.tolist(), strict=True)],
        batch_size=1000,
    )
