"""Write paths for project configuration; pages and the API both call these, so the checks are the same."""
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from labeling.items.models import Item
from labeling.items.validation import SEARCH_CHECK_FROM_CHARS, SearchDocuments, empty_text_problem
from labeling.loop.replanning import request_replan
from labeling.loop.triggers import request_review_routing
from labeling.modeling.review import ReviewGate
from labeling.modeling.versions import NoActiveModel, active_model
from labeling.waves.discard import stale_plans
from learner.text import text_hash

from .hotkeys import OTHER_STAYS_TOP, check_unique_hotkeys, moves_the_other_label
from .label_lines import create_labels, parse_label_lines
from .label_names import composed_name, named_like, source_name_errors, spelled_out
from .locks import hold_label, lock_project_labels
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


@transaction.atomic
def create_project(user, *, slug: str, name: str, description: str = "", labels=(), sources=(),
                   other_label: bool = False) -> Project:
    """A new project with its creator as lead; labels as parse_label_lines reads them, sources share the quota."""
    if problem := new_slug_problem(slug):
        raise ValidationError({"slug": problem})
    label_rows = parse_label_lines([composed_name(line) for line in labels], other_label=other_label)
    # One name per line as well as per entry: the page's box, like its labels box, takes a name a line.
    sources = [composed_name(name.strip()) for entry in sources for name in (entry or "").splitlines() if name.strip()] or ["default"]
    if errors := source_name_errors(dict(enumerate(dict.fromkeys(sources))), {}):
        raise ValidationError({"sources": errors})
    project = Project(slug=slug, name=name, description=description)
    project.full_clean(validate_unique=False)  # the slug's uniqueness: new_slug_problem, and the insert below
    try:
        with transaction.atomic():  # a savepoint: the same slug created at the same moment (a double-click)
            project.save()
    except IntegrityError:
        if Project.objects.filter(slug=slug).exists():  # committed by the other request while this one waited
            raise ValidationError({"slug": new_slug_problem(slug)}) from None
        raise
    for source_name in dict.fromkeys(sources):
        Source.objects.create(project=project, name=source_name, quota=round(1.0 / len(set(sources)), 6))
    create_labels(project, label_rows, other_label=other_label)
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
def save_labels(project: Project, rows: list[dict], deleted: list[Label] = ()) -> list[str]:
    """Save several label rows at once (the labels page). Each row: {"label": Label|None, fields…}.
    Returns what went with the deleted labels besides them (their rules, rules_gone_text)."""
    rules_gone: list[str] = []
    _save_rows(project, [(row.get("label"), {k: v for k, v in row.items() if k != "label"}) for row in rows], deleted,
               rules_gone)
    return rules_gone


def _save_rows(project: Project, rows: list[tuple[Label | None, dict]], deleted=(), rules_gone=None) -> list[Label]:
    """The labels as the save leaves them are checked as a whole (two levels, one Other, unique hotkeys) before any
    write (row by row, row order decided). The project's labels stay locked (FOR NO KEY UPDATE, id order) to the
    commit: saves are checked one after another, no parent is deleted meanwhile, answers (FOR KEY SHARE) go on."""
    lock_project_labels(project)  # then read: the locking read misses a label created while it waited (an Other)
    stored, gone = {lab.pk: lab for lab in Label.objects.filter(project=project)}, {label.pk for label in deleted}
    labels = [label or Label(project=project) for label, _ in rows]
    for label, (_, fields) in zip(labels, rows, strict=True):
        # composed (NFC); a name sent back as stored is kept (one migration 0017 left beside its twin stays editable)
        if isinstance(fields.get("name"), str) and not (label.pk in stored and fields["name"] == stored[label.pk].name):
            fields = {**fields, "name": composed_name(fields["name"])}
        for field, value in {**fields, "project": project}.items():
            setattr(label, field, value)
        if label.pk and label.pk not in stored:  # saving it would insert it again
            raise ValidationError({"name": f"The label {spelled_out(label.name)} was deleted meanwhile; nothing was saved."})
        was = stored.get(label.pk)
        if moves_the_other_label(bool(was and was.is_other and was.parent_id is None), label.is_other, label.parent_id):
            raise ValidationError({"parent": OTHER_STAYS_TOP})  # before Label.clean's hotkey check (key 0)
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
        rules = delete_label(label)
        if rules and rules_gone is not None:
            rules_gone.append(rules_gone_text(label.name, rules))
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
def delete_label(label: Label) -> list[str]:
    """Delete a label and its rules (Rule.label cascades); returns the rules that went with it, each
    as "keyword “chargeback”", for the answer to say so: they are the lead's work, and gone for good."""
    # Locked first: an answer stored with it meanwhile (locks.hold_label) has committed and counts.
    if Label.objects.select_for_update().filter(pk=label.pk).first() is None:
        return []  # deleted meanwhile
    rules = [f"{kind} “{pattern}”" for kind, pattern in label.rules.order_by("pk").values_list("kind", "pattern")]
    try:
        label.delete()
    except ProtectedError:
        raise ValidationError(label_in_use_message(label)) from None
    if rules:
        request_replan(label.project)  # a cold-start plan waiting to be opened drew by them
    return rules


def rules_gone_text(name: str, rules: list[str]) -> str:
    """"The label “fraud” was deleted with its 2 rules: keyword “chargeback”, regex “…”."."""
    return (f"The label {spelled_out(name)} was deleted with its {len(rules)} rule{'s' * (len(rules) != 1)}: "
            f"{', '.join(rules)}.")


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
    # An answer keeps the label it was given (the audit trail), and only its annotator can change it,
    # which still leaves it in the history: a lead cannot empty a label of answers. So the advice is
    # what a lead can do, on the items page and in review, to stop the label counting or being chosen.
    advice = ("Answers keep the label they were given, so it stays while any answer uses it. To stop it counting, "
              "send those items to review (Items: filter by this label, “send to review”) and resolve them with "
              "another label: a lead's decision stands over the annotators' answers in training and the export. "
              "To stop it being chosen, rename it (for example “retired: …”)."
              if live else
              "Those answers were all undone or changed; the audit trail keeps them, so the label stays. Rename it "
              "(for example “retired: …”) if it should no longer be chosen.")
    return (f"The label {spelled_out(name)} is in use by {answers} answer{'s' * (answers != 1)} "
            f"({', '.join(c for c in counts if c)}) and cannot be deleted. {advice}")


@transaction.atomic
def replace_sources(project: Project, rows: list[dict]) -> list[Source]:
    """Set the project's sources to exactly ``rows`` ({"id"?, "name", "quota"}): quotas must add up
    to 1.0; a source that still has items cannot be removed. All or nothing."""
    check_quota_total([row["quota"] for row in rows])
    # composed (NFC); a name sent back as stored is kept (one migration 0017 left beside its twin stays editable)
    stored_names = set(Source.objects.filter(project=project).values_list("pk", "name"))
    names = [row["name"].strip() if (row.get("id"), row["name"].strip()) in stored_names else composed_name(row["name"].strip())
             for row in rows]
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
    keys = [int(row["id"]) if row.get("id") is not None else f"new {i}" for i, row in enumerate(rows)]
    if errors := source_name_errors(dict(zip(keys, names, strict=True)), {pk: s.name for pk, s in existing.items()}):
        raise ValidationError({"name": errors})
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
    """Create or change a rule (the rules page and the API). Its label is share-locked to the commit
    (locks.hold_label): the rule's foreign key is checked at commit, so a label deleted meanwhile failed
    the commit (a 500), or, deleted just after, took the rule with it after a "saved". Held, a deletion
    waits for the rule and deletes it with its label; or the rule waits and is refused here."""
    rule = rule or Rule(project=project)
    for field, value in fields.items():
        setattr(rule, field, value)
    if rule.label.project_id != project.pk:
        raise ValidationError({"label": "The label belongs to another project."})
    if not hold_label(rule.label):
        raise ValidationError({"label": f"The label {spelled_out(rule.label.name)} was deleted meanwhile; "
                                        "nothing was saved."})
    rule.full_clean()  # Rule.clean judges a new or changed pattern (the program-size cap included)
    try:
        with transaction.atomic():  # a savepoint: an identical rule saved at the same moment (a double-click)
            rule.save()
    except IntegrityError:
        rule.validate_constraints()  # rule_unique: the identical rule's message, on pattern; anything else is a bug
        raise
    rule.replan_note = _replan_for_rules(project)
    return rule


@transaction.atomic
def delete_rule(project: Project, rule: Rule) -> str:
    """Delete a rule (the rules page and the API); returns what it does to the waiting wave, or ""."""
    Rule.objects.filter(project=project, pk=rule.pk).delete()
    return _replan_for_rules(project)


def _replan_for_rules(project: Project) -> str:
    """After a rule change: a waiting cold-start plan drew by the rules as they were (pool.plan_settings
    records them), so it is stale and planned afresh once this commits, as after a settings change.
    Returns the sentence that says so, or "" when no waiting plan is stale."""
    stale = stale_plans(project, active_model(project))
    request_replan(project)
    if not stale:
        return ""
    return (f"Planned wave {stale[-1].number} was drawn with the rules as they were; it is planned afresh with the "
            "rules as they are now.")


@transaction.atomic
def queue_predictions_for_review(project: Project, texts: list[str], predictions: list[dict]) -> dict[int, int]:
    """The human-in-the-loop path for live traffic, by the rule of pool routing
    (labeling.modeling.review.ReviewGate): a text whose top prediction under the active version is
    doubtful (inside the project's band, or held back by the served model's thresholds, a coarse
    fallback's included) becomes an Item (source "api", or one whose name looks like it, when the
    project allows new sources, else its first source; an exact duplicate of a pool item reuses that
    item) with an open ReviewTask(reason=low_confidence), least confident first, while the open ones
    stay within the review share. Labeled items, items in an open or planned wave and predictions a
    lead dismissed for the item are left out. Each prediction row gains ``queued_for_review`` and ``review_note`` (why not queued).
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
    unstorable = _unstorable_texts(texts, doubtful)
    queued: dict[int, int] = {}
    for index in sorted(range(len(texts)), key=lambda i: (tops[i][1], i)):
        name, prob = tops[index]
        if index not in doubtful:
            note = "not doubtful: outside the band and not below the label's threshold"
        elif index in unstorable:
            note = f"not queued: {unstorable[index]}, so it cannot be stored as an item (the importer's rule)"
        else:
            note = _review_admission(project, gate, texts[index], digests[index], existing, name, prob,
                                     predictions[index], queued, index)
        predictions[index]["queued_for_review"] = index in queued
        predictions[index]["review_note"] = note or None
    return queued


def _unstorable_texts(texts: list[str], doubtful: set[int]) -> dict[int, str]:
    """{index: why} for the doubtful texts the importer would refuse to store as items. They are
    still scored (predict answers every text, whether or not the queue is on by the project's
    setting); they are only kept out of the pool and the review queue."""
    # the search-document check costs a catalogue query: only when some text is long enough to need it
    documents = SearchDocuments() if any(len(texts[i]) > SEARCH_CHECK_FROM_CHARS for i in doubtful) else None
    refused = {}
    for index in doubtful:
        problem = empty_text_problem(texts[index]) or (documents.problem(texts[index]) if documents else None)
        if problem:
            refused[index] = problem
    return refused


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
            source = _api_source(project)
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


def _api_source(project: Project) -> Source:
    """The source queued predictions go to: the project's "api" by the name rules (named_like: "API",
    "Api" …), so that live traffic does not split a lead's channel in two for quotas, filters and
    estimates; created (quota 0) only when none looks like it. A source named "api" exactly comes first."""
    sources = sorted(project.sources.all(), key=lambda source: (source.name != "api", source.pk))
    found = named_like(sources, "api")
    return found or Source.objects.get_or_create(project=project, name="api", defaults={"quota": 0.0})[0]
