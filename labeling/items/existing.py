"""Rows of an import that name an item the project already holds: by external_id, or, without one,
by the same text (exactly) and the same source as an item an earlier import brought.

A team moving in imports its corpus first and its labels after, so a labeled row for an item that
has no live answer brings its label to that item: an ``origin="import"`` answer, no second item.
Every other such row is refused, saying why: the row has no label (importing it again would make a
second copy of the item), the item already has an answer (which, and by whom), several items match
the row's text and source, another row of the file labels the same item, or the item is not free
to take a label now. That last is an item picked in a planned or open wave or leased to an
annotator (its answer is the annotators' to give: wait for the wave or the lease to end), or one
drawn with a known inclusion probability in a closed wave: the dashboard's estimates read a pick's
item's answer whatever its origin (projects.estimates), so an imported label would stand as the
answer to a pick nobody answered. Pass 1 decides (``ExistingItems.settle``); the write checks the
same again under the project's row lock (``blocked``), which planning and opening waves take, and
refuses the whole file when anything changed meanwhile.

A row an export marked as carrying a copied label (``export_files.LEFT_OUT_LABEL``, imported
without it) that matches an item is left out: the item is there already."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from labeling.annotations.models import Annotation, Assignment
from labeling.projects.label_names import written_out
from labeling.projects.models import Project
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash

from .export_files import LEFT_OUT_LABEL
from .models import Item
from .readers import RowError

_RETRY = ("give rows an external_id to import them as separate items, or import with --skip-invalid (the upload's "
          "'skip invalid rows') to import only the new rows")


def query_batch() -> int:
    step = connection.features.max_query_params or 5000
    return min(step - 10, 5000)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


@dataclass
class Match:
    """A row of the file and the project's items it names."""

    ordinal: int
    line: int
    field: str  # "external_id" or "text": what matched
    labeled: bool
    left_out: bool  # its copied label was left out (export_files.LEFT_OUT_LABEL)
    items: list[int]
    external_id: str | None = None
    filename: str | None = None  # of the earlier import, for a match by text
    same_text: bool = True  # a match by external_id: whether the item's text is the row's

    def where(self, slug: str) -> str:
        if self.field == "external_id":
            return f"external_id '{written_out(self.external_id)}' is already in project '{slug}'"
        return (f"already in project '{slug}': item {self.items[0]}, imported from '{written_out(self.filename)}', has "
                "the same text and source")


class ExistingItems:
    """Collects, while pass 1 reads the file, what finding its rows' items needs: the external ids,
    and the hashes of rows without one (nothing at all while the project has no items); looks them
    up in batches once the file is read."""

    def __init__(self, project: Project):
        self.project = project
        self.active = Item.objects.filter(project=project).exists()
        # external_id -> (ordinal, line, labeled, left out, the text's digest)
        self.by_external_id: dict[str, tuple[int, int, bool, bool, bytes]] = {}
        self.by_text: dict[str, list[tuple[int, int, str | None, bytes, bool, bool]]] = {}  # hash -> rows

    def add(self, ordinal: int, line: int, values: dict) -> None:
        if not self.active:
            return
        labeled, left_out = bool(values.get("label") or values.get("coarse_label")), LEFT_OUT_LABEL in values
        text = values["text"]
        if external_id := values.get("external_id"):
            self.by_external_id[external_id] = (ordinal, line, labeled, left_out, _digest(text))
        else:
            self.by_text.setdefault(text_hash(text), []).append(
                (ordinal, line, values.get("source"), _digest(text), labeled, left_out))

    def matches(self) -> Iterator[Match]:
        step = query_batch()
        ids = list(self.by_external_id)
        for start in range(0, len(ids), step):
            found = Item.objects.filter(project=self.project, external_id__in=ids[start : start + step])
            for external_id, item_id, text in found.values_list("external_id", "id", "text"):
                ordinal, line, labeled, left_out, digest = self.by_external_id[external_id]
                yield Match(ordinal, line, "external_id", labeled, left_out, [item_id], external_id=external_id,
                            same_text=digest == _digest(text))
        hashes = list(self.by_text)
        for start in range(0, len(hashes), step):
            part = hashes[start : start + step]
            earlier: dict[tuple, list[tuple[int, str]]] = {}
            found = (Item.objects.filter(project=self.project, text_hash__in=part, import_batch__isnull=False)
                     .order_by("id").values_list("text_hash", "text", "source__name", "id", "import_batch__filename"))
            for digest_hex, text, source, item_id, filename in found:
                earlier.setdefault((digest_hex, _digest(text), source), []).append((item_id, filename))
            for digest_hex in part:
                for ordinal, line, source, digest, labeled, left_out in self.by_text[digest_hex]:
                    if hits := earlier.get((digest_hex, digest, source)):
                        yield Match(ordinal, line, "text", labeled, left_out, [item_id for item_id, _ in hits],
                                    filename=hits[0][1])

    def settle(self, attach: dict[int, tuple[int, str]], left_out: set[int]) -> Iterator[tuple[int, RowError]]:
        """(record ordinal, error) for each row refused; fills ``attach`` (ordinal -> (the item whose label
        the row brings, the field that matched it)) and ``left_out`` (the ordinals of rows left out)."""
        slug = self.project.slug
        matches = []
        for m in self.matches():
            if m.left_out:
                left_out.add(m.ordinal)
            else:
                matches.append(m)
        answers = answered(self.project, {item for m in matches for item in m.items})
        wanted: dict[int, Match] = {}  # item id -> the row that brings it a label
        for m in sorted(matches, key=lambda m: m.line):
            item = m.items[0]
            if not m.labeled:
                copy = "the item and its label" if item in answers else "the item: the row has no label to bring to it"
                why = "" if m.field == "external_id" else f". Without an external_id, importing the row again would duplicate {copy}; {_RETRY}"
                yield m.ordinal, RowError(m.line, m.field, m.where(slug) + why)
            elif not m.same_text:
                yield m.ordinal, RowError(m.line, m.field, (
                    f"{m.where(slug)}: item {item} has another text than the row, so the row's label was not given "
                    "for it; correct the row's external_id or text"))
            elif len(m.items) > 1:
                shown = ", ".join(map(str, m.items[:5])) + (", …" if len(m.items) > 5 else "")
                yield m.ordinal, RowError(m.line, m.field, (
                    f"{len(m.items)} items of project '{slug}' have the same text and source (items {shown}), so the "
                    "row's label cannot be brought to one of them: give the row the external_id of the item to label"))
            elif item in answers:
                has = "already answered" if answers[item].startswith("skipped") else "already labeled"
                labeled = f", and its item {item} is {has}" if m.field == "external_id" else f" and is {has}"
                yield m.ordinal, RowError(m.line, m.field, (
                    f"{m.where(slug)}{labeled} ({answers[item]}); an import brings labels only to items without an "
                    "answer" + (f". Without an external_id, importing the row again would duplicate the item and its "
                                f"label; {_RETRY}" if m.field == "text" else "")))
            elif item in wanted:
                yield m.ordinal, RowError(m.line, m.field, (
                    f"{m.where(slug)}: item {item}, which line {wanted[item].line} of this file already brings a label "
                    "to; an item takes one imported label"))
            else:
                wanted[item] = m
        busy = blocked(self.project, set(wanted))
        for item, m in wanted.items():
            if item in busy:
                yield m.ordinal, RowError(m.line, m.field, f"{m.where(slug)}: its label cannot be brought to item "
                                                           f"{item} now: {busy[item]}")
            else:
                attach[m.ordinal] = (item, m.field)


def answered(project: Project, items: set[int]) -> dict[int, str]:
    """item id -> its live answer, in words, for the items that have one (a skip included: the pool
    has no item with a live answer, projects.selectors.IN_POOL)."""
    said: dict[int, str] = {}
    ids = sorted(items)
    for start in range(0, len(ids), query_batch()):
        rows = (Annotation.objects.filter(project=project, item_id__in=ids[start : start + query_batch()], undone=False)
                .order_by("item_id", "-pk").values_list("item_id", "origin", "skipped", "label__name",
                                                        "annotator__username", "created_at"))
        for item_id, origin, skipped, label, annotator, created in rows:
            if item_id in said:
                continue
            who = (f"by an import on {created:%Y-%m-%d %H:%M} UTC" if origin == Annotation.IMPORT
                   else "by a lead in review" if origin == Annotation.ADJUDICATION
                   else f"by annotator '{written_out(annotator or '(deleted account)')}'")
            said[item_id] = f"skipped {who}" if skipped or label is None else f"'{written_out(label)}', {who}"
    return said


def group_mates(project: Project, ids: list[int]) -> dict[int, int]:
    """Item id -> the item of ``ids`` whose duplicate group it is in (each of ``ids`` its own), the
    group read as the planner reads it (``labeling.projects.drawable``): ``dup_group``, else the
    same exact text among items with no ``dup_group``."""
    rows = list(Item.objects.filter(project=project, id__in=ids).values_list("id", "dup_group", "text_hash"))
    by_group = {group: item for item, group, _ in rows if group is not None}
    by_text = {digest: item for item, group, digest in rows if group is None}
    mates = {item: item for item, _, _ in rows}
    same_group = Q(dup_group__in=list(by_group)) | Q(dup_group__isnull=True, text_hash__in=list(by_text))
    for item, group, digest in Item.objects.filter(same_group, project=project).values_list("id", "dup_group",
                                                                                            "text_hash"):
        mates.setdefault(item, by_group[group] if group is not None else by_text[digest])
    return mates


def blocked(project: Project, items: set[int]) -> dict[int, str]:
    """item id -> why it may not take an imported label now, for the items picked in a planned or
    open wave or leased to an annotator, or whose duplicate is (a label makes the whole group a copy
    of an answered item, which no wave may draw: the wave would go on asking for it), or drawn with a
    known inclusion probability in a closed wave."""
    why: dict[int, str] = {}
    ids = sorted(items)
    now = timezone.now()
    for start in range(0, len(ids), query_batch()):
        part = ids[start : start + query_batch()]
        mates = group_mates(project, part)

        def which(item_id: int, mates=mates) -> str:
            return "it" if mates[item_id] == item_id else f"its duplicate, item {item_id},"

        leases = (Assignment.objects.filter(wave_item__item_id__in=list(mates), state=Assignment.LEASED,
                                            expires_at__gt=now)
                  .order_by("-expires_at").values_list("wave_item__item_id", "wave_item__wave__number", "expires_at"))
        for item_id, number, until in leases:
            why.setdefault(mates[item_id], f"{which(item_id)} is leased to an annotator in wave {number} until "
                                           f"{until:%Y-%m-%d %H:%M} UTC; wait for the lease to end (or the wave to "
                                           "close) and import the file again")
        picks = (WaveItem.objects.filter(item_id__in=list(mates), wave__state__in=[Wave.PLANNED, Wave.OPEN])
                 .values_list("item_id", "wave__number", "wave__state"))
        for item_id, number, state in picks:
            what = ("wait for the wave to close, or close it on the waves page" if state == Wave.OPEN else
                    "discard the plan or open the wave and wait for it to close")
            why.setdefault(mates[item_id], f"{which(item_id)} is picked in {state} wave {number}, whose annotators "
                                           f"give its label; {what}, then import the file again")
        drawn = (WaveItem.objects.filter(item_id__in=part, wave__state=Wave.CLOSED, inclusion_prob__isnull=False)
                 .values_list("item_id", "wave__number"))
        for item_id, number in drawn:
            why.setdefault(item_id, f"it was drawn in wave {number} with a known inclusion probability and left "
                                    "unanswered: the dashboard's estimates would take an imported label for the answer "
                                    "to that pick; give its label in review instead")
    return why


def recheck(project: Project, targets: dict[int, tuple[int, str]]) -> list[RowError]:
    """The write's check of the items its rows bring labels to (``targets``: item id -> (line, field)), under
    the project's row lock: each one gone, answered or picked since pass 1 refuses the file."""
    answers = answered(project, set(targets))
    busy = blocked(project, set(targets) - set(answers))
    present = set(Item.objects.filter(project=project, id__in=list(targets)).values_list("id", flat=True))
    errors = []
    for item, (line, field) in sorted(targets.items(), key=lambda pair: pair[1]):
        why = ("it was deleted" if item not in present else f"it was labeled ({answers[item]})" if item in answers
               else busy.get(item))
        if why:
            errors.append(RowError(line, field, f"item {item}, which the row brings a label to, changed while the file "
                                               f"was checked: {why}; nothing was imported, import the file again"))
    return errors
