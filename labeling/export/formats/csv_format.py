"""CSV with a header row; a cell a spreadsheet would run as a formula is neutralised."""
import csv
from collections.abc import Iterable, Iterator

from labeling.export.formats.base import ExportFormat

COLUMNS = ["item_id", "external_id", "text", "label", "coarse_label", "label_source", "annotators",
           "agreement", "wave", "strategy", "inclusion_prob", "dup_group", "source", "split"]
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell):
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


class _Line:
    """csv.writer target that hands back each written line instead of buffering them."""

    def write(self, value):
        return value


def write(rows: Iterable[dict]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for row in rows:
        cells = {**row, "annotators": ";".join(row["annotators"])}
        yield writer.writerow([neutralise(cells[c]) if cells[c] is not None else "" for c in COLUMNS])


FORMAT = ExportFormat("csv", "text/csv; charset=utf-8", write, header_lines=1)
