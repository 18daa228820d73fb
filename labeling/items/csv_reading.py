"""The CSV and TSV reader (labeling.items.readers opens it). Plain Python, no Django.

Rows whose cells are all empty or whitespace (",,,", as Excel writes the empty rows of a sheet's used
range) are skipped as blank lines are. A header that holds no 'text' column but does once split on
semicolons or tabs is refused naming that separator and the fix. A quoted cell that is never closed
swallows the rest of the file, so it refuses the whole file, naming the lines it took, even when
invalid rows are skipped: no row after a stray quote can be trusted."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from labeling.projects.label_names import written_out

from . import export_files
from .invisible import without_invisible
from .reading import KNOWN_FIELDS, FileError, LineSource, Record, RowError, clean_optional, column_name
from .tsv import MixedQuoting, tsv_quoting
from .values import string_problem


class CsvReader:
    """Rows of a CSV file (or a TSV file: ``quoting`` None, decided by ``tsv.tsv_quoting``) with a header line.
    Known column names are matched ignoring case and invisible characters; columns other than the
    known ones go to metadata (empty cells left out), except in a file Longtail's export wrote
    (``export_files``)."""

    def __init__(self, path: Path, delimiter: str = ",", quoting: int | None = csv.QUOTE_MINIMAL):
        self.lines = LineSource(path)
        self.path = path
        self.delimiter = delimiter
        self.quoting = quoting
        self.columns: list[str] = []
        self.export_file = False  # the header is Longtail's label export's (labeling.items.export_files)
        self.guarded = False  # ... and it was written with the formula guard on

    @property
    def bytes_read(self) -> int:
        return self.lines.bytes_read

    def records(self) -> Iterator[Record]:
        if self.quoting is None:  # a TSV: which way it was written is read off the file first
            try:
                self.quoting = tsv_quoting(LineSource(self.path))
            except MixedQuoting as exc:
                raise FileError(RowError(None, None, str(exc))) from None
        reader = csv.reader(iter(self.lines), delimiter=self.delimiter, quoting=self.quoting, strict=True)
        header = self._header(reader)
        width = len(header)
        while True:
            start = self.lines.line_no + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                errors = self.lines.take_errors()
                self._refuse_legacy(errors)
                opened = _unclosed_quote(self.lines.raw_lines, start, self.delimiter)
                if opened is not None and self.quoting != csv.QUOTE_NONE and "unexpected end of data" in str(exc):
                    raise FileError(RowError(opened, None, _unclosed_message(opened, self.lines.line_no))) from None
                errors.append(RowError(start, None, f"malformed CSV: {exc}"))
                yield Record(start, None, self.lines.take_raw(), errors)
                continue
            errors = self.lines.take_errors()
            raw = self.lines.take_raw()
            if not row or (all(not cell.strip() for cell in row) and max(width, len(row)) > 1):
                # A blank line, or a row of only empty cells (",,,": Excel writes the empty rows of a
                # sheet's used range so). A lone empty cell of a one-column file is an empty text.
                if errors:
                    self._refuse_legacy(errors)
                    yield Record(start, None, raw, errors)
                continue
            if len(row) != width:
                self._refuse_legacy(errors)
                errors.append(RowError(start, None, f"malformed CSV: the row has {len(row)} fields, the header has {width}"))
                yield Record(start, None, raw, errors)
                continue
            if errors:  # undecodable bytes: name the first column they landed in
                errors[0].field = next((name for name, cell in zip(header, row, strict=True) if "\ufffd" in cell), None)
                self._refuse_legacy(errors)
            values: dict = {"metadata": {}}
            for name, cell in zip(header, row, strict=True):
                if "\x00" in cell:
                    errors.append(RowError(start, name, string_problem(cell)))
                if self.export_file:  # Longtail's own export: provenance left out, meta.<key> unpacked
                    cell = export_files.unguard(cell) if self.guarded else cell
                    column = export_files.csv_column(name)
                    if column is None:
                        continue
                    if column[0] == "metadata":
                        if cell != "":
                            values["metadata"][column[1]] = cell
                        continue
                if name in KNOWN_FIELDS:
                    values[name] = cell if name == "text" else clean_optional(cell, name)
                elif cell != "":
                    values["metadata"][name] = cell
            if self.export_file:  # a label the export copied from a twin is left out
                export_files.leave_out_copied_label(values, dict(zip(header, row, strict=True)).get("label_source"))
            yield Record(start, None if errors else values, raw, errors)

    def _refuse_legacy(self, errors: list[RowError]) -> None:
        """A file whose first line that is not UTF-8 reads as Windows-1252 is refused whole (reading.LineSource)."""
        if errors and self.lines.legacy_encoding:
            raise FileError(errors[0])

    def _header(self, reader) -> list[str]:
        try:
            header = next(reader)
        except StopIteration:
            raise FileError(RowError(1, None, "the file is empty: expected a header line with a 'text' column")) from None
        except csv.Error as exc:
            if "unexpected end of data" in str(exc) and _unclosed_quote(self.lines.raw_lines, 1, self.delimiter):
                raise FileError(RowError(1, None, _unclosed_message(1, self.lines.line_no))) from None
            raise FileError(RowError(1, None, f"malformed CSV header: {exc}")) from None
        errors = self.lines.take_errors()
        if errors:
            raise FileError(errors[0])
        self.lines.take_raw()
        cells, names = list(header), [h.strip() for h in header]
        for problem in filter(None, map(string_problem, names)):  # the first one found
            raise FileError(RowError(1, None, f"the header {problem}"))
        # Names in messages are written out (\uXXXX): printed raw, a name with a zero-width space
        # would read like the name it fails to match. A column without a name (pandas writes its
        # index so) is kept as metadata under its place: as an empty key it would refuse every row.
        header = [column_name(n) if n else f"column_{place}" for place, n in enumerate(names, 1)]
        # Names are compared ignoring invisible characters: a known column pasted with a zero-width
        # space is that column ("text" and "\u200btext" would be two text columns), and two other
        # names that print alike would be two keys that read as one. Not an export's meta.<key>
        # columns (``exact``): the export wrote each stored key k as meta.k, and keys the project
        # holds apart ("region", "region\u200b", a JSONL key "region ") come back as written.
        export_file = export_files.is_export_header(header)
        exact = {at for at, cell in enumerate(cells) if export_file and cell.startswith(export_files.METADATA_PREFIX)}
        header = [cells[at] if at in exact else name for at, name in enumerate(header)]
        seen: dict[str, str] = {}  # the name as compared -> the header cell
        for at, (cell, name) in enumerate(zip(names, header, strict=True)):
            key = name if at in exact else without_invisible(name)
            if key in seen:
                twice = f"the column '{written_out(name)}' appears twice in the header"
                if not cell or not seen[key]:  # an unnamed column is kept under its place: column_<n>
                    twice += f" (an unnamed column is kept as '{written_out(name)}', its place in the header)"
                elif seen[key] != cell:
                    twice += f" (written '{written_out(seen[key])}' and '{written_out(cell)}')"
                raise FileError(RowError(1, written_out(name), twice))
            seen[key] = cell
        if "text" not in header:
            shown = ", ".join(map(written_out, names)) or "nothing"
            raise FileError(RowError(1, "text", _other_separator(names, self.delimiter, shown)
                                     or f"missing required column 'text' (the header has: {shown})"))
        self.columns, self.export_file = header, export_file
        self.guarded = export_file and export_files.csv_is_guarded(self.path, self.delimiter)
        return header



_SEPARATORS = {";": "semicolons (';')", "\t": "tabs"}


def _other_separator(names: list[str], delimiter: str, shown: str) -> str | None:
    """Why a header without a 'text' column has one after all, split on another separator: a CSV
    saved with semicolons (Excel in many European locales) or tabs (Excel's "Text (Tab delimited)",
    a .txt file); None when it has not."""
    for separator, said in _SEPARATORS.items():
        if separator == delimiter or not any(separator in name for name in names):
            continue
        if "text" not in {column_name(part) for name in names for part in name.split(separator)}:
            continue
        if separator == "\t":
            fix = ("a file separated by tabs is read as TSV when its name ends in .tsv: rename the file "
                   "(Book1.txt to Book1.tsv), or save it as CSV separated by commas")
        else:
            fix = ("save it as CSV separated by commas (Excel uses the list separator of the system's region "
                   "settings), or as \"Text (Tab delimited)\" and name the file .tsv")
        what = "CSV, which is separated by commas" if delimiter == "," else "TSV, which is separated by tabs"
        return (f"the header is separated by {said}, not read as columns: the file is read as {what} "
                f"(the header has: {shown}); {fix}")
    return None


def _unclosed_message(opened: int, last: int) -> str:
    return (f"malformed CSV: a quoted cell opened on line {opened} is never closed: lines {opened} to {last} were "
            "read as its text. The whole file is refused, even when invalid rows are skipped: after a stray quote "
            'no later row can be trusted. Close the quote, or write a quote inside a cell twice ("") and quote the '
            "whole cell")


def _unclosed_quote(lines: list[str], first: int, delimiter: str) -> int | None:
    """The line (numbered from ``first``, the row's first line) on which a quoted cell opens that
    the row's lines never close, or None. A quote opens a cell only at the cell's start; inside one,
    a doubled quote is a quote and a single one closes it."""
    opened = None  # the line of the open quoted cell, while one is open
    at_start = True  # the row's first line starts a cell
    for number, line in enumerate(lines, start=first):
        at = 0
        while True:
            at = line.find('"', at)
            if at < 0:
                break
            if opened is not None:  # inside a quoted cell
                if line.startswith('""', at):
                    at += 2
                    continue
                opened = None
            elif (line[at - 1] in (delimiter, "\r", "\n")) if at else at_start:
                opened = number
            at += 1
        at_start = opened is None  # a line ends a row (a new cell), unless inside a quoted cell
    return opened
