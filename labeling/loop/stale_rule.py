"""When work whose message has not started is given up: the part of the stale rule shared by the
stale-run rule (labeling.loop.runs.expire_stale_runs: a pending run, or a running run whose next
step waits) and the stale-import rule (labeling.loop.sweep_imports: a pending upload).

Nothing moves such work's heartbeat while its message waits for a worker. Past the stale cut-off
the workers' sweep asks the broker (broker.look, one bounded read for the whole sweep) whether it
still holds each message: one that is in a queue, or handed to a worker that has not acknowledged
it, is waiting, not lost, however long it has waited (behind other projects' fine-tunes on a
shared ``train`` queue, or for workers that were down all night); one it holds nowhere will never
start, and is given up. Before, anything past the cut-off plus the visibility timeout was given up
by its age alone, and a final model queued behind two other projects' fine-tunes, or every upload
made while the workers were down, was failed as never started with its message still queued.

The time-only rule (given up past the cut-off plus the visibility timeout, when a message held by
a worker that died would have come back) is kept where the broker cannot be asked: no Redis
broker, Redis unreachable from the sweep, or no message id recorded to ask about. A web request
never reads the queues; where the broker can be asked, it leaves this work to the sweep.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .broker import can_look, look
from .cutoffs import pending_stale_after

LOST = "lost"  # the broker was asked: it holds none of the work's messages
LATE = "late"  # the broker cannot be asked, and the work waited past the cut-off plus the visibility timeout


@dataclass(frozen=True)
class Unstarted:
    """Work past the stale cut-off whose message has not started: ``sent``, the first message of
    a pending run or upload; ``steps``, the next step's messages of a running run (any one of them
    still waiting keeps it)."""
    key: int
    updated_at: datetime
    sent: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()


def verdicts(unstarted: list[Unstarted], *, now: datetime, ask_broker: bool) -> dict[int, str]:
    """{key: LOST or LATE} for the work to give up; the rest still waits. ``ask_broker``: the
    workers' sweep (reads the queues once for all of it); a web request passes False."""
    asked = [work for work in unstarted if work.sent or work.steps]
    seen = (look(steps={i for work in asked for i in work.steps}, sent={i for work in asked for i in work.sent})
            if ask_broker and asked else None)
    leave_to_sweep = not ask_broker and can_look()
    given_up = {}
    for work in unstarted:
        if work.sent or work.steps:
            if seen is not None:
                waiting, held = seen
                if not (waiting & set(work.steps) or held & set(work.sent)):
                    given_up[work.key] = LOST
                continue
            if leave_to_sweep:
                continue
        if work.updated_at < now - pending_stale_after():
            given_up[work.key] = LATE
    return given_up
