"""What routing reads about items besides their scores: which ones annotators are to label, which
a lead excluded, which are unanswered copies of an answered item, and which predictions a lead let
stand. ``review.route_review`` and the predict API's gate (``review.ReviewGate``) read them alike."""
from django.db.models import Q

from labeling.annotations.models import ReviewTask
from labeling.items.models import Item
from labeling.projects.drawable import copies_of_answered

from . import selectors

# labeling.waves.models.Wave.PLANNED / OPEN: the waves whose items annotators have or will have.
# Read through the item's relation (this package sits below labeling.waves and never imports it).
WAITING_WAVE_STATES = ("planned", "open")


def waiting_items(project, item_ids=None) -> set[int]:
    """Items of ``project`` (of ``item_ids`` when given) whose label must come from annotators: in
    an open or planned wave, or a pick with a known inclusion probability in any wave (one left
    unanswered when its wave closed is still in the pool estimates' sample: a label accepted from
    the model there would count the prediction as its truth)."""
    rows = Item.objects.filter(Q(wave_picks__wave__state__in=WAITING_WAVE_STATES)
                               | Q(wave_picks__inclusion_prob__isnull=False), project=project)
    if item_ids is not None:
        rows = rows.filter(pk__in=list(item_ids))
    return set(rows.values_list("pk", flat=True))


def excluded_items(project, item_ids=None) -> set[int]:
    """Items of ``project`` (of ``item_ids`` when given) a lead excluded from the pool."""
    rows = Item.objects.filter(project=project, excluded=True)
    if item_ids is not None:
        rows = rows.filter(pk__in=list(item_ids))
    return set(rows.values_list("pk", flat=True))


def dismissed_predictions(project, item_ids=None) -> dict[int, int]:
    """item id → the id of the label the model predicted when a lead last dismissed a
    low-confidence task of the item (the prediction the lead let stand, by identity: a rename
    does not lift it); of ``item_ids`` only, when given."""
    rows = ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE, outcome=ReviewTask.DISMISSED)
    if item_ids is not None:
        rows = rows.filter(item_id__in=list(item_ids))
    tasks = list(rows.order_by("resolved_at", "pk").only("pk", "item_id", "reason", "detail", "model_version"))
    proposed = selectors.proposed_labels(project, tasks)
    out: dict[int, int] = {}
    for task in tasks:
        if proposed.get(task.pk):
            out[task.item_id] = proposed[task.pk][0]
    return out


def copied_items(project, item_ids=None) -> set[int]:
    """Items of ``project`` (of ``item_ids`` when given) with no live answer whose duplicate group
    holds an answered item (``labeling.projects.drawable``): out of the pool, as the overview and the
    planner count it. Their label is the answered copy's business; a review task would ask again."""
    return set(copies_of_answered(project, item_ids).values_list("pk", flat=True))
