"""Write paths of the annotator's side: storing answers exactly once, undo, disagreement
detection (leasing batches is ``leasing``; a lead's adjudication is ``review_services``).

Decisions worth knowing:

* **No lost label.** An answer on an expired lease is stored when the item still has a free slot
  (or the annotator holds a newer lease on it); when other annotators took all slots meanwhile it
  is rejected with a message that says so (``AnswerRejected``, HTTP 409). A removed member's is
  not stored (a removal expires their leases: 403 "no longer a member"), nor one on a pick a lead
  has since decided in review (``review_services`` released the lease), nor one on a closed wave's
  pick of an item a later wave picked again (``answerable`` has the rules).
* **Exactly once.** ``Annotation.client_id`` is unique; a retried submit returns the stored
  answer without storing, signalling or changing anything.
* **None of these.** The project's top-level label with ``is_other=True`` is used; a project
  without one gets a label "None of these" (``is_other=True``) created the first time an
  annotator picks it, so downstream code (training, export, agreement) sees an ordinary label.
* ``answer_saved`` is sent after the write's transaction block, once per stored, undone or
  adjudicated answer (never on a replay).
"""
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.modeling.label_issues import close_answered_issues
from labeling.projects.label_names import named_like, spelled_out
from labeling.projects.locks import hold_label, hold_membership, lock_project_labels
from labeling.projects.models import Label, Project

from .answerable import MembershipFirst, answerable_assignment, lock_wave_item
from .disagreement import sync_disagreement
from .errors import AnnotationError, AnswerRejected, InvalidAnswer, NotFound
from .leasing import change_slots, lease_expiry
from .models import Annotation, Assignment, ReviewTask
from .signals import answer_saved

OTHER_LABEL_NAME = "None of these"


@dataclass
class AnswerResult:
    annotation: Annotation
    created: bool  # False: a retry of an answer already stored
    review_task: ReviewTask | None = None


def _other_label(project: Project) -> Label | None:
    return project.labels.filter(is_other=True, parent__isnull=True).order_by("order", "name", "pk").first()


def ensure_other_label(project: Project) -> Label:
    """The project's "none of these" label, created on first use; in the page's order (labels_payload).
    The creation locks the project's labels as a lead's label save does (projects.services._save_rows,
    FOR NO KEY UPDATE in id order) and looks again under the locks: of a save and a first "none of
    these" at the same moment, the later finds the earlier's Other (the save is refused with the
    one-Other message) instead of failing on the one-Other constraint. Two first answers at once
    share one label."""
    other = _other_label(project)
    if other:
        return other
    with transaction.atomic():
        lock_project_labels(project)
        other = _other_label(project) or named_like(project.labels.filter(parent__isnull=True).order_by("pk"), OTHER_LABEL_NAME)
        if other:
            return other
        taken_hotkeys = set(project.labels.values_list("hotkey", flat=True))
        try:
            with transaction.atomic():  # a savepoint: the lookup below must still run after a clash
                return Label.objects.create(
                    project=project, name=OTHER_LABEL_NAME, is_other=True, order=10_000,
                    hotkey="" if "0" in taken_hotkeys else "0",
                    description="None of the project's labels fits this item.",
                )
        except IntegrityError:
            # A project without labels has no row to lock: a request that came first created it meanwhile.
            other = _other_label(project) or named_like(project.labels.filter(parent__isnull=True).order_by("pk"), OTHER_LABEL_NAME)
    if other is None:
        raise AnswerRejected("The project's labels changed while the “none of these” label was being created; "
                             "nothing was stored. Send the answer again.", field="label")
    return other


def project_label(project: Project, label_id) -> Label:
    try:
        return Label.objects.get(pk=int(label_id), project=project)
    except (Label.DoesNotExist, TypeError, ValueError):
        raise InvalidAnswer(
            f"Label {label_id!r} is not a label of project '{project.slug}'.", field="label"
        ) from None


class LabelRenamed(AnswerRejected):
    """The label's name is no longer the one the annotator saw: the page's labels are out of date."""


def check_label_name(label: Label | None, shown_name: str | None) -> None:
    """Refuse an answer whose label is not named as the page showed it (``shown_name``; None: the
    client did not say, as plain API clients do). A renamed label, or one whose hotkey went to a new
    label of the old name, would otherwise store a label the annotator did not mean."""
    if label is None or shown_name is None or label.name == shown_name:
        return
    raise LabelRenamed(f"The label you chose, {spelled_out(shown_name)}, is now named {spelled_out(label.name)}; "
                       "nothing was stored. The page has the labels as they are now: choose again.",
                       field="label_name")


def require_label(label: Label | None) -> None:  # hold_label for an answer's label: refused when it is gone
    if label is not None and not hold_label(label):
        raise InvalidAnswer(f"label: the label {spelled_out(label.name)} no longer exists (it was deleted); "
                            "nothing was stored.", field="label")


def _replay(existing: Annotation, project: Project, user) -> AnswerResult:
    if existing.project_id != project.pk or existing.annotator_id != user.pk:
        raise AnswerRejected(
            f"client_id {existing.client_id} already identifies another answer; send a new id.", field="client_id"
        )
    return AnswerResult(existing, created=False)


def submit_answer(
    project: Project, user, *, client_id, assignment_id=None, item_id=None, label_id=None,
    skipped: bool = False, skip_reason: str = "", none_of_these: bool = False, label_name: str | None = None,
    suggestion_shown: bool = False, suggested: Label | None = None,
) -> AnswerResult:
    """Store one annotator answer exactly once (``client_id``): a label, a skip with its reason,
    or "none of these". A retry that arrives while the first send is still being stored waits for
    the item's lock and then gets the stored answer, as any later retry does. ``label_name``: the
    label's name as the page showed it (check_label_name). ``suggestion_shown``, ``suggested``:
    whether the page showed a suggestion with the item, and its label, stored with the answer in
    its transaction (a second write could fail after the answer was stored, and the reply say so)."""
    try:
        client_id = uuid.UUID(str(client_id))
    except ValueError:
        raise InvalidAnswer(f"client_id {client_id!r} is not a UUID.", field="client_id") from None
    given = [label_id is not None, bool(skipped), bool(none_of_these)]
    if sum(given) != 1:
        raise InvalidAnswer("Give exactly one of: a label, skipped with a reason, or none_of_these.", field="label")
    skip_reason = (skip_reason or "").strip()
    if skipped and not skip_reason:
        raise InvalidAnswer("Say why you skip this item (skip_reason).", field="skip_reason")
    if len(skip_reason) > 300:
        raise InvalidAnswer("The skip reason is longer than 300 characters.", field="skip_reason")
    label = None
    if label_id is not None:
        label = project_label(project, label_id)
    elif none_of_these:
        label = ensure_other_label(project)

    suggestion = (bool(suggestion_shown), suggested)
    try:
        check_label_name(label, label_name)  # in the try: a retry of an answer stored before the rename replays
        try:
            annotation, wave_item, review_task = _store_answer(project, user, client_id, assignment_id, item_id, label,
                                                               skipped, skip_reason, suggestion, member_held=False)
        except MembershipFirst:
            # An expired lease's answer takes a slot again (a removal expires the member's leases and
            # frees them), so it is stored only while the annotator is a member: taken again with the
            # membership share-locked first, the order a lease and a removal take (membership, then
            # the wave items). A live lease's answer, nearly every one, pays nothing for it.
            annotation, wave_item, review_task = _store_answer(project, user, client_id, assignment_id, item_id, label,
                                                               skipped, skip_reason, suggestion, member_held=True)
    except AnnotationError:
        # A retry of a stored answer is refused like any second answer (already answered; its
        # lease since expired): look the answer up only now, so that a first send, nearly every
        # submit, does not pay for that lookup. The same answer sent twice at once ends here too:
        # the first send stored it while this one waited for the item's lock.
        existing = Annotation.objects.filter(client_id=client_id).first()
        if existing:
            return _replay(existing, project, user)
        raise
    except IntegrityError:
        existing = Annotation.objects.filter(client_id=client_id).first()
        if existing:  # a concurrent retry of the same answer won the race
            return _replay(existing, project, user)
        require_label(label)  # deleted meanwhile (held above, so not expected): say so rather than fail
        raise
    answer_saved.send(sender=Annotation, project=project, item=annotation.item, wave_item=wave_item)
    return AnswerResult(annotation, created=True, review_task=review_task)


def _store_answer(project, user, client_id, assignment_id, item_id, label, skipped, skip_reason, suggestion, *,
                  member_held):
    """submit_answer's write, in one transaction: (annotation, wave item, review task or None).
    ``suggestion``: (shown, its label or None)."""
    shown, suggested = suggestion
    with transaction.atomic():
        if member_held:
            hold_membership(project, user, "your answer was not stored")
        require_label(label)  # before the wave item's lock: delete_label takes them in this order too
        if suggested is not None and not hold_label(suggested):
            suggested = None  # deleted meanwhile: the answer still records that a suggestion was shown
        assignment, wave_item = answerable_assignment(project, user, assignment_id, item_id, timezone.now(),
                                                      member_held)
        annotation = Annotation.objects.create(
            project=project, item=wave_item.item, annotator=user, assignment=assignment,
            label=label, skipped=bool(skipped), skip_reason=skip_reason if skipped else "",
            origin=Annotation.ANNOTATOR, client_id=client_id, suggestion_shown=shown, suggested_label=suggested,
        )
        held_slot = assignment.state == Assignment.LEASED
        # A single-overlap pick answered first on its live lease has no other answer to disagree
        # with: the planner never picks an item that is answered or leased. An answer on a lapsed
        # lease looks at the item's answers (the pick's counter counts its own only): another pick
        # of the item may have been answered meanwhile.
        alone = (wave_item.overlap == 1 and wave_item.slots_done == 0 and held_slot
                 and assignment.expires_at > timezone.now())
        assignment.state = Assignment.SKIPPED if skipped else Assignment.DONE
        assignment.save(update_fields=["state"])
        change_slots([wave_item.pk], taken=0 if held_slot else 1, done=1)
        wave_item.slots_taken += 0 if held_slot else 1
        wave_item.slots_done += 1
        review_task = None if skipped or alone else sync_disagreement(project, annotation.item_id, added=True)
    return annotation, wave_item, review_task


def undo_last_answer(project: Project, user, *, client_id=None) -> Annotation:
    """Mark the annotator's latest live answer in the project undone, or with ``client_id`` exactly
    that answer, and re-open its assignment (also in a closed wave: the re-opened lease is handed
    back until it expires, like any live lease). Leased again now, as a clear from the history: the
    undo is work in the project, which leasing.renewal_limit reads from the leases' times. An undo
    naming an answer that is not stored yet (its submit still on the way), or one a change replaced
    (also while they race), undoes nothing."""
    now = timezone.now()
    if client_id is not None:
        try:
            client_id = uuid.UUID(str(client_id))
        except ValueError:
            raise InvalidAnswer(f"client_id {client_id!r} is not a UUID.", field="client_id") from None
    with transaction.atomic():
        # The undo gives the item back as a lease: not to someone removed meanwhile (projects.locks.hold_membership).
        hold_membership(project, user, "nothing was undone")
        annotation = _lock_undo_target(project, user, client_id)
        if annotation.undone:
            return annotation  # a retried undo (or a cleared answer: its item waits again all the same)
        if annotation.assignment_id:
            wave_item = lock_wave_item(annotation.assignment.wave_item_id)
        annotation.undone = True
        annotation.save(update_fields=["undone"])
        if annotation.assignment_id:
            reopened = Assignment.objects.filter(
                pk=annotation.assignment_id, state__in=[Assignment.DONE, Assignment.SKIPPED]
            ).update(state=Assignment.LEASED, leased_at=now, expires_at=lease_expiry(now))
            change_slots([wave_item.pk], done=-reopened)
        sync_disagreement(project, annotation.item_id)
        close_answered_issues(project, annotation.item_id)
    answer_saved.send(sender=Annotation, project=project, item=annotation.item)
    return annotation


def _lock_undo_target(project: Project, user, client_id) -> Annotation:
    """The answer to undo, locked first as change_answer locks it, and read as it is now."""
    answers = Annotation.objects.filter(project=project, annotator=user, origin=Annotation.ANNOTATOR)
    while True:
        if client_id is None:
            latest = answers.filter(undone=False).order_by("-created_at", "-pk").values_list("pk", flat=True).first()
            if latest is None:
                raise NotFound("You have no answer to undo in this project.")
            annotation = answers.select_for_update(of=("self",)).get(pk=latest)
        else:
            annotation = answers.select_for_update(of=("self",)).filter(client_id=client_id).first()
            if annotation is None:
                # Client ids are unique over all answers: one stored is someone else's and never becomes
                # this user's (404, as change/ answers it); one stored nowhere may be a submit on the way.
                if Annotation.objects.filter(client_id=client_id).exists():
                    raise NotFound(f"Answer {client_id} is not one of your answers in project '{project.slug}', "
                                   "so nothing was undone.", field="client_id")
                raise AnswerRejected(f"The answer {client_id} is not stored yet, so nothing was undone; "
                                     "undo again once it is saved.", field="client_id")
        if annotation.undone and (newer := Annotation.objects.filter(supersedes=annotation).first()):
            raise AnswerRejected(f"Answer {annotation.pk} was changed (answer {newer.pk} replaced it), so nothing was "
                                 "undone; undo that one instead.", field="client_id" if client_id else None)
        if client_id is not None or not annotation.undone:
            return annotation
        # Another request undid or cleared the latest answer meanwhile: the latest is another one now.
