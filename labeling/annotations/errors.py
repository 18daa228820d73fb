"""The refusals of the annotator's side (``services`` and the paths built on it): a message for
people, the field it names, and an HTTP status. Importable from ``services`` too, where they are
raised most."""


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
