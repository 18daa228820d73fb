"""Holding the open label issues to the review share when a lead lowers it.

A retrain's scan (``label_issues.scan_label_issues``) opens at most ``review_share_max`` of the
labeled items as label issues. A lead who lowers that maximum expects the queue to follow at once,
as the low-confidence tasks do (``tasks.route_review_again``), not at the next retrain: this pass
closes the open label issues over the new maximum, the least suspicious first (the highest
out-of-fold probability of the given label, ``detail["score"]``), with outcome ``expired``. A raised
maximum opens nothing: only a scan finds new issues.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from labeling.annotations.models import ReviewTask
from labeling.projects.models import Project

from . import selectors


@dataclass
class LabelIssueTrim:
    labeled: int = 0  # labeled items (a resolved label), what the share is of, as the scan counts them
    cap: int = 0
    open: int = 0  # label issues open after this pass
    closed: int = 0  # closed by this pass, over the cap


def _suspicion(task: ReviewTask) -> tuple[float, int]:
    """Sort key, most suspicious first: the lower the given label's out-of-fold score, the more
    suspicious (a task without a score sorts last, so that it closes first)."""
    score = (task.detail or {}).get("score")
    return (float(score) if isinstance(score, int | float) else float("inf"), task.pk)


def trim_label_issues(project_id: int) -> LabelIssueTrim:
    """Close the open label issues of the project over ``review_share_max`` of its labeled items."""
    with transaction.atomic():
        # the project's lock first, then its open tasks in id order, as the scan's sync and routing
        # take them; NO KEY, so that answers referencing the project go on meanwhile
        project = Project.objects.select_for_update(no_key=True).get(pk=project_id)
        result = LabelIssueTrim(labeled=len(selectors.resolve_item_labels(project)))
        result.cap = math.floor(project.review_share_max * result.labeled + 1e-9)
        open_tasks = list(ReviewTask.objects.select_for_update().filter(
            project=project, reason=ReviewTask.LABEL_ISSUE, resolved_at__isnull=True).order_by("pk"))
        over = sorted(open_tasks, key=_suspicion)[result.cap:]
        now = timezone.now()
        note = (f"over the review share ({result.cap} open label issues at most: "
                f"{project.review_share_max:.0%} of {result.labeled} labeled items)")
        for task in over:
            task.resolved_at, task.outcome = now, ReviewTask.EXPIRED
            task.detail = {**(task.detail or {}), "closed": note}
        ReviewTask.objects.bulk_update(over, ["resolved_at", "outcome", "detail"])
        result.closed, result.open = len(over), len(open_tasks) - len(over)
    return result
