"""Importing a file that Longtail's own label export wrote (docs/export.md), so that a project can
move to another instance or project: such a file is recognised by its provenance columns
(``item_id``, ``label_source`` and ``votes`` together, which no ordinary import file needs) and

- its provenance columns are left out: ``item_id``, ``label_source``, ``annotators``, ``agreement``,
  ``wave``, ``strategy``, ``inclusion_prob``, ``dup_group``, ``split``, ``disputed``, ``votes``,
  ``skip_reasons`` describe the old project's answers, not the item (the label they led to is
  imported as the row's label);
- its metadata comes back as it went out: JSONL's ``metadata`` object, CSV's ``meta.<key>`` columns
  (CSV has no types: a number comes back as text);
- the CSV's formula guard is taken off: a cell the export began with ``'`` because the rest would
  run as a spreadsheet formula (``'=…``, ``'@…``) comes back without it.

Any other file imports as before: every column other than the known ones is metadata."""
from collections.abc import Iterable

from .csv_injection import FORMULA_STARTS

PROVENANCE = ("item_id", "label_source", "annotators", "agreement", "wave", "strategy", "inclusion_prob",
              "dup_group", "split", "disputed", "votes", "skip_reasons")
SIGNATURE = frozenset({"item_id", "label_source", "votes"})
METADATA_PREFIX = "meta."


def is_export_header(names: Iterable[str]) -> bool:
    return SIGNATURE <= set(names)


def is_export_object(obj: dict) -> bool:
    return SIGNATURE <= obj.keys() and isinstance(obj.get("metadata", {}), dict)


def unguard(cell: str) -> str:
    """The cell without the export's formula guard (``'`` before =, +, -, @, a tab or a CR)."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def csv_column(name: str) -> tuple[str, str] | None:
    """How an export CSV's column imports: ("field", name) for a known field or ("metadata", key)
    for a ``meta.<key>`` column; None for a provenance column, which is left out."""
    if name in PROVENANCE:
        return None
    if name.startswith(METADATA_PREFIX) and len(name) > len(METADATA_PREFIX):
        return "metadata", name[len(METADATA_PREFIX):]
    return "field", name


def split_object(obj: dict) -> tuple[dict, dict]:
    """An export JSONL row as (fields, metadata): the row without its provenance keys and its
    ``metadata`` object, and that object."""
    fields = {key: value for key, value in obj.items() if key not in PROVENANCE and key != "metadata"}
    return fields, dict(obj.get("metadata") or {})
