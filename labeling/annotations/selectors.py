"""Reads of the annotator's side: the batch an annotator holds, progress, agreement, throughput
and the review queue. ``agreement_summary`` and ``annotator_throughput`` feed the lead pages."""
import hashlib
import json
from collections import Counter, defaultdict
from datetime import timedelta
from itertools import combinations

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BigIntegerField, Count, F, Max, Min, Q, RowRange, Window
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling.projects.models import Label, Membership, Project
from labeling.waves import selectors as wave_selectors
from learner.estimates import MIN_N

from . import agreement, answer_states
from .leasing import held_assignments
from .models import Annotation, Assignment, ReviewTask
from .resolve import ANSWER_ORDER, Answer, resolve
from .throughput import median_answer_gaps_python, median_answer_gaps_sql


def resolve_item_labels(project) -> dict[int, int]:
    """item id → label id for every item with a usable answer (not undone, not skipped; origin
    annotator / import / adjudication), by the one rule in ``resolve``: an adjudication wins (the
    newest), else the majority label, ties to the newest answer. Training, planning and export
    all read labels through this rule."""
    rows = (
        Annotation.objects.filter(project=project, undone=False, skipped=False, label__isnull=False)
        .order_by("item_id", *ANSWER_ORDER)
        .values_list("item_id", "label_id", "origin")
    )
    by_item: dict[int, list[Answer]] = defaultdict(list)
    for order, (item_id, label_id, origin) in enumerate(rows):
        by_item[item_id].append(Answer(label_id, origin, order))
    return {item_id: resolve(answers).label_id for item_id, answers in by_item.items()}


def counts_under_parents(counts: dict, parent_of: dict) -> dict:
    """Each label's count with its fine labels' counts added to it: a fine answer implies its
    coarse label (``Annotation.label``), so a coarse label whose items were all answered at the fine
    level is not a label nobody labeled. Keys are whatever ``counts`` and ``parent_of`` (fine →
    coarse) share: ids, names or column indices; taxonomies have two levels, so one step up. Each
    figure is a label's own: a sum over labels counts a fine answer twice (the labeled items are
    the sum of the exact counts)."""
    out = dict(counts)
    for fine, coarse in parent_of.items():
        if coarse is not None and counts.get(fine):
            out[coarse] = out.get(coarse, 0) + counts[fine]
    return out


def held_batch(project: Project, user) -> list[Assignment]:
    """The annotator's unexpired leases in the project, in lease order (a closed wave's live
    leases included: they stay answerable until they expire)."""
    return held_assignments(project, user)


def assignment_payload(assignment: Assignment, *, with_reasons: bool) -> dict:
    """One leased item as the annotation page and the API hand it out. ``with_reasons``
    (leads and admins) adds why the planner picked it."""
    wave_item = assignment.wave_item
    item = wave_item.item
    data = {
        "assignment": assignment.pk,
        "item": item.pk,
        "external_id": item.external_id,
        "text": item.text,
        "source": item.source.name if item.source_id else None,
        "wave": wave_item.wave.number,
        "batch_number": wave_item.batch_number,
        "position": assignment.position,
        "expires_at": assignment.expires_at.isoformat(),
    }
    if with_reasons:
        data["why"] = {
            "strategy": wave_item.strategy,
            "reason": wave_item.reason,
            "inclusion_prob": wave_item.inclusion_prob,
            "likely_rare": wave_item.likely_rare,
            "overlap": wave_item.overlap,
            "predicted_label": wave_item.predicted_label.name if wave_item.predicted_label_id else None,
            "predicted_prob": wave_item.predicted_prob,
        }
    return data


def wave_progress(project: Project) -> dict | None:
    """Answers given vs. answers needed (sum of overlaps) across the project's open waves, and the
    slots leased: ``labeling.waves.selectors.open_waves_progress``, which counts answers as the
    lead's wave progress and the loop do (a lead's adjudication completes a pick), so the annotate
    page's bar and the lead's pages show the same wave."""
    return wave_selectors.open_waves_progress(project)


def labels_payload(project: Project) -> list[dict]:
    """Labels for the annotation page with hotkeys and descriptions: each coarse (top-level)
    label followed by its fine labels; ``full_name`` reads "Coarse › Fine"."""
    labels = list(Label.objects.filter(project=project).order_by("order", "name", "pk"))
    names = {label.pk: label.name for label in labels}
    fine: dict[int, list[Label]] = defaultdict(list)
    for label in labels:
        if label.parent_id:
            fine[label.parent_id].append(label)
    ordered = []
    for label in labels:
        if label.parent_id is None:
            ordered.append(label)
            ordered.extend(fine.pop(label.pk, []))
    for orphans in fine.values():  # a parent outside the project would be a data error; still list them
        ordered.extend(orphans)
    return [
        {"id": label.pk, "name": label.name, "description": label.description, "hotkey": label.hotkey,
         "parent": label.parent_id, "is_other": label.is_other,
         "full_name": f"{names.get(label.parent_id, '?')} › {label.name}" if label.parent_id else label.name}
        for label in ordered
    ]


def labels_version(payload: list[dict]) -> str:
    """A short digest of labels_payload: the annotation page sends the one it has, and a reply finds
    out from it whether the page's labels (names, hotkeys, order) are still the project's."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def double_labeled_pairs(project: Project) -> list[tuple[int, int | None, int, int | None, int]]:
    """``(item_id, annotator_a, label_a, annotator_b, label_b)`` for every pair of annotators whose
    current (latest, not undone, not skipped) answers cover the same item. a and b keep one order
    whatever the answers' times: a has the lower annotator id, and a deleted account's answer comes
    after the accounts that remain. Cohen's κ reads a as its first rater and b as its second, so
    with two annotators it is their κ, and re-answering an item (even with the same label) cannot
    swap a pair's raters and move κ. An answer whose annotator's account was deleted pairs too,
    with annotator None: it is still a different person's (each person has one live answer per
    item, as the dispute rule reads them: ``disagreement._voter``), and it still trains the model
    and shows in the export.
    A page that shows both the agreement panel and the throughput table reads these once and
    hands them to both (their ``pairs`` argument)."""
    # Only an item whose answers come from two or more annotators (its lowest and highest voter
    # differ) holds a pair: about a quarter of the answers when 15 % of the picks are
    # double-labeled, and the rest never leave the database. The window shares the sort the rows are
    # read in: one pass, where a GROUP BY ... HAVING subquery costs a second scan and a join. A
    # voter is the annotator's id, or for a deleted account's answer minus the answer's id (below
    # every user id): each such answer its own voter.
    in_order = [F("created_at").asc(), F("pk").asc()]
    whole_item = {"partition_by": F("item_id"), "order_by": in_order, "frame": RowRange(None, None)}
    voter = Coalesce("annotator_id", -F("pk"), output_field=BigIntegerField())
    rows = (
        Annotation.objects.filter(project=project, origin=Annotation.ANNOTATOR, undone=False, skipped=False,
                                  label__isnull=False)
        .annotate(voter=voter)
        .annotate(lowest=Window(Min("voter"), **whole_item), highest=Window(Max("voter"), **whole_item))
        .filter(lowest__lt=F("highest"))
        .order_by("item_id", "created_at", "pk")
        .values_list("item_id", "voter", "label_id")
    )
    per_item: dict[int, dict[int, int]] = defaultdict(dict)
    for item_id, voter_id, label_id in rows:
        per_item[item_id][voter_id] = label_id  # rows in time order: the latest answer's label stays
    pairs = []
    for item_id, latest in per_item.items():
        # deleted accounts' voters (negative) after the remaining ones, by their answer's id
        raters = sorted(latest.items(), key=lambda voter_label: (voter_label[0] < 0, abs(voter_label[0])))
        for (a, la), (b, lb) in combinations(raters, 2):
            pairs.append((item_id, a if a > 0 else None, la, b if b > 0 else None, lb))
    return pairs


def _round(value):
    return None if value is None else round(value, 4)


def _kappa(value: float | None, pairs: int) -> tuple[float | None, str | None]:
    """κ as the pages show it, and why it is None: fewer than ``MIN_N`` pairs behind it (the
    dashboard's one small-n rule: no κ of 1.000 from two answers) or undefined."""
    if pairs < MIN_N:
        return None, f"{pairs} pair{'' if pairs == 1 else 's'}: fewer than {MIN_N}"
    if value is None:
        return None, "undefined: every answer was the same label"
    return _round(value), None


def _interval(kappa: float | None, pairs: list) -> list[float] | None:
    """κ's 95 % interval as the pages show it, only beside a κ they show."""
    if kappa is None:
        return None
    bounds = agreement.kappa_interval(pairs)
    return None if bounds is None else [_round(bounds[0]), _round(bounds[1])]


def _label_figures(rows: list[tuple], label_ids) -> dict[int, tuple[float | None, int, int]]:
    """label id → (one-vs-rest κ, answers, pairs in which either annotator chose it) over the pairs
    ``rows`` (``double_labeled_pairs``' tuples), each answer counted once."""
    label_pairs = [(la, lb) for _, _, la, _, lb in rows]
    kappas = agreement.per_label_kappa(label_pairs, label_ids)
    answers = agreement.label_answers((item, la, lb) for item, _, la, _, lb in rows)
    touching = Counter(label for a, b in label_pairs for label in {a, b})
    return {pk: (kappas[pk], answers.get(pk, 0), touching.get(pk, 0)) for pk in label_ids}


def agreement_summary(project: Project, *, pairs: list[tuple] | None = None) -> dict:
    """Cohen's kappa (overall, per label, and on coarse labels when the taxonomy has two levels),
    raw agreement and how many items are double-labeled. Numbers are None while undefined, and
    κ is None (with ``*_reason`` saying why) while fewer than MIN_N pairs stand behind it; a
    label's pairs are those in which either annotator chose it, its answers those that chose it
    (each answer once, however many pairs it is in); a coarse label's row counts the fine answers
    under it as choosing it. ``kappa_ci`` (and
    ``kappa_coarse_ci``) is κ's 95 % bootstrap interval over pairs, None where κ is. ``pairs``:
    ``double_labeled_pairs(project)`` where the caller has read them already."""
    rows = double_labeled_pairs(project) if pairs is None else pairs
    label_pairs = [(la, lb) for _, _, la, _, lb in rows]
    labels = list(Label.objects.filter(project=project).order_by("order", "name", "pk"))
    parent_of = {label.pk: label.parent_id for label in labels if label.parent_id}
    # A coarse label's row reads a fine answer as its coarse label (as the coarse κ and the
    # dashboard's counts do): "Refund" says "Billing" too, so an annotator answering Billing and one
    # answering Refund agree on "is it Billing?". Fine labels and labels without children stay exact.
    with_fine = set(parent_of.values())
    exact = _label_figures(rows, [label.pk for label in labels if label.pk not in with_fine])
    coarse = _label_figures([(item, a, parent_of.get(la, la), b, parent_of.get(lb, lb))
                             for item, a, la, b, lb in rows], with_fine)
    kappa, kappa_reason = _kappa(agreement.cohen_kappa(label_pairs), len(label_pairs))
    label_rows = []
    for label in labels:
        value, answers, touching = (coarse if label.pk in coarse else exact)[label.pk]
        value, reason = _kappa(value, touching)
        label_rows.append({"label_id": label.pk, "label": label.name, "kappa": value,
                           "answers": answers, "pairs": touching, "reason": reason})
    summary = {
        "items_double_labeled": len({item_id for item_id, *_ in rows}),
        "pairs": len(label_pairs),
        "kappa": kappa,
        "kappa_ci": _interval(kappa, label_pairs),
        "kappa_reason": kappa_reason,
        "raw_agreement": _round(agreement.raw_agreement(label_pairs)),
        "raw_agreement_reason": agreement.too_few_pairs(len(label_pairs)),
        "per_label": label_rows,
        "kappa_coarse": None,
        "kappa_coarse_ci": None,
        "kappa_coarse_reason": None,
        "raw_agreement_coarse": None,
        "raw_agreement_coarse_reason": None,
    }
    if parent_of:
        coarse_pairs = agreement.map_pairs(label_pairs, parent_of)
        summary["kappa_coarse"], summary["kappa_coarse_reason"] = _kappa(agreement.cohen_kappa(coarse_pairs),
                                                                         len(coarse_pairs))
        summary["kappa_coarse_ci"] = _interval(summary["kappa_coarse"], coarse_pairs)
        summary["raw_agreement_coarse"] = _round(agreement.raw_agreement(coarse_pairs))
        summary["raw_agreement_coarse_reason"] = agreement.too_few_pairs(len(coarse_pairs))
    return summary


def annotator_throughput(project: Project, *, pairs: list[tuple] | None = None) -> list[dict]:
    """Per member or answering user, of their annotator answers (a lead's adjudications are not
    throughput): answers (labels that count, no skips), skips, cleared answers (``undone``),
    changed ones (``changed``), answers and skips in the last 24 h, median seconds per answer (gaps
    over 10 minutes are breaks; ``throughput``), the items she double-labeled with others
    (``double_labeled``), the pairs they hold with her in them (``pairs``) and her raw agreement
    with others, a share of those pairs.
    ``pairs``: ``double_labeled_pairs(project)`` where the caller has read them already."""
    since = timezone.now() - timedelta(hours=24)
    own = Annotation.objects.filter(project=project, origin=Annotation.ANNOTATOR, annotator__isnull=False)
    counts = {
        row["annotator"]: row
        for row in own.values("annotator").annotate(
            # n_* names: an alias called "undone" would shadow the field in the filters.
            n_answers=Count("pk", filter=Q(undone=False, skipped=False)),
            n_skips=Count("pk", filter=Q(undone=False, skipped=True)),
            n_undone=Count("pk", filter=answer_states.cleared()),
            n_changed=Count("pk", filter=answer_states.changed()),
            n_last_24h=Count("pk", filter=Q(undone=False, skipped=False, created_at__gte=since)),
            n_skips_last_24h=Count("pk", filter=Q(undone=False, skipped=True, created_at__gte=since)),
            first_at=Min("created_at", filter=Q(undone=False)),
            last_at=Max("created_at", filter=Q(undone=False)),
        )
    }
    median_gaps = median_answer_gaps_sql(project) if connection.vendor == "postgresql" else \
        median_answer_gaps_python(project)
    agree: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    shared: dict[int, set[int]] = defaultdict(set)  # the items an annotator shares with others
    for item_id, a, la, b, lb in double_labeled_pairs(project) if pairs is None else pairs:
        for who in (a, b):
            agree[who][0] += la == lb
            agree[who][1] += 1
            shared[who].add(item_id)

    users = {
        m.user_id: (m.user.username, m.role)
        for m in Membership.objects.filter(project=project).select_related("user")
    }
    for user in get_user_model().objects.filter(pk__in=set(counts) - set(users)):
        users[user.pk] = (user.username, "admin" if user.is_superuser else None)

    rows = []
    for user_id, (username, role) in users.items():
        row = counts.get(user_id, {})
        gap = median_gaps.get(user_id)
        agreed, paired = agree.get(user_id, (0, 0))
        rows.append({
            "annotator_id": user_id,
            "username": username,
            "role": role,
            "answers": row.get("n_answers", 0),
            "skips": row.get("n_skips", 0),
            "undone": row.get("n_undone", 0),
            "changed": row.get("n_changed", 0),
            "last_24h": row.get("n_last_24h", 0),
            "skips_last_24h": row.get("n_skips_last_24h", 0),
            "median_seconds_per_answer": None if gap is None else round(gap, 1),
            "first_answer_at": row["first_at"].isoformat() if row.get("first_at") else None,
            "last_answer_at": row["last_at"].isoformat() if row.get("last_at") else None,
            # items, not pairs: at overlap 3 each of her items holds two pairs with her in them
            "double_labeled": len(shared.get(user_id, ())),
            "pairs": paired,
            # the small-n rule of the agreement panel: no "100 %" from two pairs
            "agreement_with_others": _round(agreement.agreement_share(agreed, paired)),
        })
    rows.sort(key=lambda r: (-r["answers"], r["username"]))
    return rows


def review_queue(project: Project, *, reason: str | None = None, limit: int | None = None) -> list[ReviewTask]:
    """Open review tasks, oldest first, each with ``answers`` (the item's current annotator
    answers) attached for the adjudication page."""
    tasks = ReviewTask.objects.filter(project=project, resolved_at__isnull=True).select_related("item__source")
    if reason:
        tasks = tasks.filter(reason=reason)
    tasks = list(tasks.order_by("created_at", "pk")[:limit] if limit else tasks.order_by("created_at", "pk"))
    answers = defaultdict(list)
    for annotation in (
        Annotation.objects.filter(
            item_id__in=[t.item_id for t in tasks], origin=Annotation.ANNOTATOR, undone=False
        ).select_related("annotator", "label").order_by("created_at", "pk")
    ):
        answers[annotation.item_id].append(annotation)
    for task in tasks:
        task.answers = answers.get(task.item_id, [])
    return tasks


def review_counts(project: Project) -> dict:
    """The queue's counts, all of tasks (an item can have two open tasks, of two reasons; the item
    browser's ``in_review`` counts items: ``open_items``). Closed tasks split by who closed them:
    ``resolved``, a lead (accepted, relabeled, dismissed, or answered by an adjudication);
    ``expired``, no one (a newer model no longer found the item doubtful or left it over the review
    share, a wave picked the item for annotators, or the answer a label issue questioned changed).
    ``closed`` is both. A task with no outcome (closed by an adjudication, or before outcomes were
    recorded) counts as a lead's when it names who resolved it."""
    tasks = ReviewTask.objects.filter(project=project)
    open_tasks = tasks.filter(resolved_at__isnull=True)
    by_reason = dict(open_tasks.values_list("reason").annotate(n=Count("pk")).values_list("reason", "n"))
    by_lead = Q(outcome__in=[ReviewTask.ACCEPTED, ReviewTask.RELABELED, ReviewTask.DISMISSED]) | Q(
        outcome="", resolved_by__isnull=False)
    closed = tasks.filter(resolved_at__isnull=False).aggregate(
        resolved=Count("pk", filter=by_lead), expired=Count("pk", filter=~by_lead))
    return {
        "open": sum(by_reason.values()),
        "open_items": open_tasks.values("item_id").distinct().count(),
        "disagreement": by_reason.get(ReviewTask.DISAGREEMENT, 0),
        "low_confidence": by_reason.get(ReviewTask.LOW_CONFIDENCE, 0),
        "lead_request": by_reason.get(ReviewTask.LEAD_REQUEST, 0),
        "label_issue": by_reason.get(ReviewTask.LABEL_ISSUE, 0),
        "resolved": closed["resolved"],
        "expired": closed["expired"],
        "closed": closed["resolved"] + closed["expired"],
    }
