"""Write paths for project configuration; pages and the API both call these, so the checks are the same."""
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from labeling.items.models import Item
from labeling.loop.replanning import request_replan
from labeling.loop.triggers import request_review_routing
from labeling.modeling.review import ReviewGate
from labeling.modeling.versions import NoActiveModel, active_model
from learner.text import text_hash

from .hotkeys import HOTKEY_ORDER, check_unique_hotkeys
from .label_names import label_line_problem, look_alike_key, spelled_out
from .locks import lock_project_labels
from .models import Label, Membership, Project, Rule, Source
from .reserved import new_slug_problem
from .shares import QUOTA_TOLERANCE, STRATEGIES, check_quota_total, check_strategy_mix  # noqa: F401 (pages, API)
from .taxonomy import label_set_errors

# Settings a lead may change through the settings page / PATCH; the rest is structural.
SETTINGS_FIELDS = (
    "name", "description", "guidelines", "wave_size", "batch_size", "band_low", "band_high",
    "rare_threshold", "random_share", "review_share_min", "review_share_max", "double_label_share",
    "overlap", "strategy_mix", "label_cap_share", "label_budget", "retrain_every", "fine_floor",
    "near_dup_threshold", "max_text_chars", "allow_new_sources", "allow_new_labels", "queue_review_predictions",
    "annotator_metadata", "show_suggestions",  # what the annotation page shows with each item
    "head", "head_loss", "other_min_examples", "calibration", "class_weights", "hierarchy_mode", "label_prior",
    "threshold_mix", "threshold_guard",
)
# Settings review routing reads: a change routes the queue again with the active model.
ROUTING_FIELDS = ("band_low", "band_high", "review_share_min", "review_share_max")


def can_create_projects(user) -> bool:
    """Admins anywhere; a lead of any project may start another (and becomes its lead)."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or Membership.objects.filter(user=user, role=Membership.LEAD).exists()


OTHER_HOTKEY = "0"  # the Other label's key: none of these (new labels get hotkeys.HOTKEY_ORDER)
OTHER_NAMES = ("other", "none of these")
HIERARCHY_SEPARATOR = ">"
LABEL_NAME_MAX = Label._meta.get_field("name").max_length


def parse_label_lines(lines) -> list[tuple[str, str | None]]:
    """Label lines of the new-project form (and API): "billing" is a label, "billing > refund" a
    fine label refund under the coarse label billing (created once, however often it is named).
    Returns [(name, parent name or None)], each coarse label before its fine ones. A bad line is
    refused with its line number, as are a name Label.clean refuses (invisible characters only, scripts mixed in a
    word) and one that looks like another line's (look_alike_key, as Label.validate_constraints reads names)."""
    rows: dict[str, str | None] = {}
    where: dict[str, int] = {}
    spelled: dict[str, str] = {}  # look_alike_key → the name as first written
    errors = []
    for number, line in enumerate(lines, start=1):
        if not line or not line.strip():
            continue
        parts = [part.strip() for part in line.split(HIERARCHY_SEPARATOR)]
        if len(parts) > 2:
            errors.append(f"Line {number} ({spelled_out(line.strip())}): labels have two levels, coarse > fine.")
            continue
        if not all(parts):
            errors.append(f"Line {number} ({spelled_out(line.strip())}): a name is missing on one side of “>”.")
            continue
        if any(len(part) > LABEL_NAME_MAX for part in parts):
            errors.append(f"Line {number}: a label name has at most {LABEL_NAME_MAX} characters.")
            continue
        if problem := label_line_problem(parts, spelled, where, number):
            errors.append(problem)
            continue
        if len(parts) == 1:
            name, parent = parts[0], None
        else:
            parent, name = parts
            if rows.get(parent) is not None:
                errors.append(f"Line {number}: {spelled_out(parent)} is a fine label (line {where[parent]}), "
                              "so it cannot have fine labels under it.")
                continue
            rows.setdefault(parent, None)
            where.setdefault(parent, number)
            spelled.setdefault(look_alike_key(parent), parent)
        if name in rows and rows[name] != parent:
            errors.append(f"Line {number}: {spelled_out(name)} is already named on line {where[name]}; "
                          "label names are unique within a project.")
            continue
        if name not in rows:
            rows[name], where[name] = parent, number
            spelled[look_alike_key(name)] = name
    if errors:
        raise ValidationError({"labels": errors})
    coarse = [name for name, parent in rows.items() if parent is None]
    ordered = []
    for name in coarse:
        ordered.append((name, None))
        ordered += [(fine, parent) for fine, parent in rows.items() if parent == name]
    return ordered


def _create_labels(project: Project, rows: list[tuple[str, str | None]], *, other_label: bool) -> None:
    """Labels in order with hotkeys 1-9, then letters; the Other label (named so, or added when
    ``other_label``) is marked as such and gets 0, the annotators' "none of these" key."""
    other = next((name for name, parent in rows if parent is None and name.lower() in OTHER_NAMES), None)
    if other is None and other_label:
        rows, other = [*rows, ("Other", None)], "Other"
    keys = iter(HOTKEY_ORDER)
    created: dict[str, Label] = {}
    for order, (name, parent) in enumerate(rows):
        is_other = name == other
        hotkey = OTHER_HOTKEY if is_other else next(keys, "")
        created[name] = Label.objects.create(
            project=project, name=name, order=order, hotkey=hotkey, is_other=is_other,
            parent=created[parent] if parent else None,
            description="Items that none of the other labels fits." if is_other else "")


@transaction.atomic
def create_project(user, *, slug: str, name: str, description: str = "", labels=(), sources=(),
                   other_label: bool = False) -> Project:
    """A new project with its creator as lead; labels as parse_label_lines reads them, sources share the quota."""
    if problem := new_slug_problem(slug):
        raise ValidationError({"slug": problem})
    label_rows = parse_label_lines(labels)
    project = Project(slug=slug, name=name, description=description)
    project.full_clean()
    project.save()
    sources = [s.strip() for s in sources if s and s.strip()] or ["default"]
    for source_name in dict.fromkeys(sources):
        Source.objects.create(project=project, name=source_name, quota=round(1.0 / len(set(sources)), 6))
    _create_labels(project, label_rows, other_label=other_label)
    Membership.objects.create(user=user, project=project, role=Membership.LEAD)
    return project


@transaction.atomic
def update_settings(project: Project, changes: dict) -> Project:
    """Apply settings changes after the model's own checks and the strategy-mix total."""
    unknown = sorted(set(changes) - set(SETTINGS_FIELDS))
    if unknown:
        raise ValidationError(f"These settings cannot be changed here: {', '.join(unknown)}.")
    project = Project.objects.select_for_update().get(pk=project.pk)
    before = {field: getattr(project, field) for field in ROUTING_FIELDS}
    for field, value in changes.items():
        setattr(project, field, value)
    project.strategy_mix = check_strategy_mix(project.strategy_mix or {}, project.random_share)
    if project.overlap < 1:
        raise ValidationError({"overlap": "Overlap must be at least 1 annotator."})
    project.full_clean()
    project.save()
    if any(getattr(project, field) != value for field, value in before.items()):
        request_review_routing(project)  # the queue follows the new band / share once this commits
    request_replan(project, changed=changes)  # a waiting plan made under other settings: planned afresh
    return project


@transaction.atomic
def save_label(project: Project, label: Label | None = None, **fields) -> Label:
    """Create or update one label (the API), checked as the labels page's save checks a page of them."""
    return _save_rows(project, [(label, fields)])[0]


@transaction.atomic
def save_labels(project: Project, rows: list[dict], deleted: list[Label] = ()) -> None:
    """Save several label rows at once (the labels page). Each row: {"label": Label|None, fields…}."""
    _save_rows(project, [(row.get("label"), {k: v for k, v in row.items() if k != "label"}) for row in rows], deleted)


def _save_rows(project: Project, rows: list[tuple[Label | None, dict]], deleted=()) -> list[Label]:
    """The labels as the save leaves them are checked as a whole (two levels, one Other, unique hotkeys) before any
    write (row by row, row order decided). The project's labels stay locked (FOR NO KEY UPDATE, id order) to the
    commit: saves are checked one after another, no parent is deleted meanwhile, answers (FOR KEY SHARE) go on."""
    lock_project_labels(project)  # then read: the locking read misses a label created while it waited (an Other)
    stored, gone = {lab.pk: lab for lab in Label.objects.filter(project=project)}, {label.pk for label in deleted}
    labels = [label or Label(project=project) for label, _ in rows]
    for label, (_, fields) in zip(labels, rows, strict=True):
        for field, value in {**fields, "project": project}.items():
            setattr(label, field, value)
        if label.pk and label.pk not in stored:  # saving it would insert it again
            raise ValidationError({"name": f"The label {spelled_out(label.name)} was deleted meanwhile; nothing was saved."})
        parent = label.parent if label.parent_id and Label.parent.is_cached(label) else None
        if parent is not None and parent.project_id != project.pk:
            raise ValidationError({"parent": "The parent label belongs to another project."})
        if label.parent_id and label.parent_id not in stored:
            quoted = spelled_out(parent.name) if parent is not None else f"“#{label.parent_id}”"
            raise ValidationError({"parent": f"The parent label {quoted} was deleted meanwhile; nothing was saved."})
    keys = [label.pk if label.pk in stored else f"new {i}" for i, label in enumerate(labels)]
    final = {pk: lab for pk, lab in stored.items() if pk not in gone} | dict(zip(keys, labels, strict=True))
    stored_names = {pk: lab.name for pk, lab in stored.items()}
    errors = label_set_errors({key: (lab.name, lab.parent_id, lab.is_other) for key, lab in final.items()},
                              {pk: stored[pk].name for pk in gone if pk in stored}, stored_names)
    if errors:
        raise ValidationError(errors)
    check_unique_hotkeys((lab.name, lab.hotkey) for lab in final.values())
    # Rows whose parent or Other tick change are detached first: each row's own checks see no half-saved taxonomy.
    moving = [lab.pk for lab in labels if lab.pk in stored and lab.pk not in gone
              and (stored[lab.pk].parent_id, stored[lab.pk].is_other) != (lab.parent_id, lab.is_other)]
    Label.objects.filter(pk__in=moving).update(parent=None, is_other=False)
    for label in deleted:
        delete_label(label)
    for label in labels:
        if label.parent_id:
            label.parent = final[label.parent_id]  # as it will be, not as a page loaded it
        label.full_clean()
        try:
            with transaction.atomic():  # a savepoint, so that the check below can still read
                label.save()
        except IntegrityError:  # no label row to lock yet, and an annotator's first "none of these" came first
            label.validate_constraints()  # its constraint's message says so; anything else is a bug
            raise
    return labels


@transaction.atomic
def delete_label(label: Label) -> None:
    # Locked first: an answer stored with it meanwhile (locks.hold_label) has committed and counts.
    if Label.objects.select_for_update().filter(pk=label.pk).first() is None:
        return  # deleted meanwhile
    try:
        label.delete()
    except ProtectedError:
        raise ValidationError(label_in_use_message(label)) from None


def label_in_use_message(label: Label) -> str:
    """Why a label cannot be deleted, and what to do. Undone and replaced answers count: they are
    the audit trail of who answered what (Annotation.undone, supersedes), so deleting their label
    would leave history pointing at nothing; the message says how many answers are only history."""
    answers = label.annotations.count()
    return in_use_message(label.name, answers, label.annotations.filter(undone=True).count() if answers else 0)


def in_use_message(name: str, answers: int, history: int) -> str:
    """label_in_use_message's words from counts (the admin reads them for many labels at once):
    ``answers`` referring to the label, ``history`` of them undone or changed; none: fine labels do."""
    if not answers:
        return f"The label {spelled_out(name)} is in use (fine labels refer to it) and cannot be deleted."
    live = answers - history
    counts = [f"{live} live" if live else "", f"{history} undone or changed, kept as the answers' history"
              if history else ""]
    advice = ("Change those answers to another label first (their history keeps this one), or keep the label "
              "and rename it." if live else
              "Those answers were all undone or changed; the audit trail keeps them, so the label stays. Rename it "
              "(for example “retired: …”) if it should no longer be chosen.")
    return (f"The label {spelled_out(name)} is in use by {answers} answer{'s' * (answers != 1)} "
            f"({', '.join(c for c in counts if c)}) and cannot be deleted. {advice}")


@transaction.atomic
def replace_sources(project: Project, rows: list[dict]) -> list[Source]:
    """Set the project's sources to exactly ``rows`` ({"id"?, "name", "quota"}): quotas must add up
    to 1.0; a source that still has items cannot be removed. All or nothing."""
    check_quota_total([row["quota"] for row in rows])
    names = [row["name"].strip() for row in rows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationError({"name": f"Source names must be unique; repeated: {', '.join(dupes)}."})
    # One row per source: a repeated id was saved twice, the last row winning, and the quotas that
    # were checked to add up to 1 were not the ones stored.
    ids = [int(row["id"]) for row in rows if row.get("id") is not None]
    if len(set(ids)) != len(ids):
        repeated = ", ".join(str(i) for i in sorted({i for i in ids if ids.count(i) > 1}))
        raise ValidationError({"id": f"Each source is listed once; repeated id: {repeated}."})
    existing = {s.pk: s for s in Source.objects.select_for_update().filter(project=project).order_by("pk")}  # id order, as the sources page
    keep_ids = set(ids)
    missing = sorted(keep_ids - set(existing))
    if missing:
        raise ValidationError({"id": f"Unknown source ids for this project: {', '.join(map(str, missing))}."})
    for source in existing.values():
        if source.pk not in keep_ids:
            if source.items.exists():
                raise ValidationError(f"The source {spelled_out(source.name)} has items and cannot be removed; "
                                      "set its quota to 0 instead.")
            source.delete()
    # Rename in two steps so swapping names between two sources does not hit the unique constraint.
    for source in existing.values():
        if source.pk in keep_ids:
            source.name = f"__renaming_{source.pk}"
            source.save(update_fields=["name"])
    saved = []
    for row, name in zip(rows, names, strict=True):
        source = existing[int(row["id"])] if row.get("id") is not None else Source(project=project)
        source.name = name
        source.quota = float(row["quota"])
        source.full_clean()
        source.save()
        saved.append(source)
    request_replan(project)  # the quotas shaped the waiting plan
    return saved


@transaction.atomic
def save_rule(project: Project, rule: Rule | None = None, **fields) -> Rule:
    rule = rule or Rule(project=project)
    for field, value in fields.items():
        setattr(rule, field, value)
    if rule.label.project_id != project.pk:
        raise ValidationError({"label": "The label belongs to another project."})
    rule.full_clean()  # Rule.clean judges a new or changed pattern (the program-size cap included)
    rule.save()
    return rule


@transaction.atomic
def queue_predictions_for_review(project: Project, texts: list[str], predictions: list[dict]) -> dict[int, int]:
    """The human-in-the-loop path for live traffic, by the rule of pool routing
    (labeling.modeling.review.ReviewGate): a text whose top prediction under the active version is
    doubtful (inside the project's band, or held back by the served model's thresholds, a coarse
    fallback's included) becomes an Item (source "api" when the project allows new sources, else its
    first source; an exact duplicate of a pool item reuses that item) with an open ReviewTask(reason=
    low_confidence), least confident first, while the open ones stay within the review share. Labeled
    items, items in an open or planned wave and predictions a lead dismissed for the item are
    left out. Each prediction row gains ``queued_for_review`` and ``review_note`` (why not queued).
    Returns {text index: item id} for the texts now in the queue."""
    version = active_model(project)
    if version is None:
        raise NoActiveModel(f"Project {project.slug!r} has no active model yet: label some items and retrain.")
    gate = ReviewGate(version, ReviewGate.lock(project))
    tops = [ReviewGate.top(p) for p in predictions]
    doubtful = {i for i, prediction in enumerate(predictions) if gate.judge(prediction).why}
    digests = {i: text_hash(texts[i]) for i in doubtful}
    # the pool items these texts are exact duplicates of (the oldest per text), and what the gate
    # must know about them, read once for the request rather than per text
    existing: dict[str, int] = {}
    for digest, pk in (Item.objects.filter(project=project, text_hash__in=set(digests.values()))
                       .order_by("-pk").values_list("text_hash", "pk")):
        existing[digest] = pk
    gate.know(existing.values())
    queued: dict[int, int] = {}
    for index in sorted(range(len(texts)), key=lambda i: (tops[i][1], i)):
        name, prob = tops[index]
        note = ("not doubtful: outside the band and not below the label's threshold" if index not in doubtful else
                _review_admission(project, gate, texts[index], digests[index], existing, name, prob,
                                  predictions[index], queued, index))
        predictions[index]["queued_for_review"] = index in queued
        predictions[index]["review_note"] = note or None
    return queued


def _review_admission(project, gate, text, digest, existing, name, prob, prediction, queued, index) -> str:
    """Queue one doubtful text (recording it in ``queued``, and in ``existing`` the item it
    creates) or say why not."""
    item_id = existing.get(digest)
    if item_id is not None:
        if gate.in_queue(item_id):
            queued[index] = item_id
            return "already in the review queue"
        why = gate.left_out(item_id, name)
        if why:
            return why
    full = gate.full()
    if full:
        return full
    if item_id is None:
        if project.allow_new_sources:
            source, _ = Source.objects.get_or_create(project=project, name="api", defaults={"quota": 0.0})
        else:
            source = Source.objects.filter(project=project).order_by("pk").first()
        item = Item.objects.create(project=project, source=source, text=text, text_hash=digest,
                                   metadata={"origin": "predict_api"})
        item.dup_group = item.pk
        item.save(update_fields=["dup_group"])
        item_id = existing[digest] = item.pk
    gate.open_task(item_id, name, prob, prediction)
    queued[index] = item_id
    return ""
