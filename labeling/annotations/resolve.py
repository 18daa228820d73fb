"""One label per item from its answers — the same rule the learner trains on: an adjudication wins
(the newest one), else the majority, ties go to the newest answer. Plain Python."""
from collections import Counter
from dataclasses import dataclass

ADJUDICATION = "adjudication"


# An item's answers oldest first: by time, then id (two answers stored at once can have their ids and
# times in opposite orders). "Ties go to the newest answer" reads this order everywhere: training,
# planning, the item browser, the dashboard and the export; an Answer's ``order`` is its place in it.
ANSWER_ORDER = ("created_at", "pk")


@dataclass(frozen=True)
class Answer:
    label_id: int
    origin: str
    order: int  # the answer's place among the item's answers by (created_at, id): later is larger
    annotator: str | None = None


@dataclass(frozen=True)
class Resolved:
    label_id: int
    origin: str          # origin of the deciding answer: annotator / import / adjudication
    agreement: float     # share of (non-adjudication) answers that agree with the label
    annotators: tuple[str, ...]


def resolve(answers: list[Answer]) -> Resolved | None:
    if not answers:
        return None
    votes = [a for a in answers if a.origin != ADJUDICATION]
    annotators = tuple(sorted({a.annotator for a in answers if a.annotator}))
    adjudications = [a for a in answers if a.origin == ADJUDICATION]
    if adjudications:
        decided = max(adjudications, key=lambda a: a.order)
        label, origin = decided.label_id, ADJUDICATION
    else:
        counts = Counter(a.label_id for a in votes)
        best = max(counts.values())
        newest = max((a for a in votes if counts[a.label_id] == best), key=lambda a: a.order)
        label, origin = newest.label_id, newest.origin
    agreement = (sum(1 for a in votes if a.label_id == label) / len(votes)) if votes else 1.0
    return Resolved(label_id=label, origin=origin, agreement=agreement, annotators=annotators)
