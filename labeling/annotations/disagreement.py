"""Disagreement tasks: an item whose annotators' current answers differ goes to the lead's review
queue, and leaves it once they agree again (a change, an undo) or a lead's adjudication decides it.
Called by every write that changes an item's answers (``services``, ``history``).

Lock order on an item's review tasks: every writer of them (an answer's write here, a lead's
decision in ``review_services.resolve_review`` and ``review_services.bulk_review``) locks all of the
item's open tasks at once, in id order, before it writes any (``lock_open_tasks``). Locked one by
one as each was reached, a lead resolving the item's label issue while its annotator changed an
answer (which withdraws the disagreement, then closes the issue) each held the task the other
needed next, and PostgreSQL cancelled one of them.

Which items are *disputed* (the item browser's ``state=disputed`` and row state, the estimates'
disputed picks, the export's ``disputed`` column) is defined here once, from the answers
(``disputed_sql``): the rule ``sync_disagreement`` opens a task on, not whether a task is open.
A lead's dismissal closes the task and stores nothing, so the annotators still disagree and
nobody decided; only an adjudication settles the item. A dismissal holds until the votes change
(``_dismissed_alike``): an answer sent again unchanged opens no new task."""
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.db.models.fields import BooleanField
from django.utils import timezone

from labeling.items.models import Item
from labeling.projects.models import Project

from .models import Annotation, ReviewTask


def lock_open_tasks(project: Project, item_ids, *, also=(), related=()) -> list[ReviewTask]:
    """Lock the open review tasks of the items (and the tasks ``also`` names, open or not) in id
    order, as they are now; a task closed while this waited for it is left out unless named.
    ``related``: relations to read with them (never locked)."""
    wanted = Q(item_id__in=list(item_ids), resolved_at__isnull=True) | Q(pk__in=list(also))
    tasks = ReviewTask.objects.select_for_update(of=("self",)).filter(project=project).filter(wanted)
    if related:  # select_related() without names would follow every relation
        tasks = tasks.select_related(*related)
    return list(tasks.order_by("pk"))


def sync_disagreement(project: Project, item_id: int, *, added: bool = False) -> ReviewTask | None:
    """Open (or refresh) a disagreement task when annotators' current answers on the item differ;
    withdraw an open one when they no longer do (after an undo). A standing adjudication is the
    item's decision: no disagreement is opened while it stands, and an open one is closed with it
    (a lead re-adjudicates from the item page). Call with the item locked. ``added``: the change
    was a new answer, which cannot end a disagreement, so a single annotator's answers need no
    further look."""
    answers = list(
        Annotation.objects.filter(
            project=project, item_id=item_id, origin=Annotation.ANNOTATOR, undone=False, skipped=False
        ).select_related("annotator", "label").order_by("created_at", "pk")
    )
    latest = {}
    for answer in answers:  # each annotator's latest answer counts
        latest[_voter(answer.annotator_id, answer.pk)] = answer
    if added and len(latest) < 2:
        return None
    locked = lock_open_tasks(project, [item_id])  # all of the item's, before any is written: the module's lock order
    open_task = next((t for t in locked if t.reason == ReviewTask.DISAGREEMENT), None)  # locked: open ones only
    disagree = len(latest) >= 2 and len({a.label_id for a in latest.values()}) > 1
    if not disagree:
        if open_task:
            open_task.delete()
        return None
    decision = (Annotation.objects.filter(project=project, item_id=item_id, origin=Annotation.ADJUDICATION,
                                          undone=False, label__isnull=False).order_by("-pk").first())
    if decision is not None:
        if open_task:  # left open by an older release: the decision answered it
            ReviewTask.objects.filter(pk=open_task.pk).update(
                resolved_label_id=decision.label_id, resolved_by_id=decision.annotator_id, resolved_at=timezone.now())
        return None
    detail = {
        "answers": [
            {"annotator": a.annotator.username if a.annotator else None, "label_id": a.label_id,
             "label": a.label.name if a.label else None}
            for a in latest.values()
        ]
    }
    if open_task:
        open_task.detail = detail
        open_task.save(update_fields=["detail"])
        return open_task
    if _dismissed_alike(project, item_id, detail):
        return None
    return ReviewTask.objects.create(project=project, item_id=item_id, reason=ReviewTask.DISAGREEMENT, detail=detail)


def _votes(detail: dict) -> list[tuple[str, str]]:
    return sorted((str(a.get("annotator")), str(a.get("label_id"))) for a in (detail or {}).get("answers", []))


def _dismissed_alike(project: Project, item_id: int, detail: dict) -> bool:
    """The item's latest disagreement task was dismissed with these very votes (who answered
    which label): the lead has seen this disagreement and let it stand. An answer sent again
    unchanged (the annotate page's reopen and the same key) is stored as a change, and would
    otherwise bring the dismissed disagreement back to the queue; as for a label issue, a
    dismissal holds until the votes change."""
    last = (ReviewTask.objects.filter(project=project, item_id=item_id, reason=ReviewTask.DISAGREEMENT)
            .order_by("-pk").only("outcome", "detail").first())
    return last is not None and last.outcome == ReviewTask.DISMISSED and _votes(last.detail) == _votes(detail)


def _voter(annotator_id: int | None, answer_id: int):
    """Whose vote an answer is. Each person has one live answer per item (a change supersedes the
    old one, an undo ends it), so the live answers with no annotator (their accounts were deleted)
    are different people's: each votes. Taken for one voter, two departed annotators who disagreed
    left the item undisputed. ``_VOTES`` is the same rule in SQL."""
    return ("answer", answer_id) if annotator_id is None else annotator_id


# Of an item's live labeled answers (alias a), those that vote in a dispute: an annotator's (not
# skipped) with no later one of the same annotator, "later" by (created_at, id), the order every
# "newest answer" reads. An answer with no annotator (a deleted account) has none (NULL equals
# nothing): it votes (``_voter``). Adjudications and imports pass too (counted apart, or not at all).
_VOTES = ("a.origin <> '{annotator}' OR (NOT a.skipped AND NOT EXISTS (SELECT 1 FROM {table} n "
          "WHERE n.item_id = a.item_id AND n.origin = '{annotator}' AND NOT n.undone AND NOT n.skipped "
          "AND n.label_id IS NOT NULL AND n.annotator_id = a.annotator_id AND (n.created_at > a.created_at "
          "OR (n.created_at = a.created_at AND n.id > a.id))))")


def disputed_sql(item_column: str | None = None) -> str:
    """SQL, true when the item (``item_column``; the items table's id by default) is disputed: two
    or more annotators whose latest answers carry different labels (the rule ``sync_disagreement``
    opens a task on), and no live adjudication. Imports are no annotator: an imported label that
    differs from an answer is no dispute.

    One scalar subquery over the item's answers (through the item index), the adjudication counted
    in it: a NOT EXISTS of its own was planned as an anti-join reading every answer of every
    project (no index leads to adjudications). No ORDER BY and no DISTINCT: the item browser checks
    it row by row on a plan that must not sort (labeling/items/narrowing.py)."""
    item = item_column or f'"{Item._meta.db_table}"."id"'
    table = Annotation._meta.db_table
    annotator = f"CASE WHEN a.origin = '{Annotation.ANNOTATOR}' THEN a.label_id END"
    votes = _VOTES.format(annotator=Annotation.ANNOTATOR, table=table)
    return (f"(SELECT COALESCE(min({annotator}) <> max({annotator}), false) AND "
            f"count(CASE WHEN a.origin = '{Annotation.ADJUDICATION}' THEN 1 END) = 0 FROM {table} a "
            f"WHERE a.item_id = {item} AND NOT a.undone AND a.label_id IS NOT NULL AND ({votes}))")


def disputed() -> RawSQL:
    """``disputed_sql`` as a boolean expression over an Item queryset (which must join the items
    table once: the SQL names it)."""
    return RawSQL(disputed_sql(), [], output_field=BooleanField())


def disputed_items(project: Project, item_ids) -> set[int]:
    """Which of ``item_ids`` (of the project) are disputed (``disputed_sql``), in one query."""
    ids = sorted(set(item_ids))
    if not ids:
        return set()
    return set(Item.objects.filter(project=project, pk__in=ids).filter(disputed()).values_list("pk", flat=True))


def dispute_candidates(project: Project):
    """Disagreement tasks of the project, open or closed: a superset of its disputed items
    (``disputed_sql``) for a caller that must find them through an index (the item browser's
    narrowing) and then checks the rule on each. Every write of an annotator's answer calls
    ``sync_disagreement``, which opens a task whenever the rule holds and no adjudication stands,
    and deletes one only once the annotators agree; a lead's dismissal or adjudication closes it
    and leaves it there."""
    return ReviewTask.objects.filter(project=project, reason=ReviewTask.DISAGREEMENT)
