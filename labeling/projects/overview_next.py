"""What the overview says comes next while no wave is open: the one read beyond the item counts
(``selectors.item_counts``) is whether a lead's plan waits for an embedding run."""
from labeling.loop.runs import EMBED, OPEN
from labeling.modeling.models import TaskRun

from .models import Project


def plan_waiting_for_embedding(project: Project) -> TaskRun | None:
    """The embedding run a lead's plan waits for (``planning_blocker`` queued or marked it with
    plan_when_done): the next wave is planned and opened by itself when it ends. None when no plan
    waits."""
    return (TaskRun.objects.filter(project=project, kind=EMBED, state__in=OPEN, detail__plan_when_done=True)
            .order_by("-created_at").first())
