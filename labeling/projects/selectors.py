"""Reads for the project and lead pages (the dashboard has its own module, dashboard.py)."""
from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.loop.runs import plan_waiting_for_embedding
from labeling.modeling import selectors as modeling_selectors
from labeling.modeling.models import ModelVersion
from labeling.modeling.versions import active_model
from labeling.waves import selectors as wave_selectors
from labeling.waves.models import Wave
from learner.deadline import Deadline
from learner.rules import CLOCK_EVERY, compile_rule

from .drawable import counting_without_jit, in_answered_group
from .models import Membership, Project
from .permissions import can_manage, role_in

PREVIEW_CHUNK = 2000


def preview_rule(project: Project, kind: str, pattern: str, *, examples: int = 5) -> dict:
    """How many pool items a rule would match, streamed over the pool (never all texts in memory).
    The pool is the overview's (``IN_POOL``: no live answer, a skip included, not excluded by a lead
    and no copy of an answered item), so ``scanned`` is the overview's pool count when the scan is whole: a labeled or excluded
    item's match is no hint the planner can use. ValueError (from compile_rule) names what is wrong
    with the pattern."""
    matcher = compile_rule(kind, pattern)
    budget = float(settings.LONGTAIL_RULE_TIME_BUDGET_SECONDS)
    deadline = Deadline(budget)
    scanned = matched = 0
    partial = False
    sample = []
    items = with_answer_flags(Item.objects.filter(project=project), project).filter(IN_POOL)
    texts = items.order_by().values_list("id", "text")
    for item_id, text in texts.iterator(chunk_size=PREVIEW_CHUNK):
        if scanned % CLOCK_EVERY == 0 and deadline.expired():
            partial = True
            break
        scanned += 1
        if matcher.search(text):
            matched += 1
            if len(sample) < examples:
                sample.append({"id": item_id, "text": text[:300]})
    result = {"kind": kind, "pattern": pattern, "scanned": scanned, "matches": matched,
              "share": (matched / scanned) if scanned else 0.0, "examples": sample, "partial": partial,
              "message": ""}
    if partial:
        total = items.count()
        result["total"] = total
        result["message"] = (f"Stopped after the time budget of {budget:g} s: the rule was checked against "
                             f"{scanned:,} of {total:,} pool items; the counts cover those only.")
    return result


def recent_waves(project: Project, limit: int = 20):
    """The project's newest waves, each with its model version's number read in the same query
    (``model_version_number``, which wave_dict uses): one query for the list."""
    return project.waves.annotate(model_version_number=F("model_version__number")).order_by("-number")[:limit]


def wave_model_version_number(wave: Wave) -> int | None:
    if not wave.model_version_id:
        return None
    if hasattr(wave, "model_version_number"):  # annotated by recent_waves
        return wave.model_version_number
    if Wave.model_version.is_cached(wave):
        return wave.model_version.number
    # The number alone: the version's row carries its metrics JSON (~340 KB at 286 labels).
    return ModelVersion.objects.filter(pk=wave.model_version_id).values_list("number", flat=True).first()


def wave_dict(wave: Wave, *, with_progress: bool = True) -> dict:
    data = {"number": wave.number, "state": wave.state, "size": wave.size, "cold_start": wave.cold_start,
            "created_at": wave.created_at.isoformat(),
            "closed_at": wave.closed_at.isoformat() if wave.closed_at else None,
            "model_version": wave_model_version_number(wave), "notes": wave_notes(wave.report or {})}
    if with_progress:
        data["progress"] = wave_progress(wave)
    return data


def wave_notes(report: dict) -> list[str]:
    """What happened to a wave after it was planned, from its report: items a lead excluded while it
    waited (``waves.discard.take_out_excluded``), items deleted (``waves.discard.take_out_deleted``)
    and why it was discarded; then what its planning could not do in full: fewer items than asked for
    (report["short_of_requested"]), fewer answers than the overlap (report["overlap_limited"]) and
    rule matching cut short (all three: wave_selectors.planning_notes). A wave's size shrinks when items leave
    it, and a wave planned short is short; without these the lead saw a smaller number and no reason."""
    notes = []
    excluded = report.get("excluded") or []
    removed = sum(len(e.get("removed") or []) for e in excluded)
    held = sum(len(e.get("held") or []) for e in excluded)
    deleted = sum(len(e.get("items") or []) for e in report.get("deleted") or [])
    if removed:
        notes.append(f"{removed} excluded item{'s' if removed != 1 else ''} taken out")
    if held:
        notes.append(f"{held} excluded item{'s' if held != 1 else ''} kept for the answers already given or leased")
    if deleted:
        notes.append(f"{deleted} item{'s' if deleted != 1 else ''} deleted, with {'their' if deleted != 1 else 'its'} "
                     "answers and leases")
    discarded = report.get("discarded")
    if discarded:
        notes.append(f"discarded: {discarded.get('reason') or 'no reason recorded'}")
    return notes + wave_selectors.planning_notes(report)


def wave_progress(wave: Wave) -> dict:
    """Picks, picks with all the answers they need (skips count), and the share done."""
    raw = wave_selectors.wave_progress(wave)
    total, done = raw["items"], raw["complete_items"]
    return {"total": total, "done": done, "share": (done / total) if total else 0.0}


def budget_or_none(project: Project) -> dict | None:
    """{budget, used, committed, free, left, spent} (``labeling.waves.selectors.budget_status``), or
    None when the project has no label budget."""
    return None if project.label_budget is None else wave_selectors.budget_status(project)


# The parts of a report that grow with labels × labels or with curve points: in the models list
# they made each version hundreds of KB at ~300 labels (a page of 50 versions, tens of MB); the
# list leaves them out and GET models/<number>/ has the whole report.
FULL_REPORT_ONLY = frozenset({"confusion_matrix", "pr_curves", "reliability"})


def without_full_report_parts(value):
    """``value`` (a version's metrics) with every FULL_REPORT_ONLY key left out, at any depth."""
    if isinstance(value, dict):
        return {k: without_full_report_parts(v) for k, v in value.items() if k not in FULL_REPORT_ONLY}
    if isinstance(value, list):
        return [without_full_report_parts(v) for v in value]
    return value


def model_version_dict(version: ModelVersion, labels: dict[int, str] | None = None, *, full: bool = True) -> dict:
    """A version for the API. ``label_map``, ``thresholds`` and ``metrics`` keep the names the
    version trained with; ``labels`` gives each class's label as it is now (id and current name,
    both None for a label deleted since), so a renamed label is still found. ``full=False`` (the
    list): the metrics without confusion matrices, PR curves and reliability bins."""
    classes = modeling_selectors.model_labels(version, labels)
    return {"number": version.number, "state": version.state, "created_at": version.created_at.isoformat(),
            "finished_at": version.finished_at.isoformat() if version.finished_at else None,
            "train_size": version.train_size, "temperature": version.temperature,
            "thresholds": version.thresholds, "label_map": version.label_map,
            "labels": [{"trained_as": trained, "label_id": pk, "name": name}
                       for trained, pk, name in zip(classes.trained, classes.ids, classes.names, strict=True)],
            "metrics": version.metrics if full else without_full_report_parts(version.metrics or {}),
            "full_report": full, "error": version.error, "choices": modeling_selectors.model_choices(version),
            # retention (manage.py prune_models) deleted its head and scores: not exportable, not servable
            "pruned_at": version.pruned_at.isoformat() if version.pruned_at else None}


def project_overview(project: Project, user) -> dict:
    """What the overview page shows: the current wave's progress and the label budget."""
    wave = wave_selectors.working_wave(project)
    return {
        "project": project,
        "role": role_in(user, project),
        "can_manage": can_manage(user, project),
        "wave": wave_dict(wave) if wave else None,
        "waves_total": Wave.objects.filter(project=project).exclude(state=Wave.DISCARDED).count(),  # never-opened plans dropped
        "budget": budget_or_none(project),
        "items": item_counts(project),
        "active_model": active_model(project),
        "labels": list(project.labels.select_related("parent")),
        "plan_waiting": plan_waiting_for_embedding(project),
    }


# Which unlabeled items the planner can still draw. It never draws an answered item again, a skipped
# one included (``labeling.waves.pool.off_limits_items``), nor an excluded one, nor a copy of an
# answered item (its duplicate group holds one: ``drawable``): the pool is the items with none of
# these. An item whose live answers are all skips is out of it, counted on its own, and so are the
# copies of answered items (COPY_OF_ANSWERED).
IN_POOL = Q(excluded=False, has_answer=False, in_answered_group=False)
COPY_OF_ANSWERED = Q(excluded=False, has_answer=False, in_answered_group=True)
SKIPPED_BY_EVERYONE = Q(excluded=False, has_answer=True, has_label=False)


def with_answer_flags(items, project: Project):
    """``items`` (of ``project``) annotated with has_label (a live answer with a label, the browser's
    state "labeled"), has_answer (any live answer, a skip included) and in_answered_group (its
    duplicate group holds an answered item: ``drawable.in_answered_group``), which IN_POOL,
    COPY_OF_ANSWERED and SKIPPED_BY_EVERYONE read."""
    return items.annotate(
        has_label=Exists(Annotation.objects.filter(item=OuterRef("pk"), undone=False, skipped=False,
                                                   label__isnull=False)),
        has_answer=Exists(Annotation.objects.filter(item=OuterRef("pk"), undone=False)),
        in_answered_group=in_answered_group(project))


def item_counts(project: Project) -> dict:
    """The project's items as the overview counts them, each count the item browser's filter of
    the same name: total; labeled (state "labeled": a live answer with a label); excluded ("Excluded"
    yes: excluded by a lead, labeled or not) and how many of those are labeled; skipped (state
    "skipped", not excluded: live answers that are all skips); copies: not excluded, no live answer,
    and a copy of an answered item (``COPY_OF_ANSWERED``), which no wave draws; pool: the rest, not
    excluded, no live answer and no such copy, what the planner can still draw and the unlabeled
    items the estimates' coverage counts (``labeling.projects.estimates``); items in an unfinished
    wave and pinned ones stay in it. So total = labeled + pool + copies + skipped + excluded −
    excluded_labeled: no item goes uncounted."""
    with counting_without_jit():
        counts = with_answer_flags(Item.objects.filter(project=project), project).aggregate(
            n_total=Count("pk"), n_labeled=Count("pk", filter=Q(has_label=True)),
            n_excluded=Count("pk", filter=Q(excluded=True)),  # n_*: "excluded" would name the field
            n_excluded_labeled=Count("pk", filter=Q(excluded=True, has_label=True)),
            n_skipped=Count("pk", filter=SKIPPED_BY_EVERYONE), n_copies=Count("pk", filter=COPY_OF_ANSWERED),
            # IN_POOL as the unanswered items not excluded less the copies: the answered groups read once
            n_unanswered=Count("pk", filter=Q(excluded=False, has_answer=False)))
    counts = {key[2:]: n for key, n in counts.items()}
    counts["pool"] = counts.pop("unanswered") - counts["copies"]
    return counts


def members(project: Project):
    return Membership.objects.filter(project=project).select_related("user").order_by("role", "user__username")
