"""Write paths of the active-learning loop: embedding the pool, training model versions,
scoring the pool, routing unsure predictions to review, and the retrain pipeline's bookkeeping.

Celery tasks (learner.tasks) are thin wrappers around these functions, so each step can also be
called synchronously (the demo setup, tests, benchmarks). The public entry points for other apps
are documented in docs/loop.md.
"""
from __future__ import annotations

import io
import logging
import math
import threading
import time
from collections import OrderedDict
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from labeling.annotations.models import ReviewTask
from labeling.items.models import Item
from labeling.projects.models import Project

from . import selectors
from .cache import DbEmbeddingCache, copy_id_blob_pairs, missing_item_ids, project_matrix, vectors_for_items
from .models import ItemScore, ModelVersion, TaskRun

log = logging.getLogger(__name__)

RETRAIN = "retrain"
EMBED = "embed"
# Share of a retrain run's progress bar each stage fills.
STAGES = {"embed": (0.0, 0.15), "train": (0.15, 0.45), "score": (0.45, 0.9), "plan": (0.9, 1.0)}
# Artifacts larger than this go to LONGTAIL_ARTIFACT_DIR instead of the database.
ARTIFACT_DB_MAX_BYTES = 32 * 1024 * 1024
MIN_TRAIN_EXAMPLES = 4


class NoActiveModel(LookupError):
    """The project has no active model version yet (nothing trained, or every training failed)."""


class NotEnoughLabels(ValueError):
    """Training needs at least two labels with examples."""


def model_id() -> str:
    return settings.LONGTAIL_MODEL_ID


def stale_after() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "LONGTAIL_TASK_STALE_SECONDS", 3600)))


# --- task progress ----------------------------------------------------------------------------
def update_run(run_id: int, *, state=None, progress=None, message=None, finished=False, **detail) -> None:
    """Record progress on a TaskRun (one UPDATE; the heartbeat moves with it)."""
    run = TaskRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    fields = {"updated_at": timezone.now()}
    if state is not None:
        fields["state"] = state
    if progress is not None:
        fields["progress"] = max(0.0, min(1.0, float(progress)))
    if message is not None:
        fields["message"] = str(message)[:500]
    if finished:
        fields["finished_at"] = timezone.now()
    if detail:
        fields["detail"] = {**(run.detail or {}), **detail}
    TaskRun.objects.filter(pk=run_id).update(**fields)


def stage_progress(stage: str, share: float) -> float:
    low, high = STAGES[stage]
    return low + (high - low) * max(0.0, min(1.0, share))


def add_progress(run_id: int, amount: float) -> None:
    """Atomic increment: score chunks on several workers add their share concurrently."""
    TaskRun.objects.filter(pk=run_id).update(progress=F("progress") + amount, updated_at=timezone.now())


def fail_run(run_id: int, message: str) -> None:
    update_run(run_id, state=TaskRun.FAILED, message=message, finished=True, error=message)


# --- retrain requests ---------------------------------------------------------------------------
def _expire_stale_runs(project: Project) -> None:
    """A pending/running retrain with no heartbeat for LONGTAIL_TASK_STALE_SECONDS was interrupted
    (its worker died and the message is gone): fail it and any training version it left."""
    cutoff = timezone.now() - stale_after()
    stale = TaskRun.objects.filter(
        project=project, kind=RETRAIN, state__in=[TaskRun.PENDING, TaskRun.RUNNING], updated_at__lt=cutoff
    )
    if stale.exists():
        stale.update(state=TaskRun.FAILED, message="Interrupted: no progress for too long.", finished_at=timezone.now())
        ModelVersion.objects.filter(project=project, state=ModelVersion.TRAINING, created_at__lt=cutoff).update(
            state=ModelVersion.FAILED, error="Interrupted: the training stopped reporting.", finished_at=timezone.now()
        )


def request_retrain(project: Project, *, reason: str = "manual") -> TaskRun:
    """Enqueue embed → train → score → plan for the project and return its TaskRun.

    At most one runs per project: while one is pending or running, that TaskRun is returned and
    nothing new starts. The guard is the database's (a partial unique constraint on TaskRun plus
    a row lock on the project), so it holds across web processes and workers on any machine.
    """
    from . import tasks

    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        _expire_stale_runs(project)
        running = selectors.open_retrain_run(project)
        if running is not None:
            return running
        try:
            with transaction.atomic():
                run = TaskRun.objects.create(
                    project=project, kind=RETRAIN, message="Queued.", detail={"reason": reason, "stage": "queued"}
                )
        except IntegrityError:
            # Another process created one between our check and insert (SQLite has no row locks).
            return selectors.open_retrain_run(project)
        transaction.on_commit(lambda: _enqueue(tasks.run_retrain, run.id, args=[run.id]))
    return run


def _enqueue(task, run_id: int, *, args: list) -> None:
    """Send a run's first task. If the broker cannot be reached (or, in eager mode, the pipeline
    breaks unexpectedly) the run is failed with the reason instead of staying pending, so the
    next request can start afresh."""
    try:
        task.apply_async(args=args)
    except Exception as exc:
        log.exception("could not run %s for TaskRun %s", task.name, run_id)
        fail_run(run_id, f"Could not queue the work: {type(exc).__name__}: {exc}")


def request_embedding(project: Project) -> TaskRun:
    """Embed the project's items that have no cached vector yet (after an import)."""
    from . import tasks

    with transaction.atomic():
        run = TaskRun.objects.create(project=project, kind=EMBED, message="Queued.")
        transaction.on_commit(lambda: _enqueue(tasks.embed_project, run.id, args=[project.id, run.id]))
    return run


# --- embedding ----------------------------------------------------------------------------------
def _encoder():
    from .embedding import get_encoder

    return get_encoder(str(settings.LONGTAIL_MODEL_PATH), model_id())


def embed_items(item_ids: list[int]) -> int:
    """Embed the given items' texts that are not cached yet; returns how many texts were encoded.
    Idempotent: a second call finds everything cached and encodes nothing."""
    from .embedding import embed_texts

    cache = DbEmbeddingCache()
    rows = list(Item.objects.filter(id__in=list(item_ids)).values_list("text_hash", "text"))
    text_by_hash = dict(rows)
    cached = cache.get_many(model_id(), list(text_by_hash))
    todo = {h: text for h, text in text_by_hash.items() if h not in cached}
    if todo:
        # Keyed by Item.text_hash, the key project_matrix joins on.
        embed_texts(list(todo.values()), _encoder(), cache, hashes=list(todo))
    return len(todo)


def unembedded_item_ids(project: Project) -> list[int]:
    return missing_item_ids(project.id, model_id())


def embed_project(project: Project, *, chunk: int = 256, on_progress=None) -> int:
    """Synchronously embed every item of the project that is not cached yet."""
    todo = unembedded_item_ids(project)
    done = 0
    for start in range(0, len(todo), chunk):
        done += embed_items(todo[start : start + chunk])
        if on_progress:
            on_progress(min(1.0, (start + chunk) / len(todo)))
    return done


def embed_query_texts(texts: list[str]) -> np.ndarray:
    """Vectors for arbitrary texts (label descriptions, predict requests), through the cache;
    the encoder is only loaded when some text is not cached."""
    from labeling.items.normalize import text_hash

    cache = DbEmbeddingCache()
    hashes = [text_hash(t) for t in texts]
    cached = cache.get_many(model_id(), hashes)
    if texts and all(h in cached for h in hashes):
        return np.stack([cached[h] for h in hashes]).astype(np.float32)
    from .embedding import embed_texts

    return np.asarray(embed_texts(list(texts), _encoder(), cache), dtype=np.float32)


# --- model versions -----------------------------------------------------------------------------
def active_model(project: Project) -> ModelVersion | None:
    return selectors.active_version(project)


_CLASSIFIERS: OrderedDict[int, object] = OrderedDict()
_CLASSIFIERS_LOCK = threading.Lock()
_CLASSIFIERS_MAX = 4


def _artifact_bytes(version: ModelVersion) -> bytes:
    if version.artifact:
        return bytes(version.artifact)
    if version.artifact_path:
        return Path(version.artifact_path).read_bytes()
    raise NoActiveModel(f"model version {version.number} of {version.project} has no stored artifact")


def load_classifier(model_version: ModelVersion):
    """The version's TrainedClassifier, memoised per process by version id (artifacts are
    immutable once the version is ready, so the memo is never stale)."""
    with _CLASSIFIERS_LOCK:
        clf = _CLASSIFIERS.get(model_version.id)
        if clf is not None:
            _CLASSIFIERS.move_to_end(model_version.id)
            return clf
    from .training import TrainedClassifier

    if not model_version.artifact and not model_version.artifact_path:
        model_version = ModelVersion.objects.get(pk=model_version.pk)
    clf = TrainedClassifier.from_bytes(_artifact_bytes(model_version))
    with _CLASSIFIERS_LOCK:
        _CLASSIFIERS[model_version.id] = clf
        while len(_CLASSIFIERS) > _CLASSIFIERS_MAX:
            _CLASSIFIERS.popitem(last=False)
    return clf


def _store_artifact(version: ModelVersion, blob: bytes) -> None:
    if len(blob) <= ARTIFACT_DB_MAX_BYTES:
        version.artifact = blob
        version.artifact_path = ""
        return
    directory = Path(settings.LONGTAIL_ARTIFACT_DIR) / version.project.slug
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"model-v{version.number}.bin"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)
    version.artifact = None
    version.artifact_path = str(path)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
    from .training import TrainConfig, train_classifier

    data = selectors.training_set(project)
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
        config = TrainConfig.from_dict({"fine_floor": project.fine_floor, **(train_config or {})})
        parents, targets = _taxonomy_for(project, set(data.labels))
        unlabeled = unlabeled_sample(project, data.item_ids, seed=version.number) if config.self_training else None
        clf = train_classifier(
            X,
            np.asarray(data.labels, dtype=object),
            config=config,
            groups=np.asarray(data.groups),
            targets=targets or None,
            parents=parents or None,
            unlabeled=unlabeled,
        )
        version.temperature = float(clf.temperature) if clf.temperature is not None else None
        version.thresholds = _jsonable(dict(clf.thresholds or {}))
        version.class_weights = _jsonable(dict(clf.class_weights or {}))
        version.label_map = [str(c) for c in clf.classes_]
        version.metrics = _jsonable(clf.report or {})
        version.train_size = len(data)
        version.config = {**(version.config or {}), "train": _jsonable(_config_dict(config)),
                          "embedding_model": model_id(), "seconds": round(time.perf_counter() - started, 3)}
        _store_artifact(version, clf.to_bytes())
        version.state = ModelVersion.READY
        version.finished_at = timezone.now()
        version.save()
        with _CLASSIFIERS_LOCK:
            _CLASSIFIERS[version.id] = clf
        return version
    except Exception as exc:
        ModelVersion.objects.filter(pk=version.pk).update(
            state=ModelVersion.FAILED, error=f"{type(exc).__name__}: {exc}"[:5000], finished_at=timezone.now()
        )
        raise


def unlabeled_sample(project: Project, labeled_ids, *, seed: int, limit: int | None = None) -> np.ndarray | None:
    """Embeddings of up to ``limit`` (``LONGTAIL_SELF_TRAINING_ROWS``) project items outside the
    training set, a seeded uniform sample, for self-training; None when there are none or the
    setting is 0."""
    limit = settings.LONGTAIL_SELF_TRAINING_ROWS if limit is None else limit
    if limit <= 0:
        return None
    ids, matrix = project_matrix(project.id, model_id())
    rows = np.flatnonzero(~np.isin(ids, np.asarray(list(labeled_ids), dtype=np.int64)))
    if len(rows) == 0:
        return None
    if len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))
    return np.asarray(matrix[rows], dtype=np.float32)


def _taxonomy_for(project: Project, present: set[str]) -> tuple[dict[str, str], dict]:
    """Parents and targets restricted to what this training set can use. With a two-level
    taxonomy every training label needs a parent: one answered at the coarse level (or a flat
    label beside the tree) is its own branch."""
    parents = selectors.label_parents(project)
    if any(label in parents for label in present):
        parents = {label: parents.get(label, label) for label in present}
    else:
        parents = {}
    usable = present | set(parents.values())
    targets = {name: t for name, t in selectors.label_targets(project).items() if name in usable}
    return parents, targets


def _config_dict(config) -> dict:
    if hasattr(config, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(config)
    return dict(getattr(config, "__dict__", {}))


def activate_version(version: ModelVersion) -> ModelVersion:
    """READY → ACTIVE, retiring the previous active version, in one transaction."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=version.project_id).first()
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


# --- scoring ------------------------------------------------------------------------------------
def score_chunks(project: Project, *, chunk_size: int = 20_000) -> list[tuple[int, int]]:
    """Item-id ranges [lo, hi] covering the project's pool, ``chunk_size`` items each."""
    ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    return [(ids[i], ids[min(i + chunk_size, len(ids)) - 1]) for i in range(0, len(ids), chunk_size)]


def score_range(version: ModelVersion, id_min: int | None = None, id_max: int | None = None) -> int:
    """Score the project's items with ids in [id_min, id_max] under ``version`` and store one
    ItemScore per item (replacing rows of an earlier attempt: re-running never duplicates)."""
    from .scoring import score_stats

    ids, X = project_matrix(version.project_id, model_id(), id_min=id_min, id_max=id_max)
    if len(ids) == 0:
        return 0
    proba = load_classifier(version).predict_proba(X)
    stats = score_stats(proba)
    with transaction.atomic():
        # Nothing references ItemScore, so this is one DELETE statement.
        scope = ItemScore.objects.filter(model_version=version)
        if id_min is not None:
            scope = scope.filter(item_id__gte=id_min)
        if id_max is not None:
            scope = scope.filter(item_id__lte=id_max)
        scope.delete()
        _insert_scores(version.id, ids, proba, stats)
    return len(ids)


def _insert_scores(version_id: int, ids: np.ndarray, proba: np.ndarray, stats: dict) -> None:
    from .scoring import PROBS_DTYPE, pack_probs_matrix

    top_label = stats["top_label"].tolist()
    top_prob = stats["top_prob"].tolist()
    margin = stats["margin"].tolist()
    entropy = stats["entropy"].tolist()
    if connection.vendor == "postgresql":
        # COPY is several times faster than INSERT for 100k rows. The float16 rows are the
        # scoring module's packing (PROBS_DTYPE), hex-encoded for bytea in one pass.
        half = np.ascontiguousarray(np.asarray(proba, dtype=np.float64).astype(PROBS_DTYPE))
        width = 2 * half.shape[1] * PROBS_DTYPE.itemsize
        hexed = half.tobytes().hex()
        buffer = io.StringIO()
        buffer.writelines(
            f"{item_id}\t{version_id}\t\\\\x{hexed[i * width:(i + 1) * width]}\t{top_label[i]}\t{top_prob[i]!r}\t"
            f"{margin[i]!r}\t{entropy[i]!r}\n"
            for i, item_id in enumerate(ids.tolist())
        )
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY {ItemScore._meta.db_table} (item_id, model_version_id, probs, top_label, top_prob, "
                "margin, entropy) FROM STDIN",
                buffer,
            )
        return
    packed = pack_probs_matrix(proba)
    rows = [
        ItemScore(
            item_id=item_id, model_version_id=version_id, probs=packed[i], top_label=top_label[i],
            top_prob=top_prob[i], margin=margin[i], entropy=entropy[i],
        )
        for i, item_id in enumerate(ids.tolist())
    ]
    ItemScore.objects.bulk_create(rows, batch_size=2000)


def score_version(version: ModelVersion, *, chunk_size: int = 20_000) -> int:
    """Score the whole pool synchronously (what the chord does across workers)."""
    total = 0
    for lo, hi in score_chunks(version.project, chunk_size=chunk_size):
        total += score_range(version, lo, hi)
    return total


def scores_matrix(version: ModelVersion, item_ids=None) -> tuple[np.ndarray, np.ndarray]:
    """(item ids, float32 probability matrix in label_map order) of a version's stored scores."""
    from .scoring import PROBS_DTYPE

    k = len(version.label_map)
    if item_ids is None and connection.vendor == "postgresql":
        pairs = copy_id_blob_pairs(
            f"SELECT item_id, probs FROM {ItemScore._meta.db_table} WHERE model_version_id = %s ORDER BY item_id",
            [version.id],
        )
        if pairs is not None:
            ids, blobs = pairs
            if len(ids) == 0:
                return ids, np.zeros((0, k), dtype=np.float32)
            return ids, blobs.view(PROBS_DTYPE).astype(np.float32)
    qs = ItemScore.objects.filter(model_version=version)
    if item_ids is not None:
        qs = qs.filter(item_id__in=list(item_ids))
    rows = list(qs.order_by("item_id").values_list("item_id", "probs"))
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, k), dtype=np.float32)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    blob = b"".join(bytes(r[1]) for r in rows)
    matrix = np.frombuffer(blob, dtype=PROBS_DTYPE).reshape(len(rows), -1).astype(np.float32)
    return ids, matrix


# --- review routing -----------------------------------------------------------------------------
def route_low_confidence(version: ModelVersion) -> int:
    """Open ReviewTask(low_confidence) for the least confident unlabeled predictions.

    Candidates are predictions whose top probability is below their label's threshold, least
    confident first, at most ``review_share_max`` of the scored unlabeled pool. When fewer than
    ``review_share_min`` are below threshold, the least confident predictions overall top the
    queue up to that share, so leads always audit a steady sample. Open tasks from earlier
    versions count against the cap. Returns how many tasks were created. The selection runs in
    the database: only the routed rows come back.
    """
    from django.db.models import Q

    project = version.project
    labeled = list(selectors.resolve_item_labels(project))
    scores = ItemScore.objects.filter(model_version=version).exclude(item_id__in=labeled)
    n = scores.count()
    if n == 0:
        return 0
    cap = math.floor(project.review_share_max * n + 1e-9)
    floor_count = min(cap, math.ceil(project.review_share_min * n - 1e-9))
    open_items = set(
        ReviewTask.objects.filter(
            project=project, reason=ReviewTask.LOW_CONFIDENCE, resolved_at__isnull=True
        ).values_list("item_id", flat=True)
    )
    room = cap - len(open_items)
    if room <= 0:
        return 0
    label_map = version.label_map
    thresholds = version.thresholds or {}
    below_q = Q(pk__in=[])
    for index, name in enumerate(label_map):
        threshold = float(thresholds.get(name, 0.0) or 0.0)
        if threshold > 0:
            below_q |= Q(top_label=index, top_prob__lt=threshold)
    columns = ("item_id", "top_label", "top_prob")
    chosen = list(scores.filter(below_q).order_by("top_prob", "item_id").values_list(*columns)[:cap])
    if len(chosen) < floor_count:
        picked = [r[0] for r in chosen]
        chosen += list(
            scores.exclude(item_id__in=picked).order_by("top_prob", "item_id").values_list(*columns)[
                : floor_count - len(chosen)
            ]
        )
    new = [r for r in chosen if r[0] not in open_items][:room]
    tasks = [
        ReviewTask(
            project=project, item_id=item_id, reason=ReviewTask.LOW_CONFIDENCE,
            detail={
                "model_version": version.number, "predicted": label_map[top], "prob": round(float(prob), 4),
                "threshold": _jsonable(thresholds.get(label_map[top])),
            },
        )
        for item_id, top, prob in new
    ]
    ReviewTask.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)
    return len(tasks)


# --- prediction ---------------------------------------------------------------------------------
def predict_texts(project: Project, texts: list[str]) -> list[dict]:
    """Predictions of the active model for raw texts (embedded through the cache), one dict per
    text from the classifier's ``decide``, plus every class's calibrated probability and the model
    version number."""
    version = active_model(project)
    if version is None:
        raise NoActiveModel(f"Project {project.slug!r} has no active model yet: label some items and retrain.")
    if not texts:
        return []
    clf = load_classifier(version)
    proba = clf.predict_proba(embed_query_texts(texts))
    names = [str(c) for c in clf.classes_]
    out = []
    for decision, row_proba in zip(clf.decide(None, proba=proba), proba, strict=True):
        row = _jsonable(dict(decision))
        row["probabilities"] = {name: round(float(p), 4) for name, p in zip(names, row_proba, strict=True)}
        row["model_version"] = version.number
        out.append(row)
    return out


# --- first wave ---------------------------------------------------------------------------------
def plan_first_wave(project: Project):
    """Demo setup: embed the pool, plan the cold-start wave and open it for annotators.
    Returns the open wave (the existing one when the project already has one)."""
    from labeling.waves import services as waves

    current = waves.current_wave(project)
    if current is not None:
        return current
    embed_project(project)
    wave = waves.plan_next_wave(project)
    return waves.open_wave(wave)


# --- end of the retrain pipeline ----------------------------------------------------------------
def finish_retrain(run: TaskRun) -> None:
    """Last step: when no wave is open, plan and open the next one, then close the run.

    Runs under the project's row lock, the same lock :func:`request_retrain` takes, so a wave
    that completes while this run is finishing either is seen here or starts a new run.
    """
    from labeling.waves import services as waves

    detail = run.detail or {}
    notes = []
    try:
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=run.project_id).first()
            wave = waves.plan_and_open_if_idle(run.project)
            if wave is not None:
                notes.append(f"wave {wave.number} opened ({wave.size} items)")
                update_run(run.id, wave=wave.number, wave_id=wave.id)
            else:
                notes.append("a wave is already open")
            _close_run(run, detail, notes)
    except waves.NothingToPlan as exc:
        notes.append(str(exc))
        update_run(run.id, planning="nothing to plan")
        _close_run(run, detail, notes)
    except Exception as exc:
        log.exception("planning failed")
        fail_run(run.id, f"Planning failed: {type(exc).__name__}: {exc}")


def _close_run(run: TaskRun, detail: dict, notes: list[str]) -> None:
    error = detail.get("error")
    if detail.get("training") == "skipped":
        notes.insert(0, "not trained (too few labels)")
    elif "model_version" in detail and not error:
        notes.insert(0, f"model v{detail['model_version']} active")
    if error:
        update_run(run.id, state=TaskRun.FAILED, progress=1.0, message=f"{error} ({'; '.join(notes)})", finished=True)
    else:
        update_run(run.id, state=TaskRun.DONE, progress=1.0, message="Done: " + "; ".join(notes) + ".",
                   finished=True, stage="done")


# --- triggers -----------------------------------------------------------------------------------
def on_answer_saved(sender=None, *, project, item, **kwargs) -> None:
    """answer_saved receiver: a completed open wave, or ``retrain_every`` new labels since the
    last retrain, starts the retrain pipeline (which plans the next wave when none is open).

    The answer is already stored when this runs: a failure here is logged, never reported to the
    annotator as a failed save."""
    try:
        _react_to_answer(project, item)
    except Exception:
        log.exception("the loop could not react to an answer in project %s", getattr(project, "slug", project))


def _react_to_answer(project: Project, item) -> None:
    from labeling.waves import selectors as wave_selectors
    from labeling.waves import services as waves
    from labeling.waves.models import Wave, WaveItem

    pick = (
        WaveItem.objects.filter(wave__project=project, wave__state=Wave.OPEN, item=item)
        .select_related("wave")
        .first()
    )
    if pick is not None and wave_selectors.pick_is_complete(pick):
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=project.pk).first()
            wave = Wave.objects.get(pk=pick.wave_id)
            if wave.state == Wave.OPEN and wave_selectors.wave_is_complete(wave):
                waves.close_wave(wave)
                request_retrain(project, reason="wave_complete")
                return
    every = project.retrain_every
    if every:
        last = selectors.last_retrain_run(project)
        if selectors.labels_since(project, last.created_at if last else None) >= every:
            request_retrain(project, reason="retrain_every")
