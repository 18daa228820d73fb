"""Deleting a project and everything of it: the operator's answer to a deletion request (the
``delete_project`` command and the Django admin's delete page both call :func:`delete_project`).

The models keep their PROTECTs (a label with answers, an item's source, a coarse label's fine
labels): in normal use they stop a lead from deleting what answers rest on. Here the rows are
deleted in dependency order instead, each table with one DELETE (no rows loaded into Python: a
project can hold millions of items and scores), all inside one transaction. Foreign keys are
checked at commit, so a row of the project this list forgot fails the commit and nothing is
deleted; the project row itself goes last through Django's collector, which also removes rows of
any model added later with an ON DELETE CASCADE to the project.

Embeddings are a cache keyed by (encoder, text hash) only and shared by every project with the same
text: rows whose hash only this project's items, labels or recorded query texts (EmbeddingUse:
predict requests, labels' earlier texts) have are deleted, those another project also has stay.
The rows of the project's own fine-tuned encoders are all deleted. The table has no
foreign keys, so the work still running for the project writes its vectors under the project's row
lock (modeling.embedding_store.ProjectEmbeddingCache), which this takes first: a chunk that encoded
while the project was deleted stores nothing afterwards. The project's
folders (LONGTAIL_ARTIFACT_DIR/<slug>/: model artifacts, fine-tuned encoders; MEDIA_ROOT/imports/
<slug>/: uploads and rejects files) are removed after the commit, so a rolled-back deletion keeps
its files. Users and their API tokens are not the project's and stay.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from labeling.annotations.models import Annotation, Assignment, ReviewTask
from labeling.items.models import ImportBatch, Item, ItemLsh
from labeling.items.services import upload_dir
from labeling.loop.runs import expire_stale_imports, expire_stale_runs, run_stage
from labeling.modeling.embedding import model_id as frozen_model_id
from labeling.modeling.models import Embedding, EmbeddingUse, ItemScore, ModelVersion, TaskRun
from labeling.waves.models import Wave, WaveItem
from learner.planning.snapshot import label_texts
from learner.text import exact_text_hash, text_hash

from .models import Label, Membership, Project, Rule, Source
from .reserved import SHARED_ARTIFACT_FOLDERS

log = logging.getLogger(__name__)


class ProjectBusy(Exception):
    """Work of the project is queued or running; ``work`` names each piece."""

    def __init__(self, project: Project, work: list[str]):
        self.work = work
        super().__init__(
            f"Project “{project.name}” ({project.slug}) has work in progress: {'; '.join(work)}. Wait for it to "
            "end, or delete anyway (force): the work then stops at its next step or fails writing to the deleted "
            "project.")


@dataclass
class DeletionReport:
    slug: str
    counts: dict[str, int]  # rows deleted, by what they are (as deletion_counts words them)
    folders: list[Path]  # removed after the commit
    forced_past: list[str] = field(default_factory=list)  # the work in progress a forced deletion went past
    removed: list[Path] = field(default_factory=list)  # filled after the commit: folders and files removed
    file_errors: list[str] = field(default_factory=list)  # filled after the commit: what could not be removed


def work_in_progress(project: Project) -> list[str]:
    """The project's task runs and imports that are queued or running, in words. Runs and imports
    whose worker died (no heartbeat past the cut-off) are failed first, as the pages do, so they
    do not hold up the deletion."""
    expire_stale_runs(project)
    expire_stale_imports()
    work = [f"task run {run.pk} ({run.kind}, {run_stage(run)})"
            for run in TaskRun.objects.filter(project=project, state__in=[TaskRun.PENDING, TaskRun.RUNNING])
            .order_by("pk")]
    work += [f"import {batch.pk} of “{batch.filename}” ({batch.state})"
             for batch in ImportBatch.objects.filter(project=project, state__in=[ImportBatch.PENDING,
                                                                                  ImportBatch.RUNNING]).order_by("pk")]
    return work


def _label_text_hashes(labels: QuerySet) -> set[str]:
    # The texts label vectors are embedded from (labeling.waves.pool, modeling.versions.project_label_texts),
    # label by label: labels of several projects share names, not always descriptions. Under their
    # exact hash (embed_query_texts), and under text_hash, where releases before it stored them.
    texts = [label_texts([name], {name: description})[0]
             for name, description in labels.values_list("name", "description")]
    return {text_hash(t) for t in texts} | {exact_text_hash(t) for t in texts}


def _own_encoder_ids(project: Project) -> set[str]:
    """Model ids of the project's fine-tuned encoders (modeling.final: ``<encoder>+ft-<slug>-v<N>``)."""
    ids = {config.get("encoder_model_id") for config in
           ModelVersion.objects.filter(project=project).values_list("config", flat=True) if isinstance(config, dict)}
    ids.discard(None)
    ids.discard(frozen_model_id())
    shared = set(ModelVersion.objects.exclude(project=project).filter(config__encoder_model_id__in=list(ids))
                 .values_list("config__encoder_model_id", flat=True))
    return ids - shared


def orphaned_embeddings(project: Project) -> QuerySet:
    """Embedding rows nothing but this project uses: the texts of its items and labels, and the
    query texts it recorded (EmbeddingUse: its predict requests, its labels' earlier names and
    descriptions), that no other project's item, label or recorded use has; and every row of its
    own fine-tuned encoders."""
    label_hashes = _label_text_hashes(Label.objects.filter(project=project))
    other_label_hashes = _label_text_hashes(Label.objects.exclude(project=project))
    own_text = (Q(text_hash__in=Item.objects.filter(project=project).values("text_hash"))
                | Q(text_hash__in=EmbeddingUse.objects.filter(project=project).values("text_hash"))
                | Q(text_hash__in=sorted(label_hashes - other_label_hashes)))
    elsewhere = Exists(Item.objects.filter(text_hash=OuterRef("text_hash")).exclude(project=project))
    used_elsewhere = Exists(EmbeddingUse.objects.filter(text_hash=OuterRef("text_hash")).exclude(project=project))
    only_here = own_text & ~Q(elsewhere) & ~Q(used_elsewhere) & ~Q(text_hash__in=sorted(other_label_hashes))
    return Embedding.objects.filter(only_here | Q(model_id__in=sorted(_own_encoder_ids(project))))


def _steps(project: Project) -> list[tuple[str, QuerySet]]:
    """(what, rows) in the order they are deleted: each table after every table that refers to it."""
    waves = Wave.objects.filter(project=project).values("pk")
    versions = ModelVersion.objects.filter(project=project).values("pk")
    return [
        ("answers", Annotation.objects.filter(project=project)),
        ("review tasks", ReviewTask.objects.filter(project=project)),
        ("assignments", Assignment.objects.filter(wave_item__in=WaveItem.objects.filter(wave__in=waves).values("pk"))),
        ("wave items", WaveItem.objects.filter(wave__in=waves)),
        ("waves", Wave.objects.filter(project=project)),
        ("item scores", ItemScore.objects.filter(model_version__in=versions)),
        ("embeddings used by no other project", orphaned_embeddings(project)),  # before the items it looks at
        ("records of the texts it embedded", EmbeddingUse.objects.filter(project=project)),
        ("model versions", ModelVersion.objects.filter(project=project)),
        ("task runs", TaskRun.objects.filter(project=project)),
        ("item LSH rows", ItemLsh.objects.filter(project=project)),
        ("items", Item.objects.filter(project=project)),
        ("imports", ImportBatch.objects.filter(project=project)),
        ("rules", Rule.objects.filter(project=project)),
        ("fine labels", Label.objects.filter(project=project, parent__isnull=False)),
        ("top-level labels", Label.objects.filter(project=project, parent__isnull=True)),
        ("sources", Source.objects.filter(project=project)),
        ("memberships", Membership.objects.filter(project=project)),
    ]


def deletion_counts(project: Project) -> dict[str, int]:
    """How many rows of each kind deleting the project deletes (the command and the admin page show it)."""
    return {what: rows.count() for what, rows in _steps(project)}


def project_folders(project: Project) -> list[Path]:
    """The project's folders, and model files recorded outside them (LONGTAIL_ARTIFACT_DIR moved since).
    Empty for a slug that is no safe folder name: "" or ".." would name the parent folder itself."""
    try:
        validate_slug(project.slug)
    except ValidationError:
        log.warning("project %r: its slug is no folder name; no folders are removed", project.slug)
        return []
    root = Path(settings.LONGTAIL_ARTIFACT_DIR)
    # A project that took a shared folder's name before such slugs were refused keeps its files
    # there among everyone's: only those its versions record (below) are its own.
    own = [] if project.slug in SHARED_ARTIFACT_FOLDERS else [root / project.slug]
    folders = [*own, upload_dir(project)]
    for path, config in ModelVersion.objects.filter(project=project).values_list("artifact_path", "config"):
        # A model file (versions._store_artifact) and a fine-tuned encoder's folder (final.train_final_version),
        # stored absolute or relative to LONGTAIL_ARTIFACT_DIR.
        recorded = [path, config.get("encoder_dir") if isinstance(config, dict) else None]
        for name in filter(None, recorded):
            place = Path(name) if Path(name).is_absolute() else root / name
            # Only a place in the project's layout (<root>/<slug>/...): a stray path is never removed.
            if project.slug in place.parts and not any(place.is_relative_to(folder) for folder in folders):
                folders.append(place)
    return folders


def _remove_files(report: DeletionReport) -> None:
    for path in report.folders:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            else:
                continue
            report.removed.append(path)
        except OSError as exc:
            report.file_errors.append(f"{path}: {exc.strerror or exc}")
            log.exception("project %s is deleted but %s could not be removed", report.slug, path)
    log.info("project %s deleted; removed %s", report.slug, ", ".join(map(str, report.removed)) or "no folders")


def delete_project(project: Project, *, force: bool = False) -> DeletionReport:
    """Delete the project and every row of it in one transaction; its folders are removed once
    that commits. Raises ProjectBusy while a task run or import of the project is queued or
    running, unless ``force``; Project.DoesNotExist when it was deleted meanwhile."""
    work = work_in_progress(project)
    if work and not force:
        raise ProjectBusy(project, work)
    with transaction.atomic():
        # The memberships before the project: a member's lease, undo or answer change share-locks its
        # membership first and then refers to the project (its foreign key locks the project's row), so
        # taking them the other way round deadlocked; now that write commits first or finds the member gone.
        list(Membership.objects.select_for_update().filter(project=project).order_by("pk").values_list("pk", flat=True))
        # Then the project: an embedding chunk share-locks the project to store its vectors
        # (modeling.embedding_store.hold_projects), so it either commits before the vectors only this
        # project uses are deleted below or waits and then stores nothing. So does a writer of an
        # answer or a plan with the labels it refers to (labeling.projects.locks): it waits for this
        # deletion, then finds the label gone.
        if Project.objects.select_for_update().filter(pk=project.pk).first() is None:
            raise Project.DoesNotExist(f"Project “{project.slug}” no longer exists (deleted meanwhile).")
        list(Label.objects.select_for_update().filter(project=project).values_list("pk", flat=True))
        # And its model versions before their scores go: a scoring chunk share-locks its version to
        # write (modeling.scores.hold_version), so it either commits before this deletes the scores
        # or waits and then finds the version gone; no scores of a deleted version stay behind. A
        # final model saves its encoder folder under its version's lock (modeling.final), so the
        # folder is either there to be removed after the commit or never saved.
        list(ModelVersion.objects.select_for_update().filter(project=project).values_list("pk", flat=True))
        folders = project_folders(project)
        counts = {}
        for what, rows in _steps(project):
            # One DELETE per table (QuerySet.delete() would load every row to cascade): each table's
            # dependents are already gone, which the foreign keys check at commit.
            counts[what] = rows._raw_delete(rows.db)
        Project.objects.get(pk=project.pk).delete()
        report = DeletionReport(slug=project.slug, counts=counts, folders=folders, forced_past=work)
        transaction.on_commit(lambda: _remove_files(report))
    log.info("project %s deleted (%s)%s", project.slug, ", ".join(f"{n} {what}" for what, n in counts.items() if n),
             f"; forced past: {'; '.join(work)}" if work else "")
    return report
