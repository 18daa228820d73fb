"""CSV with a header row. By default a cell a spreadsheet would run as a formula (it starts with
=, +, -, @, a tab or a carriage return) gets a leading ', and so does one already starting with ' (CSV injection:
labeling.items.csv_injection); the text is otherwise as
stored. Pipelines that read the file as data, not in a spreadsheet, turn that off
(neutralise_formulas=False). Lists and metadata values that are not text are written as JSON; numbers
are written as they are, never prefixed. An item's metadata is always an object (a database
constraint; labeling.items.json_object), so each of its keys has its meta.<key> column."""
import csv
import json
from collections.abc import Iterable, Iterator

from labeling.export.formats.base import ExportFormat
from labeling.items.csv_injection import neutralise

COLUMNS = ["item_id", "external_id", "text", "label", "coarse_label", "label_source", "annotators",
           "agreement", "wave", "strategy", "inclusion_prob", "dup_group", "source", "split",
           "disputed", "votes", "skip_reasons"]
METADATA_PREFIX = "meta."  # metadata key k becomes column meta.k


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


class _Line:
    """csv.writer target that hands back each written line instead of buffering them."""

    def write(self, value):
        return value


def write(rows: Iterable[dict], *, neutralise_formulas: bool = True, metadata_keys=()) -> Iterator[str]:
    writer = csv.writer(_Line())
    keys = list(metadata_keys)
    yield writer.writerow(COLUMNS + [METADATA_PREFIX + key for key in keys])
    guard = neutralise if neutralise_formulas else (lambda cell: cell)
    for row in rows:
        cells = {**row, "annotators": ";".join(row["annotators"])}
        metadata = row.get("metadata") or {}
        values = [_cell(cells[c]) for c in COLUMNS] + [_cell(metadata.get(key)) for key in keys]
        yield writer.writerow([guard(value) for value in values])


FORMAT = ExportFormat("csv", "text/csv; charset=utf-8", write, header_lines=1,
                      options=("neutralise_formulas", "metadata_keys"))
