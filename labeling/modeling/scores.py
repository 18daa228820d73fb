"""Scoring the pool under a model version: one ItemScore per item (calibrated probabilities as
float16, top label, top probability, margin, entropy), written by id ranges so that chunks can run
on several workers, and read back as a matrix for the planner.

The top label is the fine label the served model emits (``TrainedClassifier.emitted``): for a
coarse → fine model the best fine label within the most probable branch, which is not always the
flat argmax; where the model falls back to the coarse label it is the fine candidate and the row's
``fallback`` is set (``emitted_scores`` reads what the model emits from both).

Why a column and not only a cheaper way to decode: the browser's "predicted" filter and the
dashboard's per-label counts run in SQL over the whole pool, and need to tell a fallback from its
fine candidate row by row. Rows scored before the column were filled in from their stored
probability row by the migration ``0009_itemscore_fallback_fill``; every reader takes a NULL left
as False (labeling.modeling.decoding), so what the browser shows, what its filter matches and what
the dashboard counts agree. A fallback's coarse label needs the version's decoding rule, memoised
per process, so that no page load unpickles a head it read before."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.db.models import Case, Count, FloatField, Q, Value, When

from labeling.items.models import Item
from labeling.projects.models import Label, Project
from learner.scoring import PROBS_DTYPE, pack_probs_matrix, score_stats, stored_rows

from .decoding import decoding_rule
from .embedding_store import DbEmbeddingCache, copy_id_blob_pairs, project_matrix
from .final import version_encoder_id
from .models import ItemScore, ModelVersion
from .selectors import model_labels
from .versions import load_classifier


def score_chunks(project: Project, *, chunk_size: int = 20_000) -> list[tuple[int, int]]:
    """Item-id ranges [lo, hi] covering the project's pool, ``chunk_size`` items each."""
    ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    return [(ids[i], ids[min(i + chunk_size, len(ids)) - 1]) for i in range(0, len(ids), chunk_size)]


def hold_version(version: ModelVersion) -> bool:
    """Share-lock the version's row until the transaction ends (False: it is gone, or retention
    pruned it: labeling.modeling.retention). ItemScore has
    no foreign key constraint, so nothing else stops scores being written for a version that
    ``delete_project`` removed while they were computed; it locks its project's versions FOR UPDATE
    before deleting their scores, so a scoring chunk either commits first (and its rows are then
    deleted with the rest) or waits and finds the version gone."""
    if connection.vendor != "postgresql":
        return ModelVersion.objects.filter(pk=version.pk, pruned_at__isnull=True).exists()
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT 1 FROM "{ModelVersion._meta.db_table}" WHERE id = %s AND pruned_at IS NULL '
                       'FOR KEY SHARE', [version.pk])
        return cursor.fetchone() is not None


def score_range(version: ModelVersion, id_min: int | None = None, id_max: int | None = None) -> int:
    """Score the project's items with ids in [id_min, id_max] under ``version`` and store one
    ItemScore per item (replacing rows of an earlier attempt: re-running never duplicates)."""
    # A final model reads its fine-tuned encoder's vectors (labeling.modeling.final), the others the frozen ones.
    ids, X = project_matrix(version.project_id, version_encoder_id(version), id_min=id_min, id_max=id_max)
    if len(ids) == 0:
        return 0
    classifier = load_classifier(version)
    proba = classifier.predict_proba(X)
    stats = stored_stats(classifier, proba)
    with transaction.atomic():
        if not hold_version(version):
            return 0  # deleted with its project meanwhile (labeling.projects.deletion): nothing to store
        # Nothing references ItemScore, so this is one DELETE statement.
        scope = ItemScore.objects.filter(model_version=version)
        if id_min is not None:
            scope = scope.filter(item_id__gte=id_min)
        if id_max is not None:
            scope = scope.filter(item_id__lte=id_max)
        scope.delete()
        _insert_scores(version.id, ids, proba, stats)
    return len(ids)


def score_items(version: ModelVersion, item_ids) -> int:
    """Score the given items of the version's project that have a vector under its encoder, and
    store one ItemScore each (replacing theirs: re-running never duplicates); other items' scores
    are left as they are. Returns how many were scored."""
    wanted = sorted({int(i) for i in item_ids})
    hash_by_id = dict(Item.objects.filter(project_id=version.project_id, id__in=wanted).values_list("id", "text_hash"))
    vectors = DbEmbeddingCache().get_many(version_encoder_id(version), set(hash_by_id.values()))
    ids = np.array([i for i in wanted if hash_by_id.get(i) in vectors], dtype=np.int64)
    if len(ids) == 0:
        return 0
    X = np.stack([vectors[hash_by_id[int(i)]] for i in ids]).astype(np.float32, copy=False)
    classifier = load_classifier(version)
    proba = classifier.predict_proba(X)
    stats = stored_stats(classifier, proba)
    with transaction.atomic():
        if not hold_version(version):
            return 0
        ItemScore.objects.filter(model_version=version, item_id__in=ids.tolist()).delete()
        _insert_scores(version.id, ids, proba, stats)
    return len(ids)


def stored_stats(classifier, proba: np.ndarray) -> dict[str, np.ndarray]:
    """``score_stats`` of the rows, with ``top_label`` / ``top_prob`` the fine label the classifier
    emits and its probability (for a coarse → fine model not the flat argmax: the browser's
    "predicted" filter, the item page and review routing show and judge what users are given)."""
    stats = score_stats(proba)
    stats["fallback"] = np.zeros(len(proba), dtype=bool)
    if classifier.parents:
        emitted = classifier.emitted(proba)
        stats["top_label"] = emitted.fine_column.astype(np.int64)
        stats["top_prob"] = emitted.fine_prob.astype(np.float64)
        stats["fallback"] = np.asarray(emitted.fallback, dtype=bool)
    return stats


@dataclass(frozen=True)
class Emission:
    """What a version emits for one stored score: a label by the name the version learned (the
    coarse label where it falls back), its probability and whether it is a fallback."""

    label: str
    prob: float
    fallback: bool
    candidate: str  # the fine candidate (the stored top label): the label itself unless a fallback


def emitted_labels(version: ModelVersion, item_ids) -> dict[int, str]:
    """item id → the label the version emits for the item's stored score (``emitted_scores``)."""
    return {item_id: emission.label for item_id, emission in emitted_scores(version, item_ids).items()}


def emitted_scores(version: ModelVersion, item_ids) -> dict[int, Emission]:
    """item id → what the version emits for the item's stored score, by the name the version
    learned: the stored top label with its probability, or where a coarse → fine model falls back
    (``ItemScore.fallback``; NULL reads as False), the coarse label with its branch's probability
    (summed over the stored float16 row). Only the given items' rows are read; a head is read only
    where a fallback needs the rule, and then once per process. Items without a stored score, or
    whose top label is outside the version's classes, are left out; a version whose head is gone
    (pruned) gives its stored top labels."""
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        return {}
    rows = list(ItemScore.objects.filter(model_version=version, item_id__in=ids).order_by("item_id")
                .values_list("item_id", "top_label", "top_prob", "fallback"))
    fell_back = [row[0] for row in rows if row[3] is True]
    probs = dict(ItemScore.objects.filter(model_version=version, item_id__in=fell_back)
                 .values_list("item_id", "probs")) if fell_back else {}
    return _emissions(version, rows, probs)


def _emissions(version: ModelVersion, rows, probs: dict) -> dict[int, Emission]:
    """``emitted_scores`` of stored rows already read: (item id, top label, top probability,
    fallback) each, and ``probs`` (item id → stored probability row) of the fallbacks."""
    trained = [str(name) for name in version.label_map or []]
    rows = [row for row in rows if 0 <= row[1] < len(trained)]
    out = {item_id: Emission(trained[top], float(prob), False, trained[top]) for item_id, top, prob, _ in rows}
    kept = [row for row in rows if row[3] is True and row[0] in probs]
    rule = decoding_rule(version) if kept else None
    if rule is None or not rule.parents or len(rule.classes) != len(trained):
        return out  # without a head the stored top label is all there is
    top = np.array([row[1] for row in kept], dtype=np.int64)
    stored = np.stack([np.frombuffer(bytes(probs[row[0]]), dtype=PROBS_DTYPE) for row in kept])
    branch = rule.branch_prob(stored_rows(stored, top, [row[2] for row in kept]), top)
    for i, (item_id, column, _, _) in enumerate(kept):
        out[item_id] = Emission(str(rule.coarse_of(column)), float(branch[i]), True, trained[column])
    return out


@dataclass(frozen=True)
class Shown:
    """A stored score as the browser shows it, each label by its name now (None: deleted since the
    version trained): the label emitted, whether it is a fallback, and then the fine candidate."""

    label: str | None
    fallback: bool = False
    candidate: str | None = None


def shown_predictions(version: ModelVersion | None, stored: dict[int, tuple[int, bool | None]]) -> dict[int, Shown]:
    """item id → what the version emits for it, of ``stored`` (item id → its score's top label and
    ``fallback``, NULL read as False); the stored probability rows are read only for fallbacks."""
    if version is None or not stored:
        return {}
    labels = model_labels(version)
    names = labels.names
    out = {item_id: Shown(names[top] if 0 <= top < len(names) else None) for item_id, (top, _) in stored.items()}
    for item_id, e in emitted_scores(version, [i for i, (_, fallback) in stored.items() if fallback]).items():
        if e.fallback:
            out[item_id] = Shown(labels.current_name(e.label), True, labels.current_name(e.candidate))
    return out


def pool_threshold_rows(version: ModelVersion, labels) -> list[dict]:
    """Per label the version emits (``labels``: its selectors.ModelLabels): its threshold, the share
    of the stored scores that emit it and the share below its threshold (routed to review). A
    fallback counts as the coarse label it emits, not as its fine candidate; the coarse probability
    is not stored, so a coarse label's row has no review share. A NULL ``fallback`` is not a
    fallback (labeling.modeling.decoding). One grouped query whatever the number of labels: the
    dashboard loads it for projects with dozens of labels, and each per-label count read the
    version's scores again."""
    thresholds = [float((version.thresholds or {}).get(name, 0.0)) for name in labels.trained]  # by learned name
    # Each row's own label's threshold (0: none, so nothing is below it).
    row_threshold = Case(*[When(top_label=column, then=Value(threshold)) for column, threshold in enumerate(thresholds)
                           if threshold > 0], default=Value(0.0), output_field=FloatField())
    groups = (ItemScore.objects.filter(model_version=version).order_by().values("top_label", "fallback")
              .annotate(n=Count("id"), below=Count("id", filter=Q(top_prob__lt=row_threshold))))
    total = 0
    emitting: dict[int, list[int]] = {}  # column → [scores emitting it, of them below its threshold]
    fell_back: dict[int, int] = {}  # fine candidate column → fallbacks keeping it as top label
    for group in groups:
        total += group["n"]
        if group["fallback"] is True:
            fell_back[group["top_label"]] = fell_back.get(group["top_label"], 0) + group["n"]
        else:
            counts = emitting.setdefault(group["top_label"], [0, 0])
            counts[0] += group["n"]
            counts[1] += group["below"]
    rows = []
    for column, name in enumerate(labels.trained):
        predicted, below = emitting.get(column, (0, 0))
        rows.append({"label": labels.shown(name), "threshold": thresholds[column],
                     "predicted_share": predicted / total if total else None,
                     "review_share": below / total if total else None})
    rule = decoding_rule(version) if fell_back else None
    coarse: dict[str, int] = {}
    for column, n in sorted(fell_back.items()):
        name = rule.coarse_of(column) if rule is not None else None
        if name is not None:
            coarse[name] = coarse.get(name, 0) + n
    return rows + [{"label": f"{labels.shown(name)} (fallback to the coarse label)", "threshold": None,
                    "predicted_share": n / total, "review_share": None} for name, n in coarse.items()]


def item_predictions(item: Item) -> list[dict]:
    """What each model version that scored the item emits (newest version first): the label by its
    name now (None: deleted since that version trained), its probability and margin, and on a
    coarse → fine model's fallback, ``fallback`` with the rejected fine candidate's name."""
    labels = dict(Label.objects.filter(project_id=item.project_id).values_list("id", "name"))
    rows = []
    for score in (ItemScore.objects.filter(item=item).select_related("model_version")
                  .defer("model_version__artifact").order_by("-model_version__number")):
        version = score.model_version
        names = model_labels(version, labels)
        emission = _emissions(version, [(item.id, score.top_label, score.top_prob, score.fallback)],
                              {item.id: score.probs}).get(item.id)
        rows.append({
            "model_version": version.number, "state": version.state,
            "label": names.current_name(emission.label) if emission else None,
            "probability": emission.prob if emission else score.top_prob, "margin": score.margin,
            "fallback": bool(emission and emission.fallback),
            "candidate": names.current_name(emission.candidate) if emission and emission.fallback else None,
        })
    return rows


def _insert_scores(version_id: int, ids: np.ndarray, proba: np.ndarray, stats: dict) -> None:
    top_label = stats["top_label"].tolist()
    top_prob = stats["top_prob"].tolist()
    margin = stats["margin"].tolist()
    entropy = stats["entropy"].tolist()
    fallback = stats["fallback"].tolist()
    if connection.vendor == "postgresql":
        # COPY is several times faster than INSERT for 100k rows. The float16 rows are the
        # scoring module's packing (PROBS_DTYPE), hex-encoded for bytea in one pass.
        half = np.ascontiguousarray(np.asarray(proba, dtype=np.float64).astype(PROBS_DTYPE))
        width = 2 * half.shape[1] * PROBS_DTYPE.itemsize
        hexed = half.tobytes().hex()
        buffer = io.StringIO()
        buffer.writelines(
            f"{item_id}\t{version_id}\t\\\\x{hexed[i * width:(i + 1) * width]}\t{top_label[i]}\t{top_prob[i]!r}\t"
            f"{margin[i]!r}\t{entropy[i]!r}\t{'t' if fallback[i] else 'f'}\n"
            for i, item_id in enumerate(ids.tolist())
        )
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY {ItemScore._meta.db_table} (item_id, model_version_id, probs, top_label, top_prob, "
                "margin, entropy, fallback) FROM STDIN",
                buffer,
            )
        return
    packed = pack_probs_matrix(proba)
    rows = [
        ItemScore(
            item_id=item_id, model_version_id=version_id, probs=packed[i], top_label=top_label[i],
            top_prob=top_prob[i], margin=margin[i], entropy=entropy[i], fallback=fallback[i],
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
