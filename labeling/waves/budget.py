"""What a new wave may ask of the label budget: how many items, and how many answers each
double-labeled item gets. A wave's answers (one per item, plus overlap − 1 more per double-labeled
item) fit the answers left (budget − used − outstanding): the wave shrinks to fit, and where not
even one item at full overlap fits, the last wave is one item whose overlap is cut to what is
left. The overlap asked is at most MAX_OVERLAP, also for a project that stored more before that
ceiling (labeling.projects.overlap). See docs/loop.md, "Budget"."""
from __future__ import annotations

import math

from labeling.projects.models import Project
from labeling.projects.overlap import MAX_OVERLAP

from . import selectors


class NothingToPlan(ValueError):
    """No wave can be planned; the message says why."""


class BudgetSpent(NothingToPlan):
    """The project's label budget is used up (or fully committed to open waves)."""


def overlap(project: Project) -> int:
    """The answers a double-labeled item asks for: the project's overlap, 1 to MAX_OVERLAP."""
    return max(1, min(int(project.overlap or 1), MAX_OVERLAP))


def answers_left(project: Project) -> int | None:
    """The answers a new wave may still ask for; None without a label budget. Raises BudgetSpent
    when nothing is left (answers given, or committed to unfinished waves)."""
    status = selectors.budget_status(project)  # its "free" is this figure, shown on the pages as well
    if status["budget"] is None:
        return None
    if status["spent"]:
        raise BudgetSpent(
            f"The label budget of {status['budget']} is spent: {status['used']} labels given"
            + (", the rest is committed to unfinished waves." if status["left"] > 0 else ".")
        )
    return status["free"]


def items_for_budget(project: Project, requested: int, left: int | None) -> int:
    """The requested wave size, shrunk so its answers fit ``left`` (at least 1: see double_overlaps)."""
    if left is None:
        return requested
    full = overlap(project)
    extra = (full - 1) * project.double_label_share
    n = min(requested, int(math.floor(left / (1.0 + extra) + 1e-9)))
    # Rounding of the double-labeled count can push one over: step down until it fits.
    while n > 0 and n + double_count(project, n) * (full - 1) > left:
        n -= 1
    return max(n, 1)


def double_count(project: Project, n: int) -> int:
    """How many of ``n`` picks are drawn for double labeling (round(share × n))."""
    if overlap(project) <= 1 or project.double_label_share <= 0:
        return 0
    return min(n, int(round(project.double_label_share * n)))


def double_overlaps(project: Project, n_picks: int, n_drawn: int, left: int | None) -> list[int]:
    """The overlap of each of the ``n_drawn`` picks drawn for double labeling, in draw order. Every
    pick takes one answer first; the extra answers of the drawn ones come out of what is left after
    that, so the wave never asks more than ``left`` (a drawn pick cut to 1 is labeled once)."""
    full = overlap(project)
    if left is None:
        return [full] * n_drawn
    room = max(0, left - n_picks)
    overlaps = []
    for _ in range(n_drawn):
        extra = min(full - 1, room)
        room -= extra
        overlaps.append(1 + extra)
    return overlaps


def overlap_note(project: Project, overlaps: list[int], left: int | None) -> str | None:
    """Why double-labeled picks ask fewer answers than the project's overlap (for the wave's
    report["overlap_limited"]), or None when they ask that many."""
    notes = []
    if project.overlap > MAX_OVERLAP and overlaps:
        notes.append(f"the project's overlap of {project.overlap} is above the most a wave asks ({MAX_OVERLAP}); "
                     "lower it on the settings page")
    cut = sum(1 for value in overlaps if value < overlap(project))
    if cut:
        notes.append(f"{cut} of the {len(overlaps)} picks drawn for double labeling ask fewer than {overlap(project)} "
                     f"answers ({sum(overlaps)} in all): the label budget has {left} answers left")
    return "; ".join(notes) or None
