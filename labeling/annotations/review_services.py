"""Bulk decisions on the review queue: accept the model's label, relabel, or dismiss many open
tasks at once (and the one-by-one adjudication, ``resolve_review``, which records ``accepted`` or
``relabeled`` by whether the label it stores is the model's).

* **accept** stores the model's label as the lead's adjudication: the prediction of a
  low-confidence task, the suggested label of a label issue. A task without a model label
  (a disagreement, a lead's request) is skipped with the reason.
* **relabel** stores the lead's chosen label for every selected task's item. With ``label_name``
  (the name the page showed), a label renamed since is refused (409, ``check_shown_name``): after a
  rename or a swap of names the id the page holds is another label than the one the lead chose.
* **dismiss** closes the selected tasks without storing anything: the prediction (or the given
  label, for a label issue) stands.

A new model re-scores open tasks in place (``labeling.modeling.review``), so the model's label of
a task can change after the lead's page loaded. accept and dismiss therefore carry ``shown``: per
task, the model's label the page showed (and the card's model version). A task whose model label
is no longer the one shown is left open with the reason (code ``prediction_changed``): accepting
it would store a label the lead never saw, and dismissing it would record a prediction the lead
never let stand (routing reads dismissals by label). relabel stores the lead's own label, which
does not depend on the model's, so it needs no ``shown``.

A label stored for an item resolves every open task of that item, as one adjudication does. Ids
that are not open tasks of the project are reported as skipped, never fail the others; tasks
closed since the page loaded come back with code ``closed_meanwhile`` and what closed them, as do
the tasks that a label this request stored for their item (for another of its tasks) closed
without being theirs: "closed by this request", never reported as left open.
``answer_saved`` is sent once per labeled item after the transaction.

A label a lead stores for an item releases the annotators' unanswered leases on it, in open waves
and closed ones (``release_decided_leases``): the label completes the pick, as the wave's progress
counts it, so an answer on such a lease would change nothing while it counted in the annotator's
totals and the budget. The answer path then refuses it (``answerable``: reason ``decided``), and
leasing hands the pick to nobody again (``decided_picks``).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from labeling.items.models import Item
from labeling.modeling.selectors import PROPOSAL_KEYS, predicted_name, proposed_labels
from labeling.projects.label_names import spelled_out, written_out
from labeling.projects.locks import hold_label
from labeling.projects.models import Label, Project
from labeling.waves.models import WaveItem

from .disagreement import lock_open_tasks
from .excluded_picks import ask_no_more_of_excluded
from .leasing import change_slots
from .models import Annotation, Assignment, ReviewTask
from .services import AnswerRejected, InvalidAnswer, LabelRenamed, NotFound, project_label, require_label
from .signals import answer_saved

ACCEPT, RELABEL, DISMISS = "accept", "relabel", "dismiss"
ACTIONS = (ACCEPT, RELABEL, DISMISS)
NEEDS_SHOWN = (ACCEPT, DISMISS)  # the actions whose effect depends on the model's label
MAX_TASKS = 1000
# Codes of a skipped task: closed since the page loaded (the page drops its card), its model label
# changed since the page loaded (the card stays: a reload shows the new label), or refused.
CLOSED_MEANWHILE, PREDICTION_CHANGED, REFUSED = "closed_meanwhile", "prediction_changed", "refused"


@dataclass
class Shown:
    """What the lead's page showed for a task: the model's label (None: no model label) and the
    model version of the card."""
    label: str | None
    model_version: int | None = None


@dataclass
class BulkResult:
    action: str
    done: list[int] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"task": id, "reason": text, "code": one of the codes}
    labeled_items: list[int] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)  # done tasks recorded as accepted (close_with_label's rule)
    label: str | None = None  # relabel: the name of the label stored, for the page's message

    def skip(self, pk: int, reason: str, code: str = REFUSED) -> None:
        self.skipped.append({"task": pk, "reason": reason, "code": code})


def model_label_name(task: ReviewTask) -> str | None:
    """The current name of the label the model proposes for the task's item (the suggestion of a
    label issue, the prediction of a low-confidence task), by the label's identity: a label
    renamed since the model proposed it goes by its new name. None: no model label, or its label
    was deleted."""
    proposed = proposed_labels(task.project_id, [task]).get(task.pk)
    return proposed[1] if proposed else None


def proposed_name(task: ReviewTask) -> str | None:
    """The name the task's detail gives the model's label (its name when the model proposed it)."""
    detail = task.detail or {}
    name_key = PROPOSAL_KEYS.get(task.reason, (None, None))[1]
    name = predicted_name(detail) if name_key == "predicted" else detail.get(name_key) if name_key else None
    return name if isinstance(name, str) and name else None


def _task_ids(task_ids) -> list[int]:
    if not isinstance(task_ids, list | tuple) or not task_ids:
        raise InvalidAnswer("tasks must be a non-empty list of review task ids.", field="tasks")
    if len(task_ids) > MAX_TASKS:
        raise InvalidAnswer(f"tasks may hold at most {MAX_TASKS} ids; got {len(task_ids)}.", field="tasks")
    ids = []
    for value in task_ids:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidAnswer(f"tasks must hold whole numbers; got {value!r}.", field="tasks")
        if value not in ids:
            ids.append(value)
    return ids


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(action: str, ids: list[int], shown) -> dict[int, Shown]:
    """task id → what the page showed, one entry for each of ``ids`` (accept and dismiss only)."""
    if action not in NEEDS_SHOWN:
        return {}
    if shown is None:
        raise InvalidAnswer(
            f"action {action!r} needs shown: for each task, the model's label the page showed "
            "({\"task\": id, \"label\": name or null, \"model_version\": n}), so that a label the lead "
            "did not see is never stored. Reload the page if it does not send it.", field="shown")
    if not isinstance(shown, list | tuple):
        raise InvalidAnswer("shown must be a list of {task, label, model_version} objects.", field="shown")
    out: dict[int, Shown] = {}
    for entry in shown:
        if not isinstance(entry, dict) or not _whole(entry.get("task")) or "label" not in entry:
            raise InvalidAnswer(f"shown: each entry needs task (an id) and label (a name or null); got {entry!r}.",
                                field="shown")
        pk, label, version = entry["task"], entry["label"], entry.get("model_version")
        if label is not None and not isinstance(label, str):
            raise InvalidAnswer(f"shown: the label of task {pk} must be a name or null.", field="shown")
        if version is not None and not _whole(version):
            raise InvalidAnswer(f"shown: the model_version of task {pk} must be a whole number or null.",
                                field="shown")
        if pk not in ids:
            raise InvalidAnswer(f"shown names task {pk}, which is not in tasks.", field="shown")
        if pk in out:
            raise InvalidAnswer(f"shown names task {pk} twice.", field="shown")
        out[pk] = Shown(label or None, version)
    missing = [pk for pk in ids if pk not in out]
    if missing:
        raise InvalidAnswer(f"shown has no entry for task{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(map(str, missing))}: send the model's label the page showed for each.",
                            field="shown")
    return out


def _relabel_target(project: Project, label_id) -> Label:
    if label_id is None:
        raise InvalidAnswer("action 'relabel' needs a label id.", field="label")
    label = Label.objects.filter(project=project, pk=label_id).first() if isinstance(label_id, int) else None
    if label is None:
        raise InvalidAnswer(f"Label {label_id!r} is not a label of project '{project.slug}'.", field="label")
    return label


def _full_name(label: Label) -> str:
    # as the review page lists a fine label (selectors.labels_payload's full_name)
    return f"{label.parent.name} › {label.name}" if label.parent_id else label.name


def check_shown_name(label: Label, shown_name: str | None) -> Label | None:
    """The relabel's label as it is now, refused (``LabelRenamed``, 409) when it is no longer named
    as the page showed it (``shown_name``: its name, or its full name "Coarse › Fine" as the page's
    list shows it; None: the client did not say, as plain API clients do): after another lead
    renamed or swapped labels, the id the page holds is another label than the one the lead chose.
    Called under hold_label, which a rename waits for, so the name read is the one stored.
    None: the label was deleted meanwhile (each task is then skipped saying so)."""
    current = Label.objects.select_related("parent").filter(pk=label.pk).first()
    if current is None or shown_name is None or shown_name in (current.name, _full_name(current)):
        return current
    raise LabelRenamed(f"The label you chose, {spelled_out(shown_name)}, is now named "
                       f"{spelled_out(_full_name(current))}; nothing was stored. The page has the labels as they "
                       "are now: choose again.", field="label_name")


def _quoted(name: str) -> str:
    # a lone surrogate sent in shown is replaced by the API's renderer (config/renderers.py)
    return f'"{written_out(name)}"'


def closed_reason(task: ReviewTask) -> str:
    """Why a task the page still showed is no longer open: its outcome and who or what closed it."""
    by = task.resolved_by.username if task.resolved_by else "someone"
    label = _quoted(task.resolved_label.name) if task.resolved_label else None
    if task.outcome == ReviewTask.EXPIRED:
        note = (task.detail or {}).get("closed")
        how = f"expired, {note}" if note else "expired"
    elif task.outcome == ReviewTask.DISMISSED:
        how = f"dismissed by {by}"
    elif label:
        how = f"{task.outcome or 'resolved'} as {label} by {by}"
    else:
        how = f"{task.outcome or 'resolved'} by {by}"
    return f"closed meanwhile: {how}"


def _changed_reason(task: ReviewTask, current: str | None, shown: Shown) -> str:
    what = "suggested label" if task.reason == ReviewTask.LABEL_ISSUE else "prediction"
    version = f" under model v{task.model_version}" if task.model_version else ""
    was = _quoted(shown.label) if shown.label else "no model label"
    was += f" from model v{shown.model_version}" if shown.model_version else ""
    now = f"changed to {_quoted(current)}" if current else "was withdrawn"
    return f"the {what} {now}{version} since the page loaded (it showed {was}): reload to see it"


def _closed_in_request(stored: Label, by_task: int, note: str = "") -> str:
    """What became of a task that the label this request stored for its item (for another task) closed."""
    return f"closed by this request: its item was labeled {_quoted(stored.name)} for task {by_task}" + (
        f" ({note})" if note else "")




def bulk_review(project: Project, lead, *, action: str, task_ids, label_id=None, shown=None,
                label_name: str | None = None) -> BulkResult:
    """``shown``: for accept and dismiss, ``[{"task": id, "label": name or None, "model_version": n}]``
    covering every task (see the module's docstring); ignored for relabel. ``label_name``: for
    relabel, the label's name as the page showed it (``check_shown_name``)."""
    if action not in ACTIONS:
        raise InvalidAnswer(f"action must be one of: {', '.join(ACTIONS)}; got {action!r}.", field="action")
    ids = _task_ids(task_ids)
    chosen = _relabel_target(project, label_id) if action == RELABEL else None
    if action != RELABEL and label_id is not None:
        raise InvalidAnswer(f"label goes with action 'relabel' only, not {action!r}.", field="label")
    if action != RELABEL and label_name is not None:
        raise InvalidAnswer(f"label_name goes with action 'relabel' only, not {action!r}.", field="label_name")
    seen = _shown(action, ids, shown)
    result = BulkResult(action, label=chosen.name if chosen else None)
    now = timezone.now()
    with transaction.atomic():
        if chosen is not None and hold_label(chosen):  # first, as a deletion locks the label before its tasks
            chosen = check_shown_name(chosen, label_name) or chosen
            result.label = chosen.name
        # Locked against a routing pass re-scoring or closing these tasks while this request decides: with
        # the other open tasks of their items, which a stored label closes too, all at once in id order
        # (disagreement's lock order, which an answer's write keeps).
        items = set(ReviewTask.objects.filter(project=project, pk__in=ids).values_list("item_id", flat=True))
        picks = lock_item_picks(items)  # before the tasks, as an answer's write locks them
        locked = lock_open_tasks(project, items, also=ids, related=("resolved_by", "resolved_label"))
        tasks = {t.pk: t for t in locked if t.pk in ids}
        # The label the model proposes for each task, by its identity, named as it is now: the page
        # shows that name (review_selectors), so ``shown`` is compared with it.
        proposed = proposed_labels(project, locked)  # the item's other open tasks too: each gets its own outcome
        labels = Label.objects.in_bulk([p[0] for p in proposed.values() if p])
        decided: dict[int, tuple[Label, int]] = {}  # item id → (label stored in this request, the task it was for)
        for pk in ids:
            task = tasks.get(pk)
            if task is None:
                result.skip(pk, f"no review task {pk} in project '{project.slug}'")
                continue
            if task.resolved_at is not None:
                result.skip(pk, closed_reason(task), CLOSED_MEANWHILE)
                continue
            current = proposed[pk][1] if proposed.get(pk) else None
            label = chosen if action == RELABEL else labels.get(proposed[pk][0]) if current else None
            if task.item_id in decided:
                # The label stored for its item earlier in this request resolved this task too: done when
                # it is the label this task asked for, else closed (not open) by that other label.
                if decided[task.item_id][0] == label:
                    result.done.append(pk)
                else:
                    note = f"{_quoted(label.name)} was not stored" if label else ""
                    result.skip(pk, _closed_in_request(*decided[task.item_id], note), CLOSED_MEANWHILE)
                continue
            if pk in seen and seen[pk].label != current:
                result.skip(pk, _changed_reason(task, current, seen[pk]), PREDICTION_CHANGED)
                continue
            if action == DISMISS:
                ReviewTask.objects.filter(pk=pk).update(resolved_by=lead, resolved_at=now, outcome=ReviewTask.DISMISSED)
                result.done.append(pk)
                continue
            if label is None:
                gone = proposed_name(task)
                why = f"the model's label {gone!r} is no longer a label of the project" if gone else \
                    f"a {task.reason.replace('_', ' ')} task has no model label to accept"
                result.skip(pk, why)
                continue
            if not hold_label(label):  # deleted meanwhile: its foreign key would fail the commit (a 500)
                result.skip(pk, f"the label {_quoted(label.name)} was deleted meanwhile")
                continue
            Annotation.objects.create(project=project, item_id=task.item_id, annotator=lead, label=label,
                                      origin=Annotation.ADJUDICATION)
            close_with_label(project, task.item_id, label, lead, now, proposed)
            decided[task.item_id] = (label, pk)
            result.done.append(pk)
        # A task skipped before a later task of its item stored a label was closed by that label too.
        for entry in result.skipped:
            task = tasks.get(entry["task"])
            if entry["code"] != CLOSED_MEANWHILE and task is not None and task.item_id in decided:
                entry.update(code=CLOSED_MEANWHILE, reason=_closed_in_request(*decided[task.item_id], entry["reason"]))
        result.labeled_items = list(decided)
        release_decided_leases(picks, decided)
        # A relabel to the model's own label is recorded as accepted: the page says so instead of "relabeled".
        result.accepted = sorted(ReviewTask.objects.filter(pk__in=result.done, outcome=ReviewTask.ACCEPTED)
                                 .values_list("pk", flat=True))
    for item in Item.objects.filter(pk__in=result.labeled_items).order_by("pk"):
        answer_saved.send(sender=Annotation, project=project, item=item)
    return result


def close_with_label(project: Project, item_id: int, label: Label, lead, now, proposed: dict) -> None:
    """Resolve the item's open tasks with ``label``, each with its own outcome, whichever way the
    label was chosen (a key, a card's button, the bulk API, the one-by-one adjudication):
    ``accepted`` where it is the label the model proposes for that task (``proposed``: task pk →
    (label id, name) or None, as modeling.selectors.proposed_labels gives it), else ``relabeled``
    (a disagreement has no model label). One outcome for all would depend on which task was named."""
    open_tasks = ReviewTask.objects.filter(project=project, item_id=item_id, resolved_at__isnull=True)
    accepted = [pk for pk, proposal in proposed.items() if proposal and proposal[0] == label.pk]
    done = {"resolved_label": label, "resolved_by": lead, "resolved_at": now}
    open_tasks.filter(pk__in=accepted).update(**done, outcome=ReviewTask.ACCEPTED)
    open_tasks.update(**done, outcome=ReviewTask.RELABELED)  # the rest: the first update closed the others


def resolve_review(project: Project, lead, *, task_id, label_id) -> ReviewTask:
    """Adjudicate: store the lead's label as an ``adjudication`` answer and resolve every open
    review task of the item (one decision answers both a disagreement and a low-confidence flag),
    each with its own outcome (``close_with_label``)."""
    label = project_label(project, label_id)
    now = timezone.now()
    with transaction.atomic():
        require_label(label)
        try:
            task_pk = int(task_id)
            item_id = ReviewTask.objects.values_list("item_id", flat=True).get(pk=task_pk, project=project)
        except (ReviewTask.DoesNotExist, TypeError, ValueError):
            raise NotFound(f"Review task {task_id!r} is not in project '{project.slug}'.", field="task") from None
        picks = lock_item_picks([item_id])  # before the tasks, as an answer's write locks them
        # All of the item's open tasks, in id order, as an answer's write locks them (disagreement's lock order).
        locked = lock_open_tasks(project, [item_id], also=[task_pk], related=("item", "resolved_by"))
        task = next((t for t in locked if t.pk == task_pk), None)
        if task is None:  # withdrawn while this waited (its annotators agree again)
            raise NotFound(f"Review task {task_id!r} is not in project '{project.slug}'.", field="task")
        if task.resolved_at:
            by = task.resolved_by.username if task.resolved_by else "someone"
            raise AnswerRejected(f"Review task {task.pk} was already resolved by {by}.", field="task")
        Annotation.objects.create(
            project=project, item=task.item, annotator=lead, label=label, origin=Annotation.ADJUDICATION
        )
        close_with_label(project, task.item_id, label, lead, now, proposed_labels(project, locked))
        release_decided_leases(picks, [task.item_id])
        task.refresh_from_db()
    answer_saved.send(sender=Annotation, project=project, item=task.item)
    return task


def lock_item_picks(item_ids) -> list[int]:
    """The wave items of these items, of every wave, locked in id order as every slot writer locks
    them; taken before the review tasks, the order of an answer's write (its wave item, then
    disagreement's tasks), so an answer under way is stored first or refused after."""
    return list(WaveItem.objects.filter(item_id__in=list(item_ids)).order_by("pk")
                .select_for_update(of=("self",)).values_list("pk", flat=True))


def release_decided_leases(wave_item_ids, item_ids) -> int:
    """Expire the unanswered leases on these locked wave items (``lock_item_picks``) of the
    items a lead's label was stored for, live or past their time (both hold a slot), and free their
    slots; returns how many. The annotator's later answer on one is refused (services: ``decided``)."""
    leases = list(Assignment.objects.filter(wave_item_id__in=wave_item_ids, wave_item__item_id__in=list(item_ids),
                                            state=Assignment.LEASED).values_list("pk", "wave_item_id"))
    Assignment.objects.filter(pk__in=[pk for pk, _ in leases]).update(state=Assignment.EXPIRED)
    by_count: dict[int, list[int]] = {}  # leases per wave item (one per annotator) → those wave items
    for wave_item_id, n in Counter(wave_item_id for _, wave_item_id in leases).items():
        by_count.setdefault(n, []).append(wave_item_id)
    for n, wave_item_ids_freed in by_count.items():
        change_slots(wave_item_ids_freed, taken=-n)
    ask_no_more_of_excluded([wave_item_id for _, wave_item_id in leases])  # as every release of a slot
    return len(leases)
