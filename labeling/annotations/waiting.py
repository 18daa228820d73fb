"""Why nothing can be leased: the answer the annotation page and the lease API give instead of a
bare "nothing is waiting". An item needs ``overlap`` answers from different people; with one
annotator, an item that needs two waits for a second one, and the wave cannot complete."""
from datetime import UTC, timedelta

from django.db.models import F, Q
from django.utils import timezone

from labeling.loop.runs import WAITING, open_retrain_run, plan_waiting_for_embedding, run_stage
from labeling.projects.models import Membership, Project
from labeling.projects.permissions import can_manage
from labeling.waves.models import Wave, WaveItem

from .decided_picks import decided_pick
from .idle_leases import items_let_go_idle
from .leasing import live_slot_q
from .models import Assignment

NOTHING = "Nothing is waiting for you right now."


def _clock(moment) -> str:
    """The minute to come back at, rounded up: cut to the minute, "12:11" for leases that end at
    12:11:35 names a time already past when asked at 12:11:30, and nothing can be leased then."""
    moment = moment.astimezone(UTC)
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment.strftime("%H:%M UTC")


def why_waiting(project: Project, user, now=None) -> dict:
    """{"reason", "message", "waiting_for_others", "leased_by_others", "back_at"} for a lease
    that came back empty. ``reason``: no_wave, wave_complete, second_annotator, leased_by_others,
    let_go_idle (the last three may all hold; the message then says each)."""
    now = now or timezone.now()
    picks = WaveItem.objects.filter(wave__project=project, wave__state=Wave.OPEN)
    out = {"reason": "", "message": "", "waiting_for_others": 0, "leased_by_others": 0, "back_at": None,
           "overlap": 0}
    if not picks.exists():
        out.update(reason="no_wave", message=f"{NOTHING} No wave is open; {_next_wave(project)}")
        return out
    # Picks still short of answers, by their count (slots_done keeps the answers of users deleted
    # while their answered assignments were deleted with them: counted from the rows, those picks
    # looked short for ever).
    # A pick a lead decided asks nobody for more (decided_picks), whatever its count.
    asking = picks.exclude(decided_pick())
    open_picks = asking.filter(slots_done__lt=F("overlap"))
    # Items still short of answers that this annotator already answered: they need someone else.
    mine = Q(assignments__annotator=user, assignments__state__in=[Assignment.DONE, Assignment.SKIPPED])
    waiting = open_picks.filter(mine).distinct()
    n_waiting = waiting.count()
    overlap = max(waiting.values_list("overlap", flat=True), default=0)
    leases = Assignment.objects.filter(wave_item__in=picks, state=Assignment.LEASED).filter(
        live_slot_q(now)).exclude(annotator=user)
    n_leased = leases.count()
    back_at = min(leases.values_list("expires_at", flat=True), default=None)
    # Free items this annotator let go idle at the renewal limit: theirs again after a while.
    idle = items_let_go_idle(project, user, now)
    idle_free = set(asking.filter(item_id__in=list(idle), slots_taken__lt=F("overlap"))
                    .values_list("item_id", flat=True)) if idle else set()
    idle_back_at = min((idle[item_id] for item_id in idle_free), default=None)
    parts = []
    if n_waiting:
        parts.append(
            f"{n_waiting} item{'s' if n_waiting != 1 else ''} of the open wave wait{'s' if n_waiting == 1 else ''} "
            f"for {'a second' if overlap == 2 else 'another'} annotator: each needs answers from {overlap} "
            f"different people and you have answered {'it' if n_waiting == 1 else 'them'} already. "
            + _who_else_answers(project, user, overlap))
    if n_leased:
        parts.append(
            f"{n_leased} item{'s are' if n_leased != 1 else ' is'} leased by other annotators; "
            f"unanswered leases come back at {_clock(back_at)}.")
    if idle_free:
        n_idle = len(idle_free)
        parts.append(
            f"{n_idle} item{'s' if n_idle != 1 else ''} you held without an answer until the renewal limit "
            f"went back to the pool for others; {'it comes' if n_idle == 1 else 'they come'} back to you at "
            f"{_clock(idle_back_at)} if nobody takes {'it' if n_idle == 1 else 'them'}.")
        back_at = min(back_at or idle_back_at, idle_back_at)
    reason = ("second_annotator" if n_waiting else "leased_by_others" if n_leased
              else "let_go_idle" if idle_free else "wave_complete")
    if not parts:
        parts.append("Every item of the open wave has its answers; the next wave opens after the retrain.")
    out.update(reason=reason, message=" ".join([NOTHING, *parts]), waiting_for_others=n_waiting, leased_by_others=n_leased,
               back_at=back_at.isoformat() if back_at else None, overlap=overlap)
    return out


def _next_wave(project: Project) -> str:
    """What opens the next wave while none is open. A completed wave closes at once and its
    retrain plans and opens the next one when it ends, as does an embedding a lead's plan waits
    for; a wave planned by hand waits for a lead to open it; otherwise a lead plans one."""
    retrain = open_retrain_run(project)
    if retrain is not None and (retrain.detail or {}).get("stage") == WAITING:
        return ("a retrain waits for the final model to finish, then trains and opens the next wave by itself. "
                "Ask again in a few minutes.")
    if retrain is not None:
        return (f"a retrain is under way ({run_stage(retrain)}, {float(retrain.progress):.0%}) and opens the next "
                "wave by itself when it finishes. Ask again in a few minutes.")
    embedding = plan_waiting_for_embedding(project)
    if embedding is not None:
        return (f"new items are being embedded ({float(embedding.progress):.0%}); the next wave is planned and opened "
                "by itself when they are done. Ask again in a few minutes.")
    planned = Wave.objects.filter(project=project, state=Wave.PLANNED).order_by("number").first()
    if planned is not None:
        return f"wave {planned.number} is planned and waits for a lead to open it."
    return "a lead plans the next one."


_ORDINALS = {2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth", 9: "ninth"}


def answering_members(project: Project):
    """The memberships whose users may answer the project's items: every member whose account is
    active, leads as well as annotators (both lease and answer; the annotation page is open to
    both), annotators first. A deactivated account can no longer sign in or use a token (its leases
    are given back: ``release.user_saved``), so it gives no answer."""
    return (Membership.objects.filter(project=project, user__is_active=True).select_related("user")
            .order_by("role", "user__username"))


def _who_else_answers(project: Project, user, overlap: int) -> str:
    """Who can give the answers this user cannot: the other members (a lead counts: the demo's lead
    is the second answerer of its annotator's double-labeled items), or, when there are not enough
    of them, that one must be added: a lead or admin adds one on the members page, an annotator
    asks a lead. By name for a lead or admin only: the member list is theirs (``members/`` refuses
    annotators), so an annotator learns how many."""
    members = list(answering_members(project))
    others = [m for m in members if m.user_id != user.pk]
    manages = can_manage(user, project)
    if manages:
        named = ", ".join(f"{m.user.username} ({m.role})" for m in others[:3]) + (
            f" and {len(others) - 3} more" if len(others) > 3 else "")
        can, some_can = f"Any other member of the project can answer them: {named}.", f"The other members ({named})"
    else:
        many = f"{len(others)} other member{'s' if len(others) != 1 else ''} of the project"
        can, some_can = f"{many} can answer them.", many
    if others and len(members) >= overlap:
        return can
    # A lead or admin adds members herself (the members page is hers); an annotator asks one.
    ask = ("Add another annotator on the project's members page." if manages
           else "Ask a lead to add another annotator to the project.")
    if others:
        return (f"{some_can} can answer them, but {overlap} different people are needed and the "
                f"project has {len(members)} member{'s' if len(members) != 1 else ''}. {ask}")
    return f"No other member of the project can answer them. {ask}"


def members_short(project: Project) -> dict | None:
    """For the lead: the open wave needs more different people than the project has members who
    may answer (leads count: they answer too). None when it does not."""
    picks = WaveItem.objects.filter(wave__project=project, wave__state=Wave.OPEN)
    need = max(picks.values_list("overlap", flat=True), default=0)
    members = answering_members(project).count()
    if need <= members:
        return None
    items = picks.filter(overlap__gt=members).count()
    missing = need - members
    wanted = f"a {_ORDINALS.get(need, f'{need}th')} member" if missing == 1 else f"{missing} more members"
    return {
        "needed": need, "members": members, "items": items,
        "message": (f"The open wave needs {wanted}: {items} "
                    f"item{'s' if items != 1 else ''} need{'s' if items == 1 else ''} answers from {need} different "
                    f"people, but the project has {members} member{'s' if members != 1 else ''} (leads and "
                    "annotators both answer). Add members on the Members page, or lower the Overlap or the "
                    "Double-labeled share in the settings before planning the next wave."),
    }
