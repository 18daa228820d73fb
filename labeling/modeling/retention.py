"""Retention of model versions: pruning the versions nothing needs any more (``manage.py
prune_models``). Nothing prunes on its own; an operator runs it.

Every retrain adds a version with one score row per pool item, and a final model adds its
fine-tuned encoder's folder and its own embeddings of the pool. Pruning a version deletes those
(its ``ItemScore`` rows, its head, its files under LONGTAIL_ARTIFACT_DIR, the embeddings of its own
encoder) and keeps its row: number, state, metrics and training record, which the dashboard's
learning curve and the reports read, with ``pruned_at`` set. It also keeps the version's scores of
the items a wave picked (a few thousand at most): the design-based estimates on the dashboard read
a version's stored prediction of those picks (labeling.projects.estimates), so a pruned version's
estimate stays what it was. Picks drawn after the pruning are not scored under it.

A version is kept (:func:`kept_versions` says why) while it is active (it serves) or training, while
an open task run holds it (a retrain or final model scoring it, not yet activated), while it is among
the newest ``keep`` versions that trained (ready, active or retired), and while it is the project's
newest final model (the fine-tuned deliverable, exportable even when it was not served). Every other
version is pruned, failed ones included.

Concurrency. A version is marked pruned in a short transaction that holds the project's row lock
(activation takes it too: a version cannot be activated while it is being pruned) and the version's
row lock without waiting: a scoring chunk share-locks the version while it writes
(modeling.scores.hold_version), so a version being scored right now is skipped, to be pruned by a
later run. The versions a scoring chunk can still start on later (the active one, those an open
run holds) are never pruned. The rows go afterwards, in chunks of ``DELETE_CHUNK`` rows, each its
own transaction (no single transaction over millions of rows), and the files last. A run that stops
half-way leaves a pruned version with rows or files left: the next run deletes them.

Readers of a version's files ask ``artifact_paths.pruned_message`` first, and say when it was pruned.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.db import OperationalError, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from labeling.items.models import Item
from labeling.projects.models import Project

from .artifact_paths import version_files
from .embedding import model_id as frozen_model_id
from .models import Embedding, ItemScore, ModelVersion, TaskRun

log = logging.getLogger(__name__)

DEFAULT_KEEP = 3
DELETE_CHUNK = 20_000  # rows per DELETE transaction: short locks, bounded WAL per commit
TRAINED = (ModelVersion.READY, ModelVersion.ACTIVE, ModelVersion.RETIRED)
OPEN_RUNS = (TaskRun.PENDING, TaskRun.RUNNING)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's error code for a row lock NOWAIT could not take


@dataclass
class VersionPrune:
    """What pruning one version frees (dry run: would free)."""

    number: int
    pk: int
    state: str
    score_rows: int
    embedding_rows: int
    files: list[Path]
    file_bytes: int
    pruned_before: bool = False  # marked by an earlier run that stopped before its rows or files were gone
    skipped: str | None = None  # why this run left it (being scored right now, or kept meanwhile)
    file_errors: list[str] = field(default_factory=list)


@dataclass
class ProjectRetention:
    slug: str
    keep: int
    dry_run: bool
    kept: dict[int, list[str]]  # version number → why it is kept
    versions: list[VersionPrune]  # pruned (or, in a dry run, to prune), oldest first

    @property
    def done(self) -> list[VersionPrune]:
        return [v for v in self.versions if v.skipped is None]

    def total(self, what: str) -> int:
        return sum(getattr(v, what) for v in self.done)


def kept_versions(project: Project, keep: int = DEFAULT_KEEP) -> dict[int, list[str]]:
    """Version number → why pruning leaves it, for every version of the project that is kept."""
    versions = list(ModelVersion.objects.filter(project=project, pruned_at__isnull=True)
                    .values_list("pk", "number", "state", "config").order_by("-number"))
    held = _held_by_open_runs(project, versions)
    trained = [number for _, number, state, _ in versions if state in TRAINED]
    finals = [number for _, number, state, config in versions
              if state in TRAINED and isinstance(config, dict) and config.get("kind") == "final"]
    kept: dict[int, list[str]] = {}
    for pk, number, state, _ in versions:
        why = {ModelVersion.ACTIVE: ["active (it serves)"], ModelVersion.TRAINING: ["training"]}.get(state, [])
        why += [held[pk]] if pk in held else []
        why += [f"among the newest {keep} trained"] if number in trained[:keep] else []
        why += ["the newest final model"] if finals and number == finals[0] else []
        if why:
            kept[number] = why
    return kept


def _held_by_open_runs(project: Project, versions: list[tuple]) -> dict[int, str]:
    """Version pk → the open task run that holds it, in words: the version a retrain or final model
    run is scoring (its detail's ``model_version_id`` / ``model_version``, set once it trained) or
    the one its training made (the version's ``config["task_run"]``)."""
    runs = list(TaskRun.objects.filter(project=project, state__in=OPEN_RUNS).values_list("pk", "kind", "detail"))
    held: dict[int, str] = {}
    for pk, number, _, config in versions:
        made_by = config.get("task_run") if isinstance(config, dict) else None
        for run_pk, kind, detail in runs:
            detail = detail if isinstance(detail, dict) else {}
            if run_pk == made_by or detail.get("model_version_id") == pk or detail.get("model_version") == number:
                held.setdefault(pk, f"held by task run {run_pk} ({kind}, still open)")
    return held


def prunable_scores(version: ModelVersion) -> QuerySet:
    """The version's score rows pruning deletes: all but those of items a wave picked."""
    # WaveItem, reached through Item's reverse relation: the waves app sits above this one.
    wave_item = Item._meta.get_field("wave_picks").related_model
    picked = Exists(wave_item.objects.filter(item_id=OuterRef("item_id")))
    return ItemScore.objects.filter(model_version_id=version.pk).exclude(picked)


def own_encoder_id(version: ModelVersion) -> str | None:
    """The embeddings-table key of the version's own fine-tuned encoder when no other version that
    was not pruned reads it (None for a version on the frozen encoder)."""
    encoder_id = (version.config or {}).get("encoder_model_id")
    if not encoder_id or encoder_id == frozen_model_id():
        return None
    shared = (ModelVersion.objects.filter(config__encoder_model_id=encoder_id, pruned_at__isnull=True)
              .exclude(pk=version.pk).exists())
    return None if shared else encoder_id


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _plan_version(version: ModelVersion) -> VersionPrune:
    encoder_id = own_encoder_id(version)
    files = version_files(version)
    return VersionPrune(
        number=version.number, pk=version.pk, state=version.state, score_rows=prunable_scores(version).count(),
        embedding_rows=Embedding.objects.filter(model_id=encoder_id).count() if encoder_id else 0,
        files=files, file_bytes=sum(_size(p) for p in files), pruned_before=version.pruned_at is not None)


def retention_plan(project: Project, keep: int = DEFAULT_KEEP) -> ProjectRetention:
    """What pruning the project with ``keep`` would do; changes nothing (the dry run)."""
    check_keep(keep)
    kept = kept_versions(project, keep)
    plans = []
    for version in (ModelVersion.objects.filter(project=project).select_related("project")
                    .defer("artifact").order_by("number")):
        if version.pruned_at is None and version.number in kept:
            continue
        plan = _plan_version(version)
        if plan.pruned_before and not (plan.score_rows or plan.embedding_rows or plan.files):
            continue  # pruned by an earlier run, nothing of it left
        plans.append(plan)
    return ProjectRetention(slug=project.slug, keep=keep, dry_run=True, kept=kept, versions=plans)


def check_keep(keep) -> None:
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise ValueError(f"keep must be a whole number of at least 1 (the newest versions to keep), not {keep!r}")


def prune_project(project: Project, *, keep: int = DEFAULT_KEEP, dry_run: bool = False) -> ProjectRetention:
    """Prune the project's versions that nothing needs (the module's docstring says which); with
    ``dry_run``, only say what would go. ValueError for a ``keep`` below 1."""
    report = retention_plan(project, keep)
    if dry_run:
        return report
    report.dry_run = False
    for plan in report.versions:
        if not plan.pruned_before:
            plan.skipped = _mark_pruned(project, plan, keep)
            if plan.skipped:
                continue
        version = ModelVersion.objects.select_related("project").defer("artifact").get(pk=plan.pk)
        # Counted as deleted: rows a chunk committed since the plan go (and count) too.
        plan.score_rows = _delete_in_chunks(prunable_scores(version))
        encoder_id = own_encoder_id(version)
        plan.embedding_rows = _delete_in_chunks(Embedding.objects.filter(model_id=encoder_id)) if encoder_id else 0
        plan.file_errors = _remove(plan.files)
        log.info("pruned %s v%s: %s score rows, %s embeddings, %s bytes in %s", project.slug, plan.number,
                 plan.score_rows, plan.embedding_rows, plan.file_bytes, ", ".join(map(str, plan.files)) or "no files")
    return report


def _mark_pruned(project: Project, plan: VersionPrune, keep: int) -> str | None:
    """Mark the version pruned and drop its head from the database, under the project's row lock
    and the version's; None when marked, else why it was left."""
    try:
        with transaction.atomic():
            # The lock activation takes: the version cannot become active while this decides.
            Project.objects.select_for_update().filter(pk=project.pk).first()
            # A scoring chunk holds the version's row share-locked while it writes: not waited for.
            locked = ModelVersion.objects.select_for_update(nowait=True).filter(pk=plan.pk, pruned_at__isnull=True)
            if locked.values_list("pk", flat=True).first() is None:
                return "pruned or deleted meanwhile"
            why = kept_versions(project, keep).get(plan.number)
            if why:
                return "kept meanwhile: " + "; ".join(why)
            ModelVersion.objects.filter(pk=plan.pk).update(pruned_at=timezone.now(), artifact=None, artifact_path="")
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        log.info("%s v%s not pruned now: %s", project.slug, plan.number, exc)
        return "being scored right now (its row is locked); run prune_models again later"
    return None


def _delete_in_chunks(rows: QuerySet) -> int:
    """Delete ``rows`` DELETE_CHUNK at a time, each DELETE committed on its own; returns how many went."""
    model, chunk = rows.model, DELETE_CHUNK
    total = 0
    while True:
        with transaction.atomic():
            batch = model.objects.filter(pk__in=Subquery(rows.values("pk")[:chunk]))
            deleted = batch._raw_delete(batch.db)  # nothing refers to these rows: no cascade to collect
        total += deleted
        if deleted < chunk:
            return total


def _remove(paths: list[Path]) -> list[str]:
    errors = []
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")
            log.exception("%s could not be removed", path)
    return errors


def prune(projects: list[Project] | None = None, *, keep: int = DEFAULT_KEEP,
          dry_run: bool = False) -> list[ProjectRetention]:
    """:func:`prune_project` for each project (every project when None), in slug order."""
    check_keep(keep)
    if projects is None:
        projects = list(Project.objects.order_by("slug"))
    return [prune_project(project, keep=keep, dry_run=dry_run) for project in projects]
