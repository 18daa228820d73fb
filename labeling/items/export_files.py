"""Importing a file that Longtail's own label export wrote (docs/export.md), so that a project can
move to another instance or project: such a file is recognised by its provenance columns
(``item_id``, ``label_source`` and ``votes`` together, which no ordinary import file needs) and

- its provenance columns are left out: ``item_id``, ``label_source``, ``annotators``, ``agreement``,
  ``wave``, ``strategy``, ``inclusion_prob``, ``dup_group``, ``split``, ``disputed``, ``votes``,
  ``skip_reasons`` describe the old project's answers, not the item (the label they led to is
  imported as the row's label);
- its metadata comes back as it went out: JSONL's ``metadata`` object, CSV's ``meta.<key>`` columns
  (CSV has no types: a number comes back as text);
- the CSV's formula guard is taken off: the guard begins with ``'`` every cell that starts with a
  formula character (``'=…``, ``'@…``) or with ``'`` itself, so in a guarded file one leading ``'``
  comes off every cell that has one. A file is taken as guarded when none of its cells starts with
  a formula character (the guard leaves none); an export written with the guard off has such
  cells as soon as one text starts with =, +, -, @, a tab or a CR, and its cells are kept as they
  are. (An unguarded export without any such cell but with texts starting with ``'`` cannot be
  told from a guarded one: export JSONL, or with the guard on, to move texts like that.)

Any other file imports as before: every column other than the known ones is metadata."""
import csv
from collections.abc import Iterable
from pathlib import Path

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
    """A guarded file's cell without the guard: one leading ``'`` less."""
    return cell[1:] if cell.startswith("'") else cell


def csv_is_guarded(path: Path, delimiter: str) -> bool:
    """Whether an export CSV was written with the formula guard on: no cell of it, header and
    rows, starts with a formula character (one pass over the file, before the rows are read)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.reader(handle, delimiter=delimiter):
            if any(cell.startswith(FORMULA_STARTS) for cell in row):
                return False
    return True


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
