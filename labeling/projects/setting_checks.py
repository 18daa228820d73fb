"""Checks the models run that need no model class: the words of a setting's range, the metadata
shown to annotators, the strategy mix, and rows that must stay within one project."""
from django.core.exceptions import ValidationError

from labeling.items.values import MAX_FIELD_NAME_CHARS, storable, string_problem

from .shares import check_strategy_mix

MAX_SHOWN_METADATA = 30
UNSET = object()  # settings_errors: the values do not carry the field (nothing to check)


def range_text(low, high, low_in: bool, high_in: bool) -> str:
    if high is None:
        return f"at least {low:g}" if low_in else f"above {low:g}"
    if low_in and high_in:
        return f"between {low:g} and {high:g}"
    if not low_in and not high_in:
        return f"strictly between {low:g} and {high:g}"
    return f"above {low:g} and at most {high:g}" if high_in else f"at least {low:g} and below {high:g}"


def annotator_metadata_problem(meta, name: str) -> str | None:
    """Why ``meta`` cannot be the metadata shown to annotators (the setting called ``name``), or
    None. Null is refused here because the field's blank=True makes full_clean() skip it while the
    column is NOT NULL (a form-encoded PATCH parses "null" past the serializer's own null check).
    Field names go into a jsonb column: NUL and lone surrogates are refused with the importer's
    words, and what is quoted back is escaped the importer's way."""
    if meta is UNSET:
        return None
    if meta is None:
        return f"{name} cannot be null; send a list of field names ([] for none)."
    bad = not isinstance(meta, list) or len(meta) > MAX_SHOWN_METADATA or not all(
        isinstance(k, str) and 0 < len(k.strip()) <= MAX_FIELD_NAME_CHARS for k in meta)
    if bad:
        return (f"{name} must be a list of at most {MAX_SHOWN_METADATA} field names "
                f"(text of 1 to {MAX_FIELD_NAME_CHARS} characters each); got {storable(str(meta), 200)}.")
    for position, key in enumerate(meta, start=1):
        problem = string_problem(key)
        if problem:
            return f"{name}: field name {position} “{storable(key, 100)}” {problem}."
    return None


def strategy_mix_problem(mix, random_share) -> str | None:
    """Why the strategy mix with this random share cannot plan a wave (shares.check_strategy_mix's
    words), or None. A random share that is not a number is the field's own error."""
    if isinstance(random_share, bool) or not isinstance(random_share, (int, float)):
        return None
    try:
        check_strategy_mix(mix if mix is not None else {}, random_share)
    except ValidationError as exc:
        return " ".join(exc.message_dict.get("strategy_mix", exc.messages))
    return None


def related_project_errors(instance, *fields: str) -> dict[str, str]:
    """{field: message} for each of ``fields`` (foreign keys to rows that have a project) that
    points into a project other than ``instance``'s: the export, planning and the pages read a
    project's answers and rules with that project's labels and items only."""
    errors: dict[str, str] = {}
    if instance.project_id is None:
        return errors
    for field in fields:
        if getattr(instance, f"{field}_id", None) is None:
            continue
        related = getattr(instance, field)
        if related.project_id != instance.project_id:
            what = instance._meta.get_field(field).verbose_name
            errors[field] = (f"The {what} “{storable(str(related), 100)}” belongs to another project; "
                             f"choose one of this project's.")
    return errors
