"""Importing a file that Longtail's own label export wrote (docs/export.md), so that a project can
move to another instance or project: such a file is recognised by its provenance columns
(``item_id``, ``label_source`` and ``votes`` together, which no ordinary import file needs) and

- its provenance columns are left out: ``item_id``, ``label_source``, ``annotators``, ``agreement``,
  ``wave``, ``strategy``, ``inclusion_prob``, ``dup_group``, ``split``, ``disputed``, ``votes``,
  ``skip_reasons`` describe the old project's answers, not the item (the label they led to is
  imported as the row's label);
- a label the export copied onto an unlabeled exact duplicate from its labeled twin (``label_source``
  "duplicate", written with include_duplicates) is left out: nobody gave it, and imported it would
  count as labeled, train the model and go out again as ``label_source`` "import". The row imports as
  the unlabeled item it was (``leave_out_copied_label``; the import's summary counts such labels);
- its metadata comes back as it went out: JSONL's ``metadata`` object, CSV's ``meta.<key>`` columns
  (CSV has no types: a number comes back as text). Items' metadata is always an object now (items
  migration 0008 rewrote lists and texts as ``{"value": ...}``), but a JSONL exported by an older
  version may still hold one that is not: such a row is refused, naming the field, and so is a row
  with an empty metadata key (CSV's ``meta.`` column);
- the CSV's formula guard is taken off: the guard begins with ``'`` every cell that starts with a
  formula character (``'=…``, ``'@…``) or with ``'`` itself, so in a guarded file one leading ``'``
  comes off every cell that has one. A file is taken as guarded when none of its cells starts with
  a formula character where the guard would have put a ``'`` before it; an export written with the
  guard off has such cells as soon as one text starts with =, +, -, @, a tab or a CR, and its cells
  are kept as they are. The guard leaves numbers alone (a spreadsheet never runs -122.42), so a cell
  that is exactly a plain negative number (``csv_injection.PLAIN_NEGATIVE_NUMBER``, any column), or
  a ``meta.<key>`` cell ``-inf`` (a JSON number), is no evidence either way: it is written as it is
  with the guard on too. The guard writes ``'`` only before a formula
  character or another ``'``, so a cell like ``'quoted'`` (a ``'`` before anything else) shows the
  guard was off, and its texts keep their quotes. (An unguarded export whose only such cells start
  with ``'=``, ``''`` and the like, with no other formula cell, cannot be told from a guarded one:
  export JSONL, or with the guard on, to move texts like that.)

Any other file imports as before: every column other than the known ones is metadata."""
import csv
import re
from collections.abc import Iterable
from pathlib import Path

from .csv_injection import FORMULA_STARTS, GUARDED_STARTS, PLAIN_NEGATIVE_NUMBER

PROVENANCE = ("item_id", "label_source", "annotators", "agreement", "wave", "strategy", "inclusion_prob",
              "dup_group", "split", "disputed", "votes", "skip_reasons")
SIGNATURE = frozenset({"item_id", "label_source", "votes"})
METADATA_PREFIX = "meta."
# How the CSV writer spells a negative int or float metadata value (str(): -17, -122.42, -1e-05,
# -inf), which the guard writes as it is: the guard's plain numbers, and -inf (a JSON number only:
# the text "-inf" is guarded, as a spreadsheet would read it as a formula).
NEGATIVE_NUMBER = re.compile(rf"{PLAIN_NEGATIVE_NUMBER.pattern}|-inf")
# The label sources whose label nobody gave (labeling.export.services: "duplicate", a twin's label).
COPIED_LABEL_SOURCES = frozenset({"duplicate"})
# The key of a row's values that says its label was left out (the label source it had), beside the fields.
LEFT_OUT_LABEL = "label_left_out"


def is_export_header(names: Iterable[str]) -> bool:
    return SIGNATURE <= set(names)


def is_export_object(obj: dict) -> bool:
    return SIGNATURE <= obj.keys()


def metadata_problem(obj: dict) -> str | None:
    """Why an export JSONL row's metadata cannot be imported as it is: it is not an object (a file
    exported before items migration 0008, when items could hold lists, texts or numbers). Read as an
    ordinary row instead, its provenance would have become metadata and its own metadata a key."""
    metadata = obj.get("metadata")
    if metadata is None or isinstance(metadata, dict):
        return None
    kind = {list: "a list", str: "a text", bool: "true or false"}.get(type(metadata), "a number")
    return (f"the row's metadata is {kind}, not an object: an imported item's metadata is an object of keys and "
            "values, so the row cannot be imported as it was exported; write its metadata as an object (for "
            'example {"value": ...}) or leave the row out')


def leave_out_copied_label(values: dict, label_source) -> None:
    """A row of an export whose label was copied from a twin (``COPIED_LABEL_SOURCES``): without it."""
    if label_source in COPIED_LABEL_SOURCES and (values.get("label") or values.get("coarse_label")):
        values["label"] = values["coarse_label"] = None
        values[LEFT_OUT_LABEL] = label_source


def unguard(cell: str) -> str:
    """A guarded file's cell without the guard: one leading ``'`` less."""
    return cell[1:] if cell.startswith("'") else cell


def csv_is_guarded(path: Path, delimiter: str) -> bool:
    """Whether an export CSV was written with the formula guard on: no cell of it, header and
    rows, starts with a formula character where the guard would have written ``'`` before it, nor
    with a ``'`` the guard would not have written (one before anything but a formula character or
    ``'``). One pass over the file, before the rows are read. A plain negative number does not
    count (nor -inf in a metadata column): the guard never prefixes numbers, so it is there in
    guarded files too."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        rows = csv.reader(handle, delimiter=delimiter)
        header = next(rows, [])
        if any(cell.startswith(FORMULA_STARTS) for cell in header):
            return False
        metadata_columns = {pos for pos, name in enumerate(header) if name.strip().startswith(METADATA_PREFIX)}
        for row in rows:
            if any(_unguarded_formula(cell, pos in metadata_columns) for pos, cell in enumerate(row)):
                return False
    return True


def _unguarded_formula(cell: str, in_metadata: bool) -> bool:
    """A cell the guard would have prefixed, written without it, or a cell starting with ' that the
    guard did not write: its ' is followed by something the guard never puts one before."""
    if cell.startswith("'"):
        return not cell[1:].startswith(GUARDED_STARTS)
    if not cell.startswith(FORMULA_STARTS) or PLAIN_NEGATIVE_NUMBER.fullmatch(cell):
        return False
    return not (in_metadata and NEGATIVE_NUMBER.fullmatch(cell))


def csv_column(name: str) -> tuple[str, str] | None:
    """How an export CSV's column imports: ("field", name) for a known field or ("metadata", key)
    for a ``meta.<key>`` column; None for a provenance column, which is left out."""
    if name in PROVENANCE:
        return None
    if name.startswith(METADATA_PREFIX):  # "meta." alone: an empty key, refused with the row (values.metadata_key_problem)
        return "metadata", name[len(METADATA_PREFIX):]
    return "field", name


def split_object(obj: dict) -> tuple[dict, dict, object]:
    """An export JSONL row as (fields, metadata, label source): the row without its provenance keys
    and its ``metadata`` object, that object, and the row's ``label_source``."""
    fields = {key: value for key, value in obj.items() if key not in PROVENANCE and key != "metadata"}
    return fields, dict(obj.get("metadata") or {}), obj.get("label_source")
