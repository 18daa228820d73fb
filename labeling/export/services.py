"""Export of labeled items (CSV / JSONL, streamed); model bundles are in ``.bundle``.

Two passes keep memory bounded for a million rows: pass 1 reads only (item id, duplicate group,
label id, origin) to resolve labels and compute the group-aware train / val / test split (numpy
arrays of ints); pass 2 streams the items with their text in chunks, fetching answers and wave
picks per chunk, and writes rows as they come."""
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from django.db import connection

from labeling.annotations.disagreement import disputed, disputed_items
from labeling.annotations.models import Annotation
from labeling.annotations.resolve import ANSWER_ORDER, Answer, resolve
from labeling.items.models import Item
from labeling.projects.models import Project
from labeling.waves.models import WaveItem
from learner.splits import stable_group_split

from .bundle import model_artifact_bytes, model_bundle  # noqa: F401 (the model bundle, importable from here too)
from .formats import FORMATS

CHUNK = 2000
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


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


def _resolved_labels(project: Project) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every labeled item's id (sorted), duplicate group (−id where it has none) and resolved label id."""
    # "Ties go to the newest answer" must pick the same answer here as in training (ANSWER_ORDER):
    # two answers stored at once can have their ids and times in opposite orders.
    rows = (_labeled_answers().filter(project=project).order_by("item_id", *ANSWER_ORDER)
            .values_list("item_id", "item__dup_group", "label_id", "origin"))
    # Compact int64 arrays, not lists of Python ints: pass 1 stays small for a million items.
    item_ids, groups, label_ids = array("q"), array("q"), array("q")
    current, current_group, answers = None, None, []

    def flush():
        decided = resolve(answers)
        if decided is not None:
            item_ids.append(current)
            groups.append(current_group if current_group is not None else -current)
            label_ids.append(decided.label_id)

    for position, (item_id, dup_group, label_id, origin) in enumerate(rows.iterator(chunk_size=10000)):
        if item_id != current:
            if current is not None:
                flush()
            current, current_group, answers = item_id, dup_group, []
        answers.append(Answer(label_id, origin, position))
    if current is not None:
        flush()
    return tuple(np.frombuffer(values, dtype=np.int64) if values else np.zeros(0, dtype=np.int64)
                 for values in (item_ids, groups, label_ids))


def labeled_index(project: Project, *, seed: int = 0) -> LabeledIndex:
    """Pass 1. The split is keyed by each item's duplicate group (minus its id where it has none,
    ``_resolved_labels``), not shuffled per export (``stable_group_split``): one more labeled item
    moves at most two other groups of its label's stratum, one across each cut, and none from test
    to train once the stratum has 10 rows, so a later export does not train on an earlier one's test
    set; over many more labels a test group can reach train only by way of val.

    The strata are keyed by label id, not name: a group whose items tie between two labels goes
    to the stratum of the lower id (``stable_group_split`` breaks ties by the smaller label, ids by
    value), which a rename does not change. Keyed by name, renaming a label moved such groups to
    the other label's stratum, and the cuts of both strata with them."""
    item_ids, groups, label_ids = _resolved_labels(project)
    if len(item_ids) == 0:
        return LabeledIndex(item_ids, label_ids, np.asarray([], dtype="<U5"))
    splits = np.asarray(stable_group_split(label_ids.tolist(), groups=groups.tolist(), fractions=SPLIT_FRACTIONS,
                                           seed=seed))
    return LabeledIndex(item_ids, label_ids, splits)


def duplicate_counts(project: Project) -> dict[str, int]:
    """What "also export exact duplicates" would add, before anyone downloads: unlabeled items
    with the same normalized text as a labeled one, ``exported`` where every labeled twin has the
    same label and none is disputed, ``left_out`` otherwise (the rule of ``_duplicate_rows``)."""
    item_ids, _groups, label_ids = _resolved_labels(project)
    if len(item_ids) == 0:
        return {"exported": 0, "left_out": 0}
    label_of = dict(zip(item_ids.tolist(), label_ids.tolist(), strict=True))
    labels_of_hash: dict[str, set[int]] = {}
    disputed_hashes: set[str] = set()
    unlabeled: dict[str, int] = {}
    labeled_hashes = Item.objects.filter(project=project, pk__in=_labeled_answers().filter(project=project)
                                         .values("item_id")).values("text_hash")
    twins = Item.objects.filter(project=project, text_hash__in=labeled_hashes).annotate(is_disputed=disputed())
    for pk, digest, is_disputed in twins.values_list("pk", "text_hash", "is_disputed").iterator(chunk_size=10000):
        if pk in label_of:
            labels_of_hash.setdefault(digest, set()).add(label_of[pk])
            if is_disputed:
                disputed_hashes.add(digest)
        else:
            unlabeled[digest] = unlabeled.get(digest, 0) + 1
    counts = {"exported": 0, "left_out": 0}
    for digest, count in unlabeled.items():
        inherits = len(labels_of_hash.get(digest, ())) == 1 and digest not in disputed_hashes
        counts["exported" if inherits else "left_out"] += count
    return counts


ITEM_FIELDS = ("pk", "external_id", "text", "text_hash", "dup_group", "source__name", "metadata")
# Each answer comes with its label's name and coarse (parent) name, read in the same query: a label
# created while the export streams is named like any other (a labels dict read once at the start
# would not know it).
ANSWER_FIELDS = ("item_id", "label_id", "origin", "pk", "annotator__username",
                 "assignment__wave_item__wave__number", "assignment__wave_item__strategy",
                 "assignment__wave_item__inclusion_prob", "suggestion_shown", "label__name", "label__parent__name")


def _in_chunks(rows, size: int):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def iter_rows(project: Project, *, include_duplicates: bool = False, seed: int = 0,
              chunk_size: int | None = None, report: dict | None = None) -> Iterator[dict]:
    """One dict per labeled item (and, optionally, per unlabeled exact duplicate of one whose
    labeled twins agree and are not disputed; ``report["duplicates_left_out"]`` counts the others).

    Items stream from a server-side cursor (``.iterator(chunk_size)``); for each chunk, one query
    fetches the chunk's answers (with annotator and wave pick) and one its first wave picks —
    plain tuples, not model instances, which keeps a million-row export fast and small. Chunks hold
    ``chunk_size`` items, ``CHUNK`` by default."""
    chunk_size = chunk_size or CHUNK
    report = report if report is not None else {}
    report.setdefault("duplicates_left_out", 0)
    index = labeled_index(project, seed=seed)
    if len(index.item_ids) == 0:
        return
    items = (Item.objects.filter(project=project, pk__in=_labeled_answers().filter(project=project)
                                 .values("item_id"), pk__lte=int(index.item_ids[-1]))
             .order_by("pk").values_list(*ITEM_FIELDS))
    emitted_duplicates: set[int] = set()
    for chunk in _in_chunks(items.iterator(chunk_size=chunk_size), chunk_size):
        ids = [item[0] for item in chunk]
        answers: dict[int, list] = {}
        for answer in (_labeled_answers().filter(item_id__in=ids).order_by(*ANSWER_ORDER)
                       .values_list(*ANSWER_FIELDS)):
            answers.setdefault(answer[0], []).append(answer)
        extras = _chunk_extras(project, ids)
        first_picks: dict[int, tuple] = {}
        for item_id, wave, strategy, inclusion in (WaveItem.objects.filter(item_id__in=ids)
                                                   .order_by("wave__number", "pk")
                                                   .values_list("item_id", "wave__number", "strategy",
                                                                "inclusion_prob")):
            first_picks.setdefault(item_id, (wave, strategy, inclusion))
        emitted = []
        for item in chunk:
            pos = index.lookup(item[0])
            if pos is None:
                continue  # labeled after pass 1 started: it joins the next export
            row = _item_row(item, answers.get(item[0], []), first_picks.get(item[0]), index.splits[pos], extras)
            if row is None:
                continue
            yield row
            emitted.append((item[3], row))
        if include_duplicates and emitted:
            yield from _duplicate_rows(project, emitted, index, emitted_duplicates, report)


def _chunk_extras(project: Project, ids: list[int]) -> dict:
    """A chunk's skip reasons and disputed items (one query each per chunk)."""
    skips: dict[int, list] = {}
    for item_id, annotator, reason in (Annotation.objects.filter(item_id__in=ids, undone=False, skipped=True)
                                       .order_by("pk").values_list("item_id", "annotator__username", "skip_reason")):
        skips.setdefault(item_id, []).append({"annotator": annotator, "reason": reason})
    return {"skips": skips, "disputed": disputed_items(project, ids)}


def _item_row(item: tuple, answers: list, first_pick: tuple | None, split: str, extras: dict) -> dict | None:
    pk, external_id, text, _digest, dup_group, source, metadata = item
    # answers come in time order (ANSWER_ORDER): their position is the "newest" of the tie-break.
    decided = resolve([Answer(a[1], a[2], position, a[4]) for position, a in enumerate(answers)])
    if decided is None:
        return None
    # Label id -> (name, coarse name), from the answers' own rows (ANSWER_FIELDS).
    labels = {a[1]: (a[9], a[10] or a[9]) for a in answers}
    name, coarse = labels[decided.label_id]
    # The wave and strategy that brought the label: the newest answer given through a wave lease,
    # else the item's first wave pick.
    pick = next((a[5:8] for a in reversed(answers) if a[5] is not None), None) or first_pick
    return {
        "item_id": pk,
        "external_id": external_id,
        "text": text,
        "label": name,
        "coarse_label": coarse,
        "label_source": decided.origin,
        "annotators": list(decided.annotators),
        "agreement": round(decided.agreement, 4),
        "wave": pick[0] if pick else None,
        "strategy": pick[1] if pick else None,
        "inclusion_prob": pick[2] if pick else None,
        "dup_group": dup_group if dup_group is not None else pk,
        "source": source,
        "split": str(split),
        # Annotators disagree and no lead has adjudicated yet: the label is the majority's (ties:
        # the newest answer), votes says who said what. Read from the answers, not from an open
        # task (labeling.annotations.disagreement.disputed_sql, which the item browser and the
        # estimates read too): a lead's dismissal closes the task and stores nothing, so the
        # annotators still disagree and nobody decided. A standing adjudication is the decision.
        "disputed": pk in extras["disputed"],
        # suggestion_shown: the page showed the model's suggestion with the item (an anchored answer).
        "votes": [{"annotator": a[4], "label": labels[a[1]][0], "origin": a[2], "suggestion_shown": a[8]}
                  for a in answers],
        "skip_reasons": extras["skips"].get(pk, []),
        "metadata": metadata,
    }


def _duplicate_rows(project, emitted: list, index: LabeledIndex, seen: set, report: dict) -> Iterator[dict]:
    """Unlabeled exact duplicates (same normalized-text hash) of the chunk's labeled items get their
    label, marked label_source "duplicate", in the same split (so they never leak across splits).

    Only when every labeled twin in the project, in this chunk or any other, has that one label
    and none of them is disputed. Twins labeled differently (refund, billing) leave the duplicate
    out, counted in ``report["duplicates_left_out"]``: any one of their labels would be a guess
    exported as if it were an answer, and a training set is better without the row than with a
    wrong label. A disputed twin's label is such a guess too (the tie-break between annotators
    who disagree), and the copy, with no votes of its own, could not say so: it is left out the
    same way. The twins' own rows show the conflict."""
    by_hash = {}
    for digest, row in emitted:
        by_hash.setdefault(digest, row)
    twins = list(Item.objects.filter(project=project, text_hash__in=list(by_hash)).order_by("pk")
                 .values_list(*ITEM_FIELDS))
    labels_of: dict[str, set[int]] = {}
    labeled_twins: dict[int, str] = {}
    for twin in twins:
        pos = index.lookup(twin[0])
        if pos is not None:
            labels_of.setdefault(twin[3], set()).add(int(index.label_ids[pos]))
            labeled_twins[twin[0]] = twin[3]
    guessed = {labeled_twins[pk] for pk in disputed_items(project, list(labeled_twins))}
    for pk, external_id, text, digest, _group, source, metadata in twins:
        if pk in seen or index.lookup(pk) is not None:
            continue
        seen.add(pk)
        if len(labels_of.get(digest, ())) != 1 or digest in guessed:
            report["duplicates_left_out"] += 1
            continue
        yield {**by_hash[digest], "item_id": pk, "external_id": external_id, "text": text,
               "label_source": "duplicate", "annotators": [], "agreement": None, "wave": None,
               "strategy": None, "inclusion_prob": None, "source": source, "disputed": False, "votes": [],
               "skip_reasons": [], "metadata": metadata}


def metadata_keys(project: Project) -> list[str]:
    """Every metadata key of the project's items, sorted: a CSV's metadata columns must be known
    before its header. One pass in the database, whichever it is (metadata is always an object:
    the items table's check, labeling.items.json_object)."""
    table = Item._meta.db_table
    if connection.vendor == "postgresql":
        sql = (f"SELECT DISTINCT jsonb_object_keys(metadata) FROM {table} "
               f"WHERE project_id = %s AND metadata <> '{{}}'::jsonb")
    else:
        sql = (f"SELECT DISTINCT j.key FROM {table}, json_each({table}.metadata) AS j "
               f"WHERE {table}.project_id = %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk])
        return sorted(str(row[0]) for row in cursor.fetchall())


def stream_export(project: Project, fmt: str, *, include_duplicates: bool = False, seed: int = 0,
                  neutralise_formulas: bool = True, report: dict | None = None) -> Iterator[str]:
    """The project's labeled items in one of the registered formats (labeling.export.formats).
    A format gets the options it declares: neutralise_formulas (spreadsheet formula cells get a
    leading '), metadata_keys (columns before the first row). ``report`` is filled as the rows
    stream (see iter_rows)."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    export_format = FORMATS[fmt]
    options = {}
    if "neutralise_formulas" in export_format.options:
        options["neutralise_formulas"] = neutralise_formulas
    if "metadata_keys" in export_format.options:
        options["metadata_keys"] = metadata_keys(project)
    yield from export_format.write(iter_rows(project, include_duplicates=include_duplicates, seed=seed,
                                             report=report), **options)

