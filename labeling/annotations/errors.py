"""The refusals of the annotator's side (``services`` and the paths built on it): a message for
people, the field it names, and an HTTP status. Importable from ``services`` too, where they are
raised most."""
from .models import Assignment


class AnnotationError(Exception):
    """A request the annotator's side refuses, with a message for people and an HTTP status."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None, reason: str = "refused"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason  # what a lease renewal reports a lapsed lease lost as (renewal.py)


class InvalidAnswer(AnnotationError):
    status = 400


class NotFound(AnnotationError):
    status = 404


class AnswerRejected(AnnotationError):
    """Well-formed but not storable now (slot taken, already answered, already resolved)."""

    status = 409


def assignment_not_yours(slug: str, assignment_id) -> str:
    """Why an assignment cannot take the annotator's answer. One that is gone went with its pick when a
    lead excluded the item while nobody held it (``waves.discard.take_out_excluded``): "not yours"
    would send the annotator looking for a mistake of theirs."""
    if isinstance(assignment_id, int) and not Assignment.objects.filter(pk=assignment_id).exists():
        return (f"Assignment {assignment_id} does not exist in project '{slug}' (a lead may have excluded "
                "its item, which takes it out of the wave). Nothing was stored.")
    return f"Assignment {assignment_id!r} is not yours in project '{slug}'."
