"""Model versions: training one on the project's labels, storing and loading its artifact,
activating it. The learning itself is ``learner.training``; this stores, guards and memoises it.

A version goes training → ready → active → retired (or failed). Activation happens only after the
pool is scored under the version (see labeling.modeling.scores), in one transaction that retires
the previous active version.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from labeling.items.models import Item
from labeling.projects.models import Label, Project
from learner.jsonable import to_jsonable
from learner.planning import duplicate_groups
from learner.precision_bounds import GUARD_PRIOR_ROWS
from learner.training import TrainConfig, TrainedClassifier, train_classifier
from learner.training.config import needs_unlabeled, prior_possible
from learner.training.self_training import rows_outside_labeled_groups, sample_unlabeled_rows
from learner.training.taxonomy import restrict_taxonomy

from . import selectors
from .artifact_paths import ensure_not_pruned, head_file, head_file_path, stored_form
from .embedding import embed_query_texts, model_id
from .embedding_store import project_matrix, vectors_for_items
from .models import ModelVersion, TaskRun

# Artifacts larger than this go to LONGTAIL_ARTIFACT_DIR instead of the database.
ARTIFACT_DB_MAX_BYTES = 32 * 1024 * 1024
MIN_TRAIN_EXAMPLES = 4


class NoActiveModel(LookupError):
    """The project has no active model version yet (nothing trained, or every training failed)."""


class NotEnoughLabels(ValueError):
    """Training needs at least two labels with examples."""


def active_model(project: Project) -> ModelVersion | None:
    """The project's active version (the one that scored the pool and serves predictions)."""
    return selectors.active_version(project)


_CLASSIFIERS: OrderedDict[int, object] = OrderedDict()
_CLASSIFIERS_LOCK = threading.Lock()
_CLASSIFIERS_MAX = 4


def _artifact_bytes(version: ModelVersion) -> bytes:
    ensure_not_pruned(version)  # VersionPruned: retention removed the head (and says when)
    if version.artifact:
        return bytes(version.artifact)
    if version.artifact_path:
        return head_file_path(version).read_bytes()  # relative to LONGTAIL_ARTIFACT_DIR (artifact_paths)
    raise NoActiveModel(f"model version {version.number} of {version.project} has no stored artifact")


def load_classifier(model_version: ModelVersion):
    """The version's TrainedClassifier, memoised per process by version id (artifacts are
    immutable once the version is ready, so the memo is never stale)."""
    with _CLASSIFIERS_LOCK:
        clf = _CLASSIFIERS.get(model_version.id)
        if clf is not None:
            _CLASSIFIERS.move_to_end(model_version.id)
            return clf
    if not model_version.artifact and not model_version.artifact_path:
        model_version = ModelVersion.objects.get(pk=model_version.pk)
    clf = TrainedClassifier.from_bytes(_artifact_bytes(model_version))
    with _CLASSIFIERS_LOCK:
        _CLASSIFIERS[model_version.id] = clf
        while len(_CLASSIFIERS) > _CLASSIFIERS_MAX:
            _CLASSIFIERS.popitem(last=False)
    return clf


def clear_classifiers() -> None:
    """Forget the memoised heads (tests: a recreated test database hands out version ids again)."""
    with _CLASSIFIERS_LOCK:
        _CLASSIFIERS.clear()


def _store_artifact(version: ModelVersion, blob: bytes) -> None:
    if len(blob) <= ARTIFACT_DB_MAX_BYTES:
        version.artifact = blob
        version.artifact_path = ""
        return
    path = head_file(version.project.slug, version.number)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)
    version.artifact = None
    # relative to LONGTAIL_ARTIFACT_DIR: a backup restored under another root still finds it
    version.artifact_path = stored_form(path)


def _start_version(project: Project, run_id: int | None) -> ModelVersion:
    """The training version for this run: reused when the task is re-delivered (idempotent)."""
    if run_id is not None:
        existing = ModelVersion.objects.filter(project=project, config__task_run=run_id).first()
        if existing is not None:
            if existing.state in (ModelVersion.TRAINING, ModelVersion.FAILED):
                existing.state = ModelVersion.TRAINING
                existing.error = ""
                existing.save(update_fields=["state", "error"])
            return existing
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        number = (ModelVersion.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
        # The partial unique constraint refuses a second concurrent training for the project.
        return ModelVersion.objects.create(
            project=project, number=number, state=ModelVersion.TRAINING, config={"task_run": run_id}
        )


def train_version(project: Project, *, run_id: int | None = None, train_config: dict | None = None) -> ModelVersion:
    """Train a new model version on the project's current labels and leave it READY.

    On any failure the version is marked FAILED with the error and the previous active version
    stays active (activation happens only after scoring, in :func:`activate_version`). Raises
    the error after recording it; NotEnoughLabels is raised before any version is created.
    """
    data = selectors.training_set(project)
    # read once, before training: what it learns and what it records as learned (labels_digest)
    read = selectors.label_settings(project)
    if len(set(data.labels)) < 2 or len(data) < MIN_TRAIN_EXAMPLES:
        raise NotEnoughLabels(
            f"{len(data)} labeled item(s) over {len(set(data.labels))} label(s): training needs at least "
            f"{MIN_TRAIN_EXAMPLES} items over two labels."
        )
    version = _start_version(project, run_id)
    if version.state in (ModelVersion.READY, ModelVersion.ACTIVE, ModelVersion.RETIRED):
        return version  # already trained by an earlier delivery of this task
    try:
        started = time.perf_counter()
        X = vectors_for_items(project.id, model_id(), data.item_ids)
        config = TrainConfig.from_dict({**project_train_options(project), **(train_config or {})})
        parents, targets = restrict_taxonomy(read.parents, read.targets, set(data.labels))
        unlabeled, unlabeled_total = None, None
        if needs_unlabeled(config):
            ids, unlabeled, unlabeled_total = unlabeled_items(project, data.item_ids, seed=version.number)
            unlabeled = unlabeled if len(ids) else None
        clf = train_classifier(
            X,
            np.asarray(data.labels, dtype=object),
            config=config,
            groups=np.asarray(data.groups),
            targets=targets or None,
            parents=parents or None,
            unlabeled=unlabeled,
            unlabeled_total=unlabeled_total,
            label_vectors=label_vectors(project, read.texts) if prior_possible(config) else None,
        )
        return finish_version(version, clf, len(data), {
            "train": to_jsonable(asdict(config)), "embedding_model": model_id(),
            "labels_digest": labels_digest(project, data, read), "labels_read": read.record(),
            "seconds": round(time.perf_counter() - started, 3)}, label_ids=data.label_ids)
    except Exception as exc:
        fail_training_version(version, exc)
        raise


def labels_digest(project: Project, data: selectors.TrainingSet, read: selectors.LabelSettings | None = None) -> str:
    """A fingerprint of what a version learns from: every item and its resolved label, and what
    else a retrain reads (the model settings, the taxonomy, the targets, the label texts the prior
    embeds). Two versions with the same digest learned from the same labels and settings.

    ``read``: the label settings the training read before it trained (without it, as they are now):
    a change made while it trained must not be recorded as learned."""
    digest = hashlib.sha256()
    for item_id, label in zip(data.item_ids, data.labels, strict=True):
        digest.update(f"{item_id}\t{label}\n".encode())
    read = read or selectors.label_settings(project)
    settings_read = {"train": project_train_options(project), "parents": read.parents,
                     "targets": read.targets, "label_texts": read.texts}
    digest.update(json.dumps(settings_read, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def final_model_with_current_labels(project: Project) -> ModelVersion | None:
    """The active version when it is a final model trained on exactly the project's current labels
    and settings (a retrain would learn nothing it lacks, with the frozen encoder), else None."""
    active = active_model(project)
    config = (active.config or {}) if active is not None else {}
    if config.get("kind") != "final" or not config.get("labels_digest"):
        return None
    return active if config["labels_digest"] == labels_digest(project, selectors.training_set(project)) else None


def fail_training_version(version: ModelVersion, exc: BaseException) -> None:
    """Record a training's error on its version, while it is still training: a version the
    stale-run sweep failed meanwhile keeps the sweep's reason and time (a late execution that then
    hits VersionAbandoned must not write over them)."""
    ModelVersion.objects.filter(pk=version.pk, state=ModelVersion.TRAINING).update(
        state=ModelVersion.FAILED, error=f"{type(exc).__name__}: {exc}"[:5000], finished_at=timezone.now())


def discard_failed_version_folder(version: ModelVersion, directory: Path) -> bool:
    """Remove a folder a training saved for its version once the version has failed (the stale-run
    sweep abandoned it, or its training failed after the save): nothing serves or exports a failed
    version, so the files would stay on disk for nothing. Decided under the version's row lock,
    as finish_version takes it: a version that is (or meanwhile became) training, ready, active or
    retired keeps its folder. Returns whether it was removed."""
    with transaction.atomic():
        state = ModelVersion.objects.select_for_update().filter(pk=version.pk).values_list("state", flat=True).first()
        if state not in (None, ModelVersion.FAILED):
            return False
        shutil.rmtree(directory, ignore_errors=True)
    return True


class VersionAbandoned(RuntimeError):
    """The version stopped training meanwhile (its run was failed as stale, and perhaps queued
    again): a late result is not stored, and nothing of it is served."""


class VersionDeleted(VersionAbandoned):
    """The version's row is gone (``delete_project`` removed its project while it trained): nothing
    went wrong with the training, so it is logged as information, not as an error."""


def log_training_failure(log, what: str, exc: BaseException) -> None:
    """Log a failed training from inside its ``except`` block: with its traceback, unless the
    version was deleted meanwhile (one line, no traceback)."""
    if isinstance(exc, VersionDeleted):
        log.info("%s: %s", what, exc)
    else:
        log.exception(what)


def finish_version(version: ModelVersion, clf: TrainedClassifier, train_size: int, config: dict, *,
                   label_ids: dict[str, int] | None = None) -> ModelVersion:
    """Store a trained classifier on its version (report, thresholds, artifact, the ids of the labels
    its classes are) and mark it ready; shared by retrains and the final model. Only a version still
    ``training``: one the stale-run sweep failed meanwhile stays failed (VersionAbandoned).

    ``label_ids``: label name → id as the training set read them (a label renamed while the model
    trained keeps its class); without it, the project's labels as they are now."""
    version.temperature = float(clf.temperature) if clf.temperature is not None else None
    version.thresholds = to_jsonable(dict(clf.thresholds or {}))
    version.class_weights = to_jsonable(dict(clf.class_weights or {}))
    version.label_map = [str(c) for c in clf.classes_]
    if label_ids is None:
        label_ids = dict(Label.objects.filter(project_id=version.project_id).values_list("name", "id"))
    # the classes and the coarse labels a coarse → fine model answers with on fallback
    known = [*version.label_map, *sorted({str(p) for p in (clf.parents or {}).values()})]
    version.label_ids = {name: label_ids[name] for name in known if name in label_ids}
    version.metrics = to_jsonable(clf.report or {})
    version.train_size = train_size
    version.config = {**(version.config or {}), **config}
    with transaction.atomic():
        now = ModelVersion.objects.select_for_update().filter(pk=version.pk).values_list("state", flat=True).first()
        if now is None:
            raise VersionDeleted(f"model version {version.number} no longer exists (its project was deleted?): "
                                 "this late result is not stored")
        if now != ModelVersion.TRAINING:
            raise VersionAbandoned(f"model version {version.number} is {now} now (its run was taken for interrupted "
                                   "and failed): this late result is not stored")
        _store_artifact(version, clf.to_bytes())
        version.state = ModelVersion.READY
        version.finished_at = timezone.now()
        version.save()
    with _CLASSIFIERS_LOCK:
        _CLASSIFIERS[version.id] = clf
    return version


# Project.hierarchy_mode → TrainConfig.hierarchy
HIERARCHY_OPTIONS = {"auto": "auto", "flat": "flat", "hierarchical": "coarse_then_fine", "blended": "blend"}


def project_train_options(project: Project) -> dict:
    """The TrainConfig fields a project's settings choose: head, loss, class weights, Other bucket, calibration,
    structure and the fallback floor (with "auto", the floor the evidence picks replaces it), and
    the label-name prior (auto / on / off; with auto, each retrain's evidence decides), and the class
    mix thresholds hold on (pool: estimated from the unlabeled sample; uniform; labeled), and
    whether they are guarded against confusions the labeled items do not show."""
    return {"fine_floor": project.fine_floor, "head": project.head, "loss": project.head_loss,
            "other_min_examples": project.other_min_examples,
            # "temperature_matched": temperature scaling whose served temperature is matched on the
            # unlabeled sample to the out-of-fold models (TrainConfig.match_temperature)
            "calibrate": "temperature" if project.calibration == "temperature_matched" else project.calibration,
            "match_temperature": project.calibration == "temperature_matched",
            "weighting": project.class_weights,
            "hierarchy": HIERARCHY_OPTIONS[project.hierarchy_mode], "label_prior": project.label_prior,
            "threshold_mix": project.threshold_mix,
            "threshold_unseen_prior": GUARD_PRIOR_ROWS if project.threshold_guard else 0.0,
            # LONGTAIL_SELF_TRAINING_ROWS=0 turns self-training off, nothing else (the key only then:
            # the digests of versions trained with it on stay as they were)
            **({} if settings.LONGTAIL_SELF_TRAINING_ROWS else {"self_training": False})}


# The unlabeled sample's size where LONGTAIL_SELF_TRAINING_ROWS is 0 (self-training off): the pool's
# class mix and the final model's distillation still draw one (the setting's default).
SAMPLE_ROWS_WITHOUT_SELF_TRAINING = 20_000


def unlabeled_sample_rows() -> int:
    return settings.LONGTAIL_SELF_TRAINING_ROWS or SAMPLE_ROWS_WITHOUT_SELF_TRAINING


def project_label_texts(project: Project) -> dict[str, str] | None:
    """label name → "name: description", the text the planner's label vectors are embedded from."""
    return selectors.label_settings(project).texts


def label_vectors(project: Project, texts: dict[str, str] | None) -> dict[str, np.ndarray] | None:
    """label name → embedding of its text (``project_label_texts``: "name: description", the
    vectors the planner uses), for the label-name prior."""
    if not texts:
        return None
    return dict(zip(texts, embed_query_texts(list(texts.values()), project_id=project.id), strict=True))


def unlabeled_items(project: Project, labeled_ids, *, seed: int, limit: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """(item ids, frozen embeddings, how many items they were drawn from) of up to ``limit``
    (``unlabeled_sample_rows``) project items outside the training set and its duplicate
    groups (no near-duplicate of a labeled item), and not excluded by a lead (out of the pool, as
    the overview, the planner and the estimates count it), a seeded uniform sample (the simulation
    draws the same rows): for self-training, the pool's class mix and the final model's distillation."""
    limit = unlabeled_sample_rows() if limit is None else limit
    ids, matrix = project_matrix(project.id, model_id())
    # Duplicate groups as the planner forms them, over every project item in id order (excluded ones
    # too: a group with a labeled item is left out whether or not that item is excluded).
    items = list(Item.objects.filter(project=project).order_by("id")
                 .values_list("id", "dup_group", "text_hash", "excluded"))
    item_ids = [r[0] for r in items]
    groups = duplicate_groups(item_ids, [r[1] for r in items], [r[2] for r in items])
    group_of = dict(zip(item_ids, groups.tolist(), strict=True))
    labeled = np.flatnonzero(np.isin(ids, np.asarray(list(labeled_ids), dtype=np.int64)))
    rest = rows_outside_labeled_groups(np.array([group_of[int(i)] for i in ids], dtype=np.int64), labeled)
    excluded = np.asarray([r[0] for r in items if r[3]], dtype=np.int64)
    rest = rest[~np.isin(np.asarray(ids, dtype=np.int64)[rest], excluded)]
    rows = sample_unlabeled_rows(rest, limit, seed=seed)
    return np.asarray(ids)[rows], np.asarray(matrix[rows], dtype=np.float32), int(len(rest))


def activate_version(version: ModelVersion, *, run_id: int | None = None) -> ModelVersion:
    """READY → ACTIVE, retiring the previous active version, in one transaction. With ``run_id``
    (the retrain or final model that trained it), only while that run is still open: a run the
    stale-run sweep failed (and perhaps queued again) never activates its late result over its
    replacement's (VersionAbandoned)."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=version.project_id).first()
        if run_id is not None and not TaskRun.objects.filter(
                pk=run_id, state__in=[TaskRun.PENDING, TaskRun.RUNNING]).exists():
            raise VersionAbandoned(f"model version {version.number} is not activated: its run (task {run_id}) was "
                                   "failed meanwhile")
        version.refresh_from_db(fields=["state"])
        if version.state == ModelVersion.ACTIVE:
            return version
        if version.state != ModelVersion.READY:
            raise ValueError(f"model version {version.number} is {version.state}, only a ready version can be activated")
        ModelVersion.objects.filter(project_id=version.project_id, state=ModelVersion.ACTIVE).update(
            state=ModelVersion.RETIRED
        )
        ModelVersion.objects.filter(pk=version.pk).update(state=ModelVersion.ACTIVE)
    version.state = ModelVersion.ACTIVE
    return version
