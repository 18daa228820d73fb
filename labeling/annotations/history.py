"""An annotator's own answers: the history the annotation page lists, and changing or clearing one.

* **A change is a new answer.** It is stored as a new ``Annotation`` whose ``supersedes`` points at
  the answer it replaces; the old row is kept, marked ``undone`` (it no longer counts for training,
  export, agreement or resolution) and reads its replacement as ``superseded_by``: the audit trail
  shows both. Nothing is overwritten.
* **Clearing** an answer marks it undone and gives the item back to the annotator (their lease on
  it is renewed while its wave is open), as the undo of the last answer does.
* **What the change takes back.** A disagreement that no longer holds is withdrawn, and an open
  label issue closes once the item's label is no longer the label it questions
  (``modeling.label_issues``). A clear
  says whether answers of others still label the item (``still_labeled``): then the item is not
  back in the pool, whatever its wave.
* **Exactly once.** A change carries its own ``client_id``; a retry returns the stored change, and
  a retried clear what the first clear's reply said (``reopened``, ``still_labeled``): the page
  counts the clear by them when the first reply was lost. The
  answer to change is named by id or by its ``client_id``, so the page can queue a change right
  behind the answer it changes, before the server has acknowledged either.

The reads (the history list, the answered items of a held batch) are in ``history_selectors``.
"""
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.modeling.label_issues import close_answered_issues
from labeling.projects.locks import hold_label, hold_membership
from labeling.projects.models import Label, Project
from labeling.waves.models import Wave

from .answerable import lock_wave_item
from .disagreement import sync_disagreement
from .errors import AnnotationError
from .leasing import change_slots, lease_expiry
from .models import Annotation, Assignment
from .services import (
    AnswerRejected,
    InvalidAnswer,
    NotFound,
    check_label_name,
    ensure_other_label,
    project_label,
    require_label,
)
from .signals import answer_saved


@dataclass
class ChangeResult:
    annotation: Annotation | None  # the new answer; None when the old one was cleared
    replaced: Annotation           # the answer changed or cleared
    created: bool                  # False: a retry of a change already stored
    reopened: bool = False         # a clear: the item waits for the annotator again (its wave is open)
    still_labeled: bool = False    # a clear: other answers (of others, imported, a lead's) still label the item


def _own_answer(project: Project, user, supersedes, supersedes_client_id) -> Annotation:
    query = Annotation.objects.select_for_update(of=("self",)).filter(
        project=project, annotator=user, origin=Annotation.ANNOTATOR
    )
    try:
        if supersedes is not None:
            return query.get(pk=int(supersedes))
        if supersedes_client_id is not None:
            return query.get(client_id=uuid.UUID(str(supersedes_client_id)))
    except (Annotation.DoesNotExist, TypeError, ValueError):
        named = supersedes if supersedes is not None else supersedes_client_id
        # str: a client id arrives as a UUID, whose repr ("UUID('…')") the page would show
        raise NotFound(f"Answer {named} is not one of your answers in project '{project.slug}'.",
                       field="supersedes") from None
    raise InvalidAnswer("Say which answer you change: give 'supersedes' (its id) or 'supersedes_client_id'.",
                        field="supersedes")


class AnswerReplaced(AnswerRejected):
    """The answer named no longer stands (another tab or page of the annotator changed or cleared
    it first): the refusal names the item, so the reply can carry the answer that stands on it."""

    def __init__(self, message: str, *, item_id: int):
        super().__init__(message, field="supersedes")
        self.item_id = item_id


def _check_changeable(old: Annotation) -> None:
    if not old.undone:
        return
    newer = Annotation.objects.filter(supersedes=old).first()
    if newer:
        raise AnswerReplaced(
            f"Answer {old.pk} was already changed (answer {newer.pk} replaced it); change that one instead.",
            item_id=old.item_id)
    raise AnswerReplaced(f"Answer {old.pk} was cleared or undone; there is nothing to change.", item_id=old.item_id)


def _replay(existing: Annotation, project: Project, user) -> ChangeResult:
    if existing.project_id != project.pk or existing.annotator_id != user.pk or existing.supersedes_id is None:
        raise AnswerRejected(
            f"client_id {existing.client_id} already identifies another answer; send a new id.", field="client_id")
    return ChangeResult(existing, existing.supersedes, created=False)


def suggested_label(project: Project, suggested_label_id) -> Label | None:
    """The label a suggestion named (checked before the answer is stored)."""
    if suggested_label_id is None:
        return None
    try:
        return project_label(project, suggested_label_id)
    except InvalidAnswer as exc:
        raise InvalidAnswer(exc.message, field="suggested_label") from None


def change_answer(
    project: Project, user, *, client_id, supersedes=None, supersedes_client_id=None, label_id=None,
    skipped: bool = False, skip_reason: str = "", none_of_these: bool = False, clear: bool = False,
    suggestion_shown: bool = False, suggested_label_id=None, label_name: str | None = None,
) -> ChangeResult:
    """Replace one of the annotator's answers with a new one (a label, a skip with its reason, or
    none of these), or clear it. The old answer is kept for the audit trail. ``label_name``: the
    label's name as the page showed it (services.check_label_name)."""
    try:
        client_id = uuid.UUID(str(client_id))
    except ValueError:
        raise InvalidAnswer(f"client_id {client_id!r} is not a UUID.", field="client_id") from None
    existing = Annotation.objects.filter(client_id=client_id).first()
    if existing:
        return _replay(existing, project, user)
    given = [label_id is not None, bool(skipped), bool(none_of_these), bool(clear)]
    if sum(given) != 1:
        raise InvalidAnswer("Give exactly one of: a label, skipped with a reason, none_of_these, or clear.",
                            field="label")
    skip_reason = (skip_reason or "").strip()
    if skipped and not skip_reason:
        raise InvalidAnswer("Say why you skip this item (skip_reason).", field="skip_reason")
    label = project_label(project, label_id) if label_id is not None else None
    check_label_name(label, label_name)
    if none_of_these:
        label = ensure_other_label(project)
    suggested = suggested_label(project, suggested_label_id)

    now = timezone.now()
    try:
        with transaction.atomic():
            # a clear hands the item back as a lease: only to a member (as undo; leasing's membership note)
            hold_membership(project, user, "nothing was changed")
            # The labels first (locks.hold_label, as submit_answer), then the answer and its wave item (as undo).
            require_label(label)
            if suggested is not None and not hold_label(suggested):
                suggested = None  # deleted meanwhile: the answer still records that a suggestion was shown
            old = _own_answer(project, user, supersedes, supersedes_client_id)
            if old.assignment_id:
                lock_wave_item(old.assignment.wave_item_id)
                old.refresh_from_db()
            if clear and old.undone and not Annotation.objects.filter(supersedes=old).exists():
                return _replayed_clear(old)
            _check_changeable(old)
            old.undone = True
            old.save(update_fields=["undone"])
            new, reopened = None, False
            if clear:
                reopened = _reopen_assignment(old, now)
            else:
                new = Annotation.objects.create(
                    project=project, item_id=old.item_id, annotator=user, assignment_id=old.assignment_id,
                    label=label, skipped=bool(skipped), skip_reason=skip_reason if skipped else "",
                    origin=Annotation.ANNOTATOR, client_id=client_id, supersedes=old,
                    suggestion_shown=bool(suggestion_shown), suggested_label=suggested,
                )
                if old.assignment_id:
                    Assignment.objects.filter(pk=old.assignment_id).update(
                        state=Assignment.SKIPPED if skipped else Assignment.DONE)
            sync_disagreement(project, old.item_id)
            close_answered_issues(project, old.item_id)
            still_labeled = clear and _still_labeled(old)
    except AnnotationError:
        # The same change sent twice at once ends here: the retry looked its client id up before
        # the first send committed, then waited for the answer's lock and woke to the answer that
        # change replaced (AnswerReplaced). Looked up again only on a refusal, as submit_answer does,
        # so that a first send pays nothing for it.
        existing = Annotation.objects.filter(client_id=client_id).first()
        if existing:
            return _replay(existing, project, user)
        raise
    except IntegrityError:
        existing = Annotation.objects.filter(client_id=client_id).first()
        if existing:  # a concurrent retry of the same change won the race
            return _replay(existing, project, user)
        raise
    answer_saved.send(sender=Annotation, project=project, item=old.item)
    return ChangeResult(new, old, created=True, reopened=reopened, still_labeled=still_labeled)


def _still_labeled(cleared: Annotation) -> bool:
    """Whether answers other than the annotator's own still label the cleared answer's item: other
    annotators', imported ones, and a lead's decision, hers included (a lead who answered the item
    and decided it in review keeps it labeled by the decision when she clears her answer)."""
    return Annotation.objects.filter(item_id=cleared.item_id, undone=False, skipped=False, label__isnull=False).exclude(
        annotator_id=cleared.annotator_id, origin=Annotation.ANNOTATOR).exists()


def _replayed_clear(cleared: Annotation) -> ChangeResult:
    """A clear of an answer already cleared (its first reply was lost, or another tab cleared it):
    the reply the first clear gave, read from what it left, so the page counts the clear once. A
    clear stores no row of its own, so ``reopened`` is read from the assignment: a clear in an open
    wave leases it again (it stays live, or is answered anew), one in a closed wave expires it; a
    wave that is open now was open then (waves never reopen)."""
    reopened = False
    if cleared.assignment_id:
        assignment = cleared.assignment
        reopened = (assignment.wave_item.wave.state == Wave.OPEN
                    or assignment.state in (Assignment.LEASED, Assignment.DONE, Assignment.SKIPPED))
    return ChangeResult(None, cleared, created=False, reopened=reopened, still_labeled=_still_labeled(cleared))


def _reopen_assignment(old: Annotation, now) -> bool:
    """A cleared answer's item waits for the annotator again while its wave is open (True);
    in a closed wave its slot goes back to the pool (False)."""
    if not old.assignment_id:
        return False
    assignment = old.assignment
    answered = Assignment.objects.filter(pk=assignment.pk, state__in=[Assignment.DONE, Assignment.SKIPPED])
    # The pick's slot counts follow (leasing.change_slots; the caller holds the wave item's lock).
    if assignment.wave_item.wave.state == Wave.OPEN:
        # Leased again now: the clear is work in the project, which leasing.renewal_limit counts by it.
        reopened = answered.update(state=Assignment.LEASED, leased_at=now, expires_at=lease_expiry(now))
        change_slots([assignment.wave_item_id], done=-reopened)
        return True
    released = answered.update(state=Assignment.EXPIRED)
    change_slots([assignment.wave_item_id], taken=-released, done=-released)
    return False

