"""Read paths of the items app."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .models import ImportBatch, Item
from .services import rejects_path_for


def recent_imports(project, limit: int = 20):
    return ImportBatch.objects.filter(project=project).select_related("created_by").order_by("-created_at")[:limit]


def import_batch(project, batch_id: int) -> ImportBatch:
    return ImportBatch.objects.get(project=project, id=batch_id)


def rejects_file(batch: ImportBatch) -> Path | None:
    """The rejected rows of an upload, once its import has ended: while it waits or runs the file is
    not there yet or not complete (and the page reloads when the import ends)."""
    if batch.state not in (ImportBatch.DONE, ImportBatch.FAILED):
        return None
    path = rejects_path_for(batch)
    return path if path.is_file() else None


def exact_duplicates_of(item: Item):
    """The other items of the project with the same normalized text (same text_hash)."""
    return Item.objects.filter(project_id=item.project_id, text_hash=item.text_hash).exclude(id=item.id).order_by("id")


def exact_duplicate_map(project, item_ids) -> dict[int, list[int]]:
    """For export: item id -> ids of its exact duplicates in the project (other items with the
    same text_hash), for the given items, in two queries however many items there are."""
    item_ids = list(item_ids)
    hashes: dict[int, str] = {}
    for start in range(0, len(item_ids), 900):
        part = item_ids[start : start + 900]
        hashes.update(Item.objects.filter(project=project, id__in=part).values_list("id", "text_hash"))
    by_hash: dict[str, list[int]] = defaultdict(list)
    wanted = list(set(hashes.values()))
    for start in range(0, len(wanted), 900):
        rows = Item.objects.filter(project=project, text_hash__in=wanted[start : start + 900]).values_list("text_hash", "id")
        for h, item_id in rows:
            by_hash[h].append(item_id)
    return {item_id: sorted(i for i in by_hash[h] if i != item_id) for item_id, h in hashes.items()}


def group_members(project, dup_group: int):
    """All items of a near-duplicate group (exact duplicates included)."""
    return Item.objects.filter(project=project, dup_group=dup_group).order_by("id")
