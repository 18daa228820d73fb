"""Pass 1 of an import: every row checked against the project, nothing written.

Only what cross-row checks need is kept: the file's external ids, the names of labels and sources
to create, and (when the project already has items) the hashes of rows without an external id, to
find rows that are already in the project. Besides the field rules (docs/intake.md), a row is
refused when its text is empty once whitespace and invisible characters are removed, when its
metadata is larger than LONGTAIL_MAX_METADATA_BYTES as JSON or has a key that could not come back
from an export or be shown to annotators (empty, too long, or with a comma: values.metadata_key_problem),
when its text is longer than the project's limit (never more than MAX_TEXT_CHARS_CEILING) or its search
document would not fit PostgreSQL's tsvector (``SearchDocuments``), or when it names an item the
project already holds (by external id, or without one by the same text and source as an earlier
import's item) and does not bring a label that item may take (labeling.items.existing). A new label that looks like another is refused, and so
is a new source name the sources pages would refuse (label_names.source_name_errors)."""
from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from labeling.projects.label_names import INVISIBLE_NAME, decomposed, label_name_key, source_name_errors, written_out
from labeling.projects.models import MAX_TEXT_CHARS_CEILING, Label, Project, Source

from .existing import ExistingItems
from .invisible import is_invisible
from .look_alike import LOOK_ALIKE_FULL_RULE, look_alike_index, look_alike_key, mixed_scripts, shown_apart
from .models import Item
from .readers import FileError, RowError, open_reader
from .values import metadata_key_problem

Progress = Callable[[str, float, dict], None]  # phase ('wait' | 'validate' | 'write'), fraction 0..1, counts

# Blank in a text besides the invisible characters: whitespace and the separator categories.
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Zl", "Zp"})
# A text's search document (tsvector) holds at most 1 MB of words and positions: 2-6 bytes per
# character for ordinary texts, about 15 for distinct hyphenated words of squared Katakana (NFKC
# unfolds each; indexed whole and by part), the worst measured (bench/results/tsvector_size.json).
# A text up to this length fits several times over, so only longer ones cost PostgreSQL a look in pass 1.
SEARCH_CHECK_FROM_CHARS = 10_000
_PROGRAM_LIMIT_EXCEEDED = "54000"  # PostgreSQL's SQLSTATE for "string is too long for tsvector"


def has_visible_text(text: str) -> bool:
    """False when the text is only whitespace and invisible characters (labeling.items.invisible:
    zero-width spaces, byte order marks, variation selectors, Hangul fillers, ...). Stops at the
    first visible character, so it costs nothing for ordinary text."""
    for char in text:
        if char.isspace() or unicodedata.category(char) in _SEPARATOR_CATEGORIES or is_invisible(char):
            continue
        return True
    return False


def empty_text_problem(text: str) -> str | None:
    """Why a text cannot be stored as an item because there is nothing to read in it, or None: the
    one rule for every path that stores a text (the importer, the predict API's review queue)."""
    if not text.strip():
        return "the text is empty"
    if not has_visible_text(text):
        return ("the text is empty: it holds only whitespace and invisible characters "
                "(zero-width spaces, joiners, byte order marks, ...)")
    return None


def metadata_bytes(metadata: dict) -> int:
    """Size of the metadata as stored: compact JSON, UTF-8."""
    return len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@dataclass
class Validation:
    """What pass 1 learned."""

    rows_total: int = 0
    rejected: dict[int, list[RowError]] = field(default_factory=dict)  # record ordinal -> errors
    errors: list[RowError] = field(default_factory=list)  # capped, in file order
    error_count: int = 0
    new_sources: set[str] = field(default_factory=set)
    new_labels: dict[str, str | None] = field(default_factory=dict)  # name -> parent name
    new_label_rows: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> (first line, field)
    # Rows that bring a label to an item the project holds: record ordinal -> (item id, the field that matched).
    attach: dict[int, tuple[int, str]] = field(default_factory=dict)
    left_out: set[int] = field(default_factory=set)  # ordinals of rows of items already there whose copied label was left out


class RowValidator:
    """Checks one row at a time against the project; remembers what later rows must agree with. A
    label name a message quotes, the file's or the project's, is written out (``written_out``): printed
    raw, a direction override in it would reverse the rest of the message."""

    def __init__(self, project: Project, validation: Validation):
        self.project = project
        self.v = validation
        # A project saved before the ceiling (or LONGTAIL_MAX_TEXT_CHARS) may allow more than fits.
        self.max_chars = min(project.max_text_chars or settings.LONGTAIL_MAX_TEXT_CHARS, MAX_TEXT_CHARS_CEILING)
        self.search_documents = SearchDocuments()
        self.sources = set(Source.objects.filter(project=project).values_list("name", flat=True))
        self.source_keys = look_alike_index(self.sources)  # of the project's sources, and the file's new ones
        self.labels: dict[str, str | None] = {
            name: parent for name, parent in Label.objects.filter(project=project).values_list("name", "parent__name")
        }
        self.label_keys = look_alike_index(self.labels)  # of the project's labels, and the file's new ones (_new_label)
        self.external_ids: dict[str, int] = {}  # external_id -> line, in this file
        self.max_metadata = settings.LONGTAIL_MAX_METADATA_BYTES

    def check(self, line: int, values: dict) -> list[RowError]:
        errors = []
        text = values.get("text")
        if not isinstance(text, str):
            errors.append(RowError(line, "text", f"must be a string, got {type(text).__name__}"))
        elif empty := empty_text_problem(text):
            errors.append(RowError(line, "text", empty))
        elif len(text) > self.max_chars:
            why = " (the most any project allows: a longer text does not fit the search index)"
            errors.append(RowError(line, "text", f"the text has {len(text):,} characters, over the limit of "
                                                 f"{self.max_chars:,}{why if self.max_chars == MAX_TEXT_CHARS_CEILING else ''}"))
        elif problem := self.search_documents.problem(text):
            errors.append(RowError(line, "text", problem))
        metadata = values.get("metadata")
        if metadata:
            errors += self._check_metadata(line, metadata)
        # Names are looked up composed (NFC), as stored; the readers compose them (label_names.decomposed).
        if refused := [RowError(line, name, problem) for name in ("source", "label", "coarse_label")
                       if (problem := decomposed(values.get(name)))]:
            return errors + refused
        source = values.get("source")
        if source and source not in self.sources and source not in self.v.new_sources:
            if not self.project.allow_new_sources:
                known = ", ".join(written_out(name) for name in sorted(self.sources)) or "none"
                errors.append(RowError(line, "source", f"unknown source '{written_out(source)}' (known: {known})"))
            elif len(source) > 200:
                errors.append(RowError(line, "source", "a new source name may have at most 200 characters"))
            else:
                errors += [RowError(line, "source", problem) for problem in self._new_source_problems(source)]
        errors += self._check_labels(line, values.get("label"), values.get("coarse_label"), dry=True)
        external_id = values.get("external_id")
        if external_id and len(external_id) > 200:
            errors.append(RowError(line, "external_id", "at most 200 characters"))
        elif external_id and external_id in self.external_ids:
            errors.append(RowError(line, "external_id", f"duplicate external_id '{written_out(external_id)}' (also on line {self.external_ids[external_id]})"))
        if not errors:
            # Only a row that will be imported claims its external id, new source and new labels.
            if external_id:
                self.external_ids[external_id] = line
            if source and source not in self.sources and self.project.allow_new_sources:
                self.v.new_sources.add(source)
                self.source_keys.setdefault(look_alike_key(source), source)
            self._check_labels(line, values.get("label"), values.get("coarse_label"), dry=False)
        return errors

    def _new_source_problems(self, name: str) -> list[str]:
        """Why an import may not create the source ``name``: the sources pages' rules (control
        characters, nothing visible, mixed scripts, looking like another source), judged against
        the one source, stored or new in this file, it looks like (an index, not every name per row)."""
        twin = self.source_keys.get(look_alike_key(name))
        stored = {"twin": twin} if twin is not None else {}
        return source_name_errors({**stored, "new": name}, stored)

    def _check_metadata(self, line: int, metadata: dict) -> list[RowError]:
        if problem := metadata_key_problem(metadata):
            return [RowError(line, "metadata", problem)]
        size = metadata_bytes(metadata)
        if size <= self.max_metadata:
            return []
        largest = max(metadata, key=lambda key: metadata_bytes({key: metadata[key]}))
        return [RowError(line, largest, f"the row's metadata (the columns other than text, source, external_id, label "
                                        f"and coarse_label) takes {size:,} bytes as JSON, over the limit of "
                                        f"{self.max_metadata:,} bytes (LONGTAIL_MAX_METADATA_BYTES); "
                                        f"'{largest}' is the largest")]

    def _known(self, name: str) -> tuple[bool, str | None]:
        if name in self.labels:
            return True, self.labels[name]
        if name in self.v.new_labels:
            return True, self.v.new_labels[name]
        return False, None

    def _check_labels(self, line: int, label: str | None, coarse: str | None, *, dry: bool) -> list[RowError]:
        """A row may name a fine label (with its coarse parent, optionally), a flat label, or only a
        coarse label. Unknown names are errors unless the project allows new labels."""
        if not label and not coarse:
            return []
        allow = self.project.allow_new_labels
        if not label:  # coarse only: the coarse label itself is the answer
            exists, parent = self._known(coarse)
            if exists and parent:
                return [_fine_not_coarse(line, coarse, parent)]
            if not exists:
                if look := self._look_error(line, "coarse_label", coarse):
                    return [look]
                if not allow:
                    return [RowError(line, "coarse_label", f"unknown label '{written_out(coarse)}'{self._known_hint()}")]
                if not dry:
                    self._new_label(coarse, None, line, "coarse_label")
            return []
        exists, parent = self._known(label)
        if exists:
            if coarse and coarse != parent and not (parent is None and coarse == label):
                has = f"whose parent is '{written_out(parent)}'" if parent else "which has no parent"
                return [RowError(line, "coarse_label", f"coarse_label '{written_out(coarse)}' does not match label "
                                                       f"'{written_out(label)}', {has}")]
            return []
        looks = [self._look_error(line, "label", label)]
        if coarse and coarse != label and not self._known(coarse)[0]:
            looks.append(self._look_error(line, "coarse_label", coarse))
            if allow and not any(looks) and look_alike_key(coarse) == look_alike_key(label):  # one row, two new look-alikes
                looks.append(RowError(line, "label", f"'{shown_apart(label, coarse)}' looks like the new coarse label "
                                                     f"“{shown_apart(coarse, label)}” of the same row (label {LOOK_ALIKE_FULL_RULE}): "
                                                     "name the fine label differently"))
        if any(looks):
            return [error for error in looks if error]
        if not allow:
            return [RowError(line, "label", f"unknown label '{written_out(label)}'{self._known_hint()}")]
        if len(label) > 200 or (coarse and len(coarse) > 200):
            return [RowError(line, "label", "a new label name may have at most 200 characters")]
        if coarse and coarse != label:
            coarse_exists, coarse_parent = self._known(coarse)
            if coarse_exists and coarse_parent:
                return [_fine_not_coarse(line, coarse, coarse_parent)]
            if not dry:
                if coarse not in self.v.new_labels:
                    self._new_label(coarse, None, line, "coarse_label")
                self._new_label(label, coarse, line, "label")
        elif not dry:
            self._new_label(label, None, line, "label")
        return []

    def _look_error(self, line: int, field_name: str, name: str) -> RowError | None:
        """A name not known exactly that is empty, or looks like a known one (look_alike_key), or that
        would be new and mixes scripts in a word: refused, so that no import creates a label that looks
        empty or like another, nor stores an answer under a label it was not written as. Names are written
        out (shown_apart): printed as they are they would read the same, or a direction override reverse."""
        if not label_name_key(name):
            return RowError(line, field_name, f"the label '{written_out(name)}' is {INVISIBLE_NAME}")
        twin = self.label_keys.get(look_alike_key(name))
        if twin is None:
            mixed = self.project.allow_new_labels and mixed_scripts(name)
            return RowError(line, field_name, f"the new label '{shown_apart(name)}' is refused: {mixed}") if mixed else None
        which = "the existing label" if twin in self.labels else "the new label, created by an earlier row of this file,"
        twin_shown = f"“{shown_apart(twin, name)}”"  # its look-alike letters written out too, or both would read the same
        return RowError(line, field_name, f"'{shown_apart(name, twin)}' looks like {which} {twin_shown} (label "
                                          f"{LOOK_ALIKE_FULL_RULE}): write {twin_shown} exactly to use that "
                                          "label, or name a new label differently")

    def _new_label(self, name: str, parent: str | None, line: int, field_name: str) -> None:
        self.v.new_labels[name] = parent
        self.v.new_label_rows.setdefault(name, (line, field_name))
        self.label_keys.setdefault(look_alike_key(name), name)

    def _known_hint(self) -> str:
        names = sorted(self.labels)
        if not names:
            return " (the project has no labels yet)"
        more = f", … {len(names) - 10} more" if len(names) > 10 else ""
        return f" (known: {', '.join(map(written_out, names[:10]))}{more})"


class SearchDocuments:
    """The items table's generated tsvector columns (their expressions read from the table, so what
    the write computes), built for a long text in pass 1: a text whose document would not fit is
    refused by line and field, not the whole write failed with a bare database error."""

    def __init__(self):
        self.sql = None
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a JOIN pg_attrdef d ON "
                           "d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = %s::regclass AND "
                           "a.attgenerated = 's' AND a.atttypid = 'tsvector'::regtype AND NOT a.attisdropped",
                           [Item._meta.db_table])
            built = ", ".join(f"length({expression.replace('%', '%%')})" for (expression,) in cursor.fetchall())
        if built:
            column = connection.ops.quote_name(Item._meta.get_field("text").column)
            self.sql = f"SELECT {built} FROM (SELECT %s::text AS {column}) AS item"

    def problem(self, text: str) -> str | None:
        if self.sql is None or len(text) <= SEARCH_CHECK_FROM_CHARS:
            return None
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(self.sql, [text])
        except DatabaseError as exc:
            if getattr(exc.__cause__, "pgcode", None) != _PROGRAM_LIMIT_EXCEEDED:
                raise
            return (f"the text cannot be indexed for search: it holds too many distinct long words for PostgreSQL's "
                    f"search document, which holds at most 1 MB ({exc.__cause__.diag.message_primary}); split it "
                    "into shorter texts")
        return None


def _fine_not_coarse(line: int, coarse: str, parent: str) -> RowError:
    return RowError(line, "coarse_label", f"'{written_out(coarse)}' is a fine label (under '{written_out(parent)}'), "
                                          "not a coarse one")


def error_cap() -> int:
    return max(1, settings.LONGTAIL_MAX_REPORTED_ERRORS)


def validate(project: Project, path: Path, fmt: str, progress: Progress | None = None) -> Validation:
    """Pass 1: read the whole file, check every row, keep nothing but what cross-row checks need."""
    v = Validation()
    size = max(1, path.stat().st_size)
    if size > settings.LONGTAIL_MAX_UPLOAD_BYTES:
        raise FileError(RowError(None, None, f"the file has {size:,} bytes, over the upload limit of "
                                             f"{settings.LONGTAIL_MAX_UPLOAD_BYTES:,} bytes (LONGTAIL_MAX_UPLOAD_BYTES)"))
    reader = open_reader(path, fmt)
    checker = RowValidator(project, v)
    existing = ExistingItems(project)
    for ordinal, record in enumerate(reader.records()):
        v.rows_total += 1
        errors = list(record.errors)
        if record.values is not None and not errors:
            errors = checker.check(record.line, record.values)
            if not errors:
                existing.add(ordinal, record.line, record.values)
        if errors:
            _reject(v, ordinal, errors)
        if progress and v.rows_total % 2000 == 0:
            progress("validate", reader.bytes_read / size, {"rows_total": v.rows_total, "rows_rejected": len(v.rejected)})
    if v.rows_total == 0:
        if fmt == "jsonl":
            raise FileError(RowError(1, None, "the file has no rows to import: it is empty or holds only blank lines"))
        raise FileError(RowError(reader.lines.line_no + 1, None, "the file has a header line but no rows to import"))
    # The project's items the rows name (external ids, texts): looked up in batches once the file is read.
    for ordinal, error in existing.settle(v.attach, v.left_out):
        _reject(v, ordinal, [error])
    v.errors.sort(key=lambda e: (e.line or 0))
    return v


def _reject(v: Validation, ordinal: int, errors: list[RowError]) -> None:
    v.rejected.setdefault(ordinal, []).extend(errors)
    v.error_count += len(errors)
    room = error_cap() - len(v.errors)
    if room > 0:
        v.errors.extend(errors[:room])


