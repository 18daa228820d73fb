"""Export of labeled items (CSV / JSONL, streamed) and of the active model (zip bundle).

Two passes keep memory bounded for a million rows: pass 1 reads only (item id, duplicate group,
label id, origin) to resolve labels and compute the group-aware train / val / test split (numpy
arrays of ints); pass 2 streams the items with their text in chunks, prefetching answers and wave
picks per chunk, and writes rows as they come."""
import csv
import io
import json
import zipfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Prefetch

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.models import Label, Project
from labeling.waves.models import WaveItem

from .resolve import Answer, resolve

FORMATS = ("csv", "jsonl")
CHUNK = 2000
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
COLUMNS = ["item_id", "external_id", "text", "label", "coarse_label", "label_source", "annotators",
           "agreement", "wave", "strategy", "inclusion_prob", "dup_group", "source", "split"]
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell):
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _labeled_answers():
    return Annotation.objects.filter(undone=False, skipped=False, label__isnull=False)


@dataclass
class LabeledIndex:
    """Pass 1: every labeled item's id (sorted), resolved label id and split."""

    item_ids: np.ndarray
    label_ids: np.ndarray
    splits: np.ndarray

    def lookup(self, item_id: int) -> int | None:
        pos = int(np.searchsorted(self.item_ids, item_id))
        if pos < len(self.item_ids) and self.item_ids[pos] == item_id:
            return pos
        return None


def labeled_index(project: Project, *, seed: int = 0) -> LabeledIndex:
    from learner.splits import group_stratified_split

    rows = (_labeled_answers().filter(project=project).order_by("item_id", "pk")
            .values_list("item_id", "item__dup_group", "label_id", "origin", "pk"))
    # Compact int64 arrays, not lists of Python ints: pass 1 stays small for a million items.
    item_ids, groups, label_ids = array("q"), array("q"), array("q")
    current, current_group, answers = None, None, []

    def flush():
        decided = resolve(answers)
        if decided is not None:
            item_ids.append(current)
            groups.append(current_group if current_group is not None else -current)
            label_ids.append(decided.label_id)

    for item_id, dup_group, label_id, origin, pk in rows.iterator(chunk_size=10000):
        if item_id != current:
            if current is not None:
                flush()
            current, current_group, answers = item_id, dup_group, []
        answers.append(Answer(label_id, origin, pk))
    if current is not None:
        flush()
    item_ids = np.frombuffer(item_ids, dtype=np.int64) if item_ids else np.zeros(0, dtype=np.int64)
    label_ids = np.frombuffer(label_ids, dtype=np.int64) if label_ids else np.zeros(0, dtype=np.int64)
    if len(item_ids) == 0:
        return LabeledIndex(item_ids, label_ids, np.asarray([], dtype="<U5"))
    names = dict(Label.objects.filter(project=project).values_list("pk", "name"))
    y = [names[i] for i in label_ids.tolist()]
    splits = np.asarray(group_stratified_split(y, groups=np.frombuffer(groups, dtype=np.int64), fractions=SPLIT_FRACTIONS,
                                               seed=seed))
    return LabeledIndex(item_ids, label_ids, splits)


def iter_rows(project: Project, *, include_duplicates: bool = False, seed: int = 0,
              chunk_size: int = CHUNK) -> Iterator[dict]:
    """One dict per labeled item (and, optionally, per unlabeled exact duplicate of one)."""
    index = labeled_index(project, seed=seed)
    if len(index.item_ids) == 0:
        return
    labels = {lab.pk: lab for lab in Label.objects.filter(project=project).select_related("parent")}
    answers = (_labeled_answers().select_related("annotator", "assignment__wave_item__wave").order_by("pk"))
    picks = WaveItem.objects.select_related("wave").order_by("wave__number")
    items = (Item.objects.filter(project=project, pk__in=_labeled_answers().filter(project=project)
                                 .values("item_id"), pk__lte=int(index.item_ids[-1]))
             .select_related("source").order_by("pk")
             .prefetch_related(Prefetch("annotations", queryset=answers, to_attr="answers"),
                               Prefetch("wave_picks", queryset=picks, to_attr="picks")))
    emitted_duplicates: set[int] = set()
    chunk: list[tuple[Item, dict]] = []
    for item in items.iterator(chunk_size=chunk_size):
        pos = index.lookup(item.pk)
        if pos is None:
            continue  # labeled after pass 1 started: it joins the next export
        row = _item_row(item, labels, index.splits[pos])
        if row is None:
            continue
        yield row
        if include_duplicates:
            chunk.append((item, row))
            if len(chunk) >= chunk_size:
                yield from _duplicate_rows(project, chunk, index, emitted_duplicates)
                chunk = []
    if include_duplicates and chunk:
        yield from _duplicate_rows(project, chunk, index, emitted_duplicates)


def _item_row(item: Item, labels: dict, split: str) -> dict | None:
    answers = [Answer(a.label_id, a.origin, a.pk, a.annotator.username if a.annotator_id else None)
               for a in item.answers]
    decided = resolve(answers)
    if decided is None:
        return None
    label = labels[decided.label_id]
    # The wave and strategy that brought the label: the newest answer given through a wave lease,
    # else the item's first wave pick.
    pick = next((a.assignment.wave_item for a in reversed(item.answers)
                 if a.assignment_id and a.assignment.wave_item_id), None)
    pick = pick or (item.picks[0] if item.picks else None)
    return {
        "item_id": item.pk,
        "external_id": item.external_id,
        "text": item.text,
        "label": label.name,
        "coarse_label": label.parent.name if label.parent_id else label.name,
        "label_source": decided.origin,
        "annotators": list(decided.annotators),
        "agreement": round(decided.agreement, 4),
        "wave": pick.wave.number if pick else None,
        "strategy": pick.strategy if pick else None,
        "inclusion_prob": pick.inclusion_prob if pick else None,
        "dup_group": item.dup_group if item.dup_group is not None else item.pk,
        "source": item.source.name if item.source_id else None,
        "split": str(split),
    }


def _duplicate_rows(project, chunk, index: LabeledIndex, emitted: set) -> Iterator[dict]:
    """Unlabeled exact duplicates (same normalized-text hash) of the chunk's labeled items get their
    label, marked label_source "duplicate", in the same split (so they never leak across splits)."""
    by_hash = {}
    for item, row in chunk:
        by_hash.setdefault(item.text_hash, row)
    duplicates = (Item.objects.filter(project=project, text_hash__in=list(by_hash))
                  .select_related("source").order_by("pk"))
    for dup in duplicates.iterator(chunk_size=CHUNK):
        if dup.pk in emitted or index.lookup(dup.pk) is not None:
            continue
        emitted.add(dup.pk)
        origin = by_hash[dup.text_hash]
        yield {**origin, "item_id": dup.pk, "external_id": dup.external_id, "text": dup.text,
               "label_source": "duplicate", "annotators": [], "agreement": None, "wave": None,
               "strategy": None, "inclusion_prob": None,
               "source": dup.source.name if dup.source_id else None}


class _Line:
    """csv.writer target that hands back each written line instead of buffering them."""

    def write(self, value):
        return value


def stream_export(project: Project, fmt: str, *, include_duplicates: bool = False, seed: int = 0) -> Iterator[str]:
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    rows = iter_rows(project, include_duplicates=include_duplicates, seed=seed)
    if fmt == "jsonl":
        for row in rows:
            yield json.dumps(row, ensure_ascii=False) + "\n"
        return
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for row in rows:
        cells = {**row, "annotators": ";".join(row["annotators"])}
        yield writer.writerow([neutralise(cells[c]) if cells[c] is not None else "" for c in COLUMNS])


# --- model bundle --------------------------------------------------------------------------------
MODEL_README = """# Longtail model bundle — project {slug}, model version {number}

Files
- `head.bin` — the trained classifier head (`learner.training.TrainedClassifier.to_bytes()`).
- `model.json` — temperature, per-label thresholds, label map (column order of the probabilities),
  class weights, training-set size, training config and the sentence encoder it expects.
- `metrics.json` — the validation report (per-class precision / recall / F1, confusion matrix,
  calibration, thresholds table).

The head works on sentence embeddings: {encoder} (L2-normalised, 384 floats per text).

Load and use (inside a Longtail checkout or with its `learner` package importable):

```python
import json
from sentence_transformers import SentenceTransformer
from learner.training import TrainedClassifier

head = TrainedClassifier.from_bytes(open("head.bin", "rb").read())
encoder = SentenceTransformer("/path/to/all-MiniLM-L6-v2")   # a local copy; no download needed
X = encoder.encode(["my card was charged twice"], normalize_embeddings=True)
for decision in head.decide(X):
    print(decision)   # {{"label", "coarse_label", "prob", "needs_review", "fallback"}}
```

`predict_proba(X)` gives calibrated probabilities (temperature already applied) in the order of
`model.json`'s `label_map`. A prediction whose probability is below its label's threshold has
`needs_review: true`: send it to a person. `fallback: true` means the fine label was too unsure and
only the coarse label is given.
"""


def model_artifact_bytes(version) -> bytes | None:
    if version.artifact:
        return bytes(version.artifact)
    if version.artifact_path:
        path = Path(version.artifact_path)
        if not path.is_absolute():
            path = Path(settings.LONGTAIL_ARTIFACT_DIR) / path
        if path.is_file():
            return path.read_bytes()
    return None


def model_bundle(project: Project, version) -> bytes:
    """The zip bundle of a model version. ValueError when the version has no stored artifact."""
    head = model_artifact_bytes(version)
    if head is None:
        raise ValueError(f"Model version {version.number} has no stored artifact to export.")
    meta = {"project": project.slug, "version": version.number, "state": version.state,
            "encoder": settings.LONGTAIL_MODEL_ID, "temperature": version.temperature,
            "thresholds": version.thresholds, "label_map": version.label_map,
            "class_weights": version.class_weights, "train_size": version.train_size, "config": version.config,
            "created_at": version.created_at.isoformat()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("head.bin", head)
        bundle.writestr("model.json", json.dumps(meta, indent=2, default=str))
        bundle.writestr("metrics.json", json.dumps(version.metrics, indent=2, default=str))
        bundle.writestr("README.md", MODEL_README.format(slug=project.slug, number=version.number,
                                                         encoder=settings.LONGTAIL_MODEL_ID))
    return buffer.getvalue()
