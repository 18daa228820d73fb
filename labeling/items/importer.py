"""Import of CSV / JSONL files into a project, in two streaming passes.

Both passes run under the project's import lock (``project_imports_locked``), so an import
validates against every import that committed before it. Pass 1 (labeling.items.validation)
validates every row; nothing is written. A file with errors
stops here unless ``skip_invalid`` is set, in which case the rejected rows are written with their
reasons to a rejects file. Pass 2 reads the file again and writes the valid rows in chunks inside
one transaction, grouping exact and near duplicates as it goes (a labeled row for an item the project
holds brings its label to it instead: labeling.items.existing); any failure rolls everything back.
The batch ends DONE in that transaction, and only while it is still running: one failed meanwhile
(the stale-import sweep) keeps what it says. ``run_import`` never raises: whatever goes wrong ends
the ImportBatch FAILED with the reason, except after the write committed: then the rows are in the
project, and a failure to record the rest says so (``_not_recorded``) with the rows written.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.database_retry import DATABASE_UNREACHABLE, unreachable_reason, until_database_answers
from labeling.annotations.models import Annotation
from labeling.projects.locks import hold_labels, lock_project_labels
from labeling.projects.models import Label, Project, Source
from learner.text import hash_normalized, normalize_text

from .changed_meanwhile import ChangedMeanwhile, RowsAgainstProject, labels_created_meanwhile
from .dedup import BANDS
from .existing import recheck
from .export_files import LEFT_OUT_LABEL
from .grouping import Grouper
from .import_lock import hold_sources, lock_project_imports, project_imports_locked
from .import_summary import Written, summary_note, write_rejects
from .models import ImportBatch, Item, ItemLsh
from .readers import FileError, RowError, detect_format, open_reader
from .store import DbDedupStore, insert_band_keys
from .validation import Progress, Validation, error_cap, validate

__all__ = ["CHUNK", "ChangedMeanwhile", "ImportResult", "Progress", "project_imports_locked", "run_import", "validate", "write", "write_rejects"]
logger = logging.getLogger(__name__)
CHUNK = 5000


@dataclass
class ImportResult:
    batch: ImportBatch
    errors: list[RowError]
    error_count: int
    rows_total: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    rejects_path: Path | None = None
    labels_attached: int = 0  # labels brought to items the project held (labeling.items.existing), no item made
    copied_labels_left_out: int = 0  # labels an export copied from a twin, left out (export_files.COPIED_LABEL_SOURCES)
    rows_left_out: int = 0  # of those rows, the ones whose item the project held already: not imported again
    written: bool = False  # the write committed: the rows are in the project whatever fails after

    @property
    def note(self) -> str:
        """What the import did besides making items, for its summary ("" when nothing)."""
        return summary_note(self.labels_attached, self.copied_labels_left_out, self.rows_left_out)

    @property
    def ok(self) -> bool:
        # Written: the rows are in the project even where the batch's record says otherwise after.
        return self.written or self.batch.state == ImportBatch.DONE


class _Writer:
    """Pass 2 state: lazily created sources and labels, the grouper, counts. Reads the project's
    labels and sources: under the write's locks, so what it finds stays until the commit."""

    def __init__(self, project: Project, batch: ImportBatch, v: Validation, labels_at_validation: frozenset[str]):
        self.project = project
        self.batch = batch
        self.v = v
        self.sources = hold_sources(project)
        stored = list(Label.objects.filter(project=project).values_list("name", "id", "parent__name"))
        self.labels = {name: pk for name, pk, _ in stored}
        parents = {name: parent for name, _, parent in stored}
        self.next_order = (Label.objects.filter(project=project).order_by("-order").values_list("order", flat=True).first() or 0) + 1
        self.grouper = Grouper(store=DbDedupStore(project.id), threshold=project.near_dup_threshold)
        self.imported = 0
        self.copied_labels_left_out = 0
        self.attach: dict[int, tuple[int, str]] = {}  # item id -> (line, field) of the row that labels it
        self.attach_labels: list[tuple[int, int | None]] = []  # (item id, label id)
        self.created_sources: list[str] = []  # in the order the file brought them
        # The file's rows against the project as found here: what was renamed, deleted, moved or created
        # since pass 1 (labeling.items.changed_meanwhile).
        self.meanwhile = RowsAgainstProject(v, labels_at_validation, parents, set(self.sources),
                                            labels_created_meanwhile(v, parents, labels_at_validation))

    def source_id(self, name: str | None) -> int | None:
        if not name:
            return None
        if name not in self.sources:  # one of the file's new sources (any other: RowsAgainstProject)
            self.sources[name] = Source.objects.create(project=self.project, name=name, quota=0.0).id
            self.created_sources.append(name)
        return self.sources[name]

    def label_id(self, label: str | None, coarse: str | None) -> int | None:
        name = label or coarse
        if not name:
            return None
        if name not in self.labels:  # one of the file's new labels (any other: RowsAgainstProject)
            parent_name = self.v.new_labels.get(name)
            parent_id = self.label_id(parent_name, None) if parent_name else None
            self.labels[name] = Label.objects.create(
                project=self.project, name=name, parent_id=parent_id, order=self.next_order,
                description="Created by an import.",
            ).id
            self.next_order += 1
        return self.labels[name]

    def write_chunk(self, rows: list[dict]) -> None:
        texts = [r["text"] for r in rows]
        normalized = [normalize_text(t) for t in texts]
        hashes = [hash_normalized(n) for n in normalized]
        grouper = self.grouper
        plan = grouper.plan(texts, hashes, normalized)
        known = grouper.groups_before_insert(plan)
        items = [
            Item(project=self.project, source_id=self.source_id(r.get("source")), external_id=r.get("external_id"),
                 text=r["text"], text_hash=h, dup_group=g, metadata=r["metadata"], import_batch=self.batch)
            for r, h, g in zip(rows, hashes, known, strict=True)
        ]
        Item.objects.bulk_create(items, batch_size=1000)
        ids = [item.id for item in items]
        groups = grouper.commit(plan, ids, hashes)
        founders = [i for i, g in zip(ids, groups, strict=True) if g == i]
        for start in range(0, len(founders), 900):
            Item.objects.filter(id__in=founders[start : start + 900]).update(dup_group=F("id"))
        later = []
        for item, g, before in zip(items, groups, known, strict=True):
            if g != item.id and g != before:
                item.dup_group = g
                later.append(item)
        Item.objects.bulk_update(later, ["dup_group"], batch_size=500)
        insert_band_keys(self.project.id, [ids[i] for i in plan.banded_rows], plan.keys)
        annotations = [
            Annotation(project=self.project, item_id=item_id, label_id=self.label_id(r.get("label"), r.get("coarse_label")),
                       origin=Annotation.IMPORT, annotator=None)
            for item_id, r in zip(ids, rows, strict=True) if r.get("label") or r.get("coarse_label")
        ]
        Annotation.objects.bulk_create(annotations, batch_size=1000)
        self.copied_labels_left_out += sum(LEFT_OUT_LABEL in r for r in rows)
        self.batch.exact_duplicates += plan.exact
        self.batch.near_duplicates += plan.near
        self.imported += len(rows)

    def bring_label(self, item_id: int, line: int, field: str, values: dict) -> None:
        """A row whose label goes to an item the project holds (pass 1 found it free to take one)."""
        self.attach[item_id] = (line, field)
        self.attach_labels.append((item_id, self.label_id(values.get("label"), values.get("coarse_label"))))

    def write_brought_labels(self) -> None:
        """The labels brought to items the project holds, once the write's own check of those items (under
        the project's row lock, which planning and opening waves take) finds them as pass 1 did."""
        if errors := recheck(self.project, self.attach):
            raise ChangedMeanwhile(errors)
        Annotation.objects.bulk_create([Annotation(project=self.project, item_id=item_id, label_id=label_id,
                                                   origin=Annotation.IMPORT, annotator=None)
                                        for item_id, label_id in self.attach_labels], batch_size=1000)

    def finish(self) -> None:
        for old, new in self.grouper.renamed_groups().items():
            Item.objects.filter(project=self.project, dup_group=old).update(dup_group=new)


def _rows_to_write(reader, v: Validation):
    """(ordinal, line, values) of each row pass 1 accepted and did not leave out."""
    for ordinal, record in enumerate(reader.records()):
        if ordinal not in v.rejected and ordinal not in v.left_out and record.values is not None:
            yield ordinal, record.line, record.values


def write(project: Project, path: Path, fmt: str, batch: ImportBatch, v: Validation,
          progress: Progress | None = None, labels_at_validation: frozenset[str] = frozenset()) -> Written:
    """Pass 2, inside one transaction that also ends the batch DONE: returns what it wrote.
    ``labels_at_validation``: the names of the project's labels as pass 1 began."""
    assert BANDS == len([f for f in ItemLsh._meta.fields if f.name.startswith("b")])
    reader = open_reader(path, fmt)
    size = max(1, path.stat().st_size)
    if progress:
        progress("write", 0.0, {"rows_imported": 0})
    with transaction.atomic():
        lock_project_imports(project)
        if v.attach:
            # Labels for items the project holds: planning and opening a wave take this row lock, so no
            # wave picks those items between the write's check of them and its commit. Taken before the
            # labels, as the planner does; FOR NO KEY UPDATE lets answers (rows that refer to it) go on.
            list(Project.objects.select_for_update(no_key=True).filter(pk=project.pk).values_list("pk", flat=True))
        if v.new_labels:
            # creating labels: the label writers' turn. A lead's label change saved before is read by the
            # write (a look-alike of a new label, a label renamed or deleted: refused); one saved after
            # waits for the import and finds its labels.
            lock_project_labels(project)
        else:
            # only naming labels: a share lock (FOR KEY SHARE), read before the labels are. A label renamed,
            # deleted or moved before it is refused (RowsAgainstProject); a deletion or rename after it waits
            # for the import and then finds the answers; a move (the answers follow the label), other label
            # saves and an annotator's first "none of these" go on (the writers' lock here made them wait
            # for the whole write).
            hold_labels(project)
        # The sources (hold_sources) after the labels: a source deleted or renamed before is refused, one
        # deleted or renamed after waits for the import.
        writer = _Writer(project, batch, v, labels_at_validation)
        meanwhile = writer.meanwhile
        chunk: list[dict] = []
        for ordinal, line, values in _rows_to_write(reader, v):
            meanwhile.note(line, values)
            if meanwhile.created or meanwhile.found:  # refused: the rest is only read for what else changed
                continue
            if ordinal in v.attach:
                item_id, matched = v.attach[ordinal]
                writer.bring_label(item_id, line, matched, values)
                continue
            chunk.append(values)
            if len(chunk) >= CHUNK:
                writer.write_chunk(chunk)
                chunk = []
                if progress:
                    progress("write", reader.bytes_read / size, {"rows_imported": writer.imported})
        if meanwhile.created or meanwhile.found:
            raise ChangedMeanwhile(meanwhile.errors)
        if chunk:
            writer.write_chunk(chunk)
        writer.write_brought_labels()
        writer.finish()
        # Ended with its rows: a sweep that failed the batch first refuses them (rolled back), one that comes
        # later waits for this commit and then finds the batch done.
        if not ImportBatch.objects.filter(pk=batch.pk, state=ImportBatch.RUNNING).update(
                state=ImportBatch.DONE, rows_imported=writer.imported, created_sources=writer.created_sources,
                labels_attached=len(writer.attach_labels), rows_left_out=len(v.left_out),  # committed with the rows
                copied_labels_left_out=writer.copied_labels_left_out + len(v.left_out), updated_at=timezone.now()):
            raise ChangedMeanwhile([])
    batch.created_sources = writer.created_sources  # committed with the rows: said on the page and the API
    return Written(writer.imported, len(writer.attach_labels), writer.copied_labels_left_out)


def run_import(project: Project, path: str | os.PathLike, *, filename: str | None = None, fmt: str | None = None,
               skip_invalid: bool = False, rejects_path: str | os.PathLike | None = None,
               batch: ImportBatch | None = None, created_by=None, progress: Progress | None = None,
               after_validation: Callable[[], None] | None = None) -> ImportResult:
    """Validate then write ``path``; records everything on an ImportBatch (created if not given).
    Without ``skip_invalid`` a file with any error imports nothing. Never raises once the batch
    exists: an unexpected failure is logged with its traceback and recorded on the batch (FAILED),
    so a caller (the upload task, the command) never leaves it running."""
    path = Path(path)
    filename = filename or path.name
    if batch is None:
        batch = ImportBatch.objects.create(project=project, filename=filename, created_by=created_by)
    result = ImportResult(batch=batch, errors=[], error_count=0)
    try:
        # Started, and later run, only while no one ended the batch (_finish says so when someone did).
        if not ImportBatch.objects.filter(pk=batch.pk, state__in=[ImportBatch.PENDING, ImportBatch.RUNNING]).update(
                state=ImportBatch.RUNNING, updated_at=timezone.now()):
            return _finish(result, errors=[], error_count=0, failed=True)
        batch.state = ImportBatch.RUNNING
        with project_imports_locked(project, on_wait=lambda: _note_waiting(batch, progress)):
            batch.waiting = ""
            if not ImportBatch.objects.filter(pk=batch.pk, state=ImportBatch.RUNNING).update(
                    waiting="", updated_at=timezone.now()):
                return _finish(result, errors=[], error_count=0, failed=True)
            return _run(project, path, filename, fmt, skip_invalid, rejects_path, result, progress, after_validation)
    except Exception as exc:  # noqa: BLE001 - recorded on the batch; the traceback goes to the log
        logger.exception("import %s of %s into project %s failed", batch.pk, filename, project.slug)
        if result.written:  # only recording the outcome failed: the batch is DONE with the rows (write)
            return _not_recorded(result, f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")
        batch.exact_duplicates = batch.near_duplicates = 0
        error = RowError(None, None, f"the import failed and nothing was imported ({type(exc).__name__}: {exc})")
        return _finish(result, errors=[error], error_count=1, failed=True)


def _note_waiting(batch: ImportBatch, progress: Progress | None = None) -> None:
    """Say on the batch which import it waits for (the other running imports of its project), and
    to ``progress`` as the phase "wait" (``import_items`` prints it)."""
    others = list(ImportBatch.objects.filter(project_id=batch.project_id, state=ImportBatch.RUNNING)
                  .exclude(pk=batch.pk).order_by("created_at").values_list("filename", flat=True)[:3])
    which = ", ".join(others) if others else "another file"
    batch.waiting = (f"waiting for the import of {which} into this project to end: imports of one project "
                     f"run one after the other")[:500]
    ImportBatch.objects.filter(pk=batch.pk).update(waiting=batch.waiting, updated_at=timezone.now())
    if progress:
        progress("wait", 0.0, {"waiting": batch.waiting})


def _run(project: Project, path: Path, filename: str, fmt: str | None, skip_invalid: bool, rejects_path,
         result: ImportResult, progress: Progress | None, after_validation: Callable[[], None] | None) -> ImportResult:
    batch = result.batch
    if rejects_path and Path(rejects_path).resolve() == path.resolve():
        error = RowError(None, None, "the rejects file is the file being imported: writing the rejected rows would "
                                     "overwrite it; choose another path for them")
        return _finish(result, errors=[error], error_count=1, failed=True)
    try:
        fmt = fmt or detect_format(path, filename)
        labels_at_validation = frozenset(Label.objects.filter(project=project).values_list("name", flat=True))
        v = validate(project, path, fmt, progress)
    except FileError as exc:
        return _finish(result, errors=[exc.error], error_count=1, failed=True)
    except OSError as exc:
        return _finish(result, errors=[RowError(None, None, f"the file could not be read: {exc}")], error_count=1, failed=True)
    result.rows_total = batch.rows_total = v.rows_total
    result.rows_rejected = batch.rows_rejected = len(v.rejected)
    if v.rejected and not skip_invalid:
        return _finish(result, errors=v.errors, error_count=v.error_count, failed=True)
    if v.rejected and rejects_path:
        result.rejects_path = Path(rejects_path)
        try:
            write_rejects(path, fmt, v, result.rejects_path, filename)
        except OSError as exc:  # a folder, a missing folder, a full disk: the path's fault, not a crash
            error = RowError(None, None, f"the rejects file {result.rejects_path} could not be written "
                                         f"({exc.strerror or exc}), so nothing was imported")
            result.rejects_path = None
            return _finish(result, errors=[error, *v.errors], error_count=v.error_count + 1, failed=True)
    if after_validation:
        after_validation()
    try:
        written = write(project, path, fmt, batch, v, progress, labels_at_validation)
        result.rows_imported, result.labels_attached = written.items, written.labels_attached
        result.rows_left_out = len(v.left_out)  # their labels were copied ones too
        result.copied_labels_left_out = written.copied_labels_left_out + result.rows_left_out
        result.written = True
    except ChangedMeanwhile as exc:  # rolled back
        batch.exact_duplicates = batch.near_duplicates = 0
        return _finish(result, errors=exc.errors, error_count=len(exc.errors), failed=True)
    except Exception as exc:  # noqa: BLE001 - whatever failed, the transaction was rolled back
        logger.exception("import %s of %s into project %s failed while writing", batch.pk, filename, project.slug)
        batch.exact_duplicates = batch.near_duplicates = 0
        why = (f"the database stopped answering ({unreachable_reason(exc)})" if isinstance(exc, DATABASE_UNREACHABLE)
               else str(exc))
        error = RowError(None, None, f"the import failed while writing and was rolled back, nothing was imported: {why}"
                                     + ("; upload the file again" if isinstance(exc, DATABASE_UNREACHABLE) else ""))
        return _finish(result, errors=[error, *v.errors], error_count=v.error_count + 1, failed=True)
    batch.rows_imported, batch.labels_attached = result.rows_imported, result.labels_attached
    batch.copied_labels_left_out, batch.rows_left_out = result.copied_labels_left_out, result.rows_left_out
    result.exact_duplicates, result.near_duplicates = batch.exact_duplicates, batch.near_duplicates
    return _finish(result, errors=v.errors, error_count=v.error_count, failed=False)


def _finish(result: ImportResult, *, errors: list[RowError], error_count: int, failed: bool) -> ImportResult:
    """Record the outcome on the batch: from running (failed), or on the DONE the write's transaction
    set. A batch someone else ended meanwhile (the stale-import sweep failed it) keeps its state and
    message; the result then says the import stopped and wrote nothing, unless its rows were written
    (committed) already: then it says so (``_not_recorded``)."""
    batch = result.batch
    result.errors, result.error_count = errors, error_count
    batch.errors = [e.as_dict(batch.filename) for e in errors[: error_cap()]]
    if error_count > len(batch.errors):
        batch.errors.append({"file": batch.filename, "line": None, "field": None,
                             "message": f"{error_count - len(batch.errors)} more errors not shown (LONGTAIL_MAX_REPORTED_ERRORS)"})
    batch.state = ImportBatch.FAILED if failed else ImportBatch.DONE
    if failed:  # nothing written: no label brought or left out either
        batch.rows_imported = batch.labels_attached = batch.copied_labels_left_out = batch.rows_left_out = 0
    batch.progress = 1.0
    batch.finished_at = batch.updated_at = timezone.now()
    fields = ("errors", "state", "rows_imported", "rows_total", "rows_rejected", "exact_duplicates", "near_duplicates",
              "labels_attached", "copied_labels_left_out", "rows_left_out", "progress", "finished_at", "updated_at")
    from_state = ImportBatch.RUNNING if failed else ImportBatch.DONE

    def record() -> tuple[bool, ImportBatch | None]:
        if ImportBatch.objects.filter(pk=batch.pk, state=from_state).update(**{f: getattr(batch, f) for f in fields}):
            return True, None
        return False, ImportBatch.objects.filter(pk=batch.pk).first()  # gone with its project, or ended by someone else

    # An import cut off by a database outage fails with that reason once the database is back, rather
    # than staying running until the stale sweep says its worker stopped (its upload is gone by then).
    recorded, stored = until_database_answers(record, what=f"the outcome of import {batch.pk}")
    if recorded:
        return result
    said = "the import was deleted" if stored is None else stored.errors[0]["message"] if stored.errors else stored.state
    result.batch = stored or batch
    if result.written:
        said = said if stored is None or stored.errors else f"the database did not apply the update, the import reads '{stored.state}'"
        return _not_recorded(result, said)
    result.rows_imported = result.exact_duplicates = result.near_duplicates = 0
    result.errors = [RowError(None, None, f"the import was ended while it ran, so it stopped and wrote nothing: {said}")]
    result.error_count = 1
    return result


def _not_recorded(result: ImportResult, why: str) -> ImportResult:
    """The result of an import whose rows were committed (with the batch DONE) but whose outcome
    could not be recorded on the batch after: it says what was written, not that nothing was."""
    count = result.rows_imported
    rows = f"{count:,} row was" if count == 1 else f"{count:,} rows were"
    error = RowError(None, None, f"{rows} imported, but the import's record could not be completed afterwards "
                                 f"(errors, progress, finish time): {why}")
    result.errors, result.error_count = [error, *result.errors], result.error_count + 1
    return result
