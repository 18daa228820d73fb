"""Streaming readers for import files (CSV and JSONL). Plain Python, no Django.

A file is read as bytes, one physical line at a time, so a line that is not UTF-8 is reported with
its byte offset and the reader carries on. Nothing holds more than one record in memory. Each record
comes out as a ``Record``: the row's fields (or None) and the problems found while parsing it.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

KNOWN_FIELDS = ("text", "source", "external_id", "label", "coarse_label")
# The text limit is checked by the importer; the CSV parser's own limit must not fire first.
csv.field_size_limit(64 * 1024 * 1024)


@dataclass
class RowError:
    """One problem: where (line, field) and why. line None: the whole file."""

    line: int | None
    field: str | None
    message: str

    def as_dict(self, filename: str) -> dict:
        return {"file": filename, "line": self.line, "field": self.field, "message": self.message}

    def format(self, filename: str) -> str:
        where = filename if self.line is None else f"{filename}, line {self.line}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class FileError(Exception):
    """A problem that stops the whole file (no header, no text column, too big)."""

    def __init__(self, error: RowError):
        super().__init__(error.message)
        self.error = error


@dataclass
class Record:
    """One row: its first physical line, its values (None when it could not be parsed), the
    parse errors, and its raw text (for the rejects file)."""

    line: int
    values: dict | None
    raw: str
    errors: list[RowError] = field(default_factory=list)


def detect_format(path: Path, name: str | None = None) -> str:
    """'csv', 'tsv' or 'jsonl', from the name's extension, else from the first non-blank byte."""
    suffix = Path(name or path.name).suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix == ".tsv":
        return "tsv"
    if suffix in {".csv", ".txt"}:
        return "csv"
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if head.startswith(b"{") else "csv"


class LineSource:
    """Physical lines of a file, decoded; undecodable lines are reported (with the byte offset of
    the first bad byte) and replaced so that parsing can continue."""

    def __init__(self, path: Path):
        self.path = path
        self.line_no = 0
        self.bytes_read = 0
        self.pending_errors: list[RowError] = []
        self.raw_lines: list[str] = []

    def __iter__(self) -> Iterator[str]:
        with open(self.path, "rb") as fh:
            for raw in fh:
                offset = self.bytes_read
                self.bytes_read += len(raw)
                self.line_no += 1
                if self.line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                    offset += 3
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad = raw[exc.start : exc.start + 1].hex()
                    self.pending_errors.append(RowError(
                        self.line_no, None,
                        f"bytes that are not UTF-8 at byte offset {offset + exc.start} (0x{bad}); "
                        "save the file as UTF-8",
                    ))
                    text = raw.decode("utf-8", errors="replace")
                self.raw_lines.append(text)
                yield text

    def take_raw(self) -> str:
        raw, self.raw_lines = "".join(self.raw_lines), []
        return raw

    def take_errors(self) -> list[RowError]:
        errors, self.pending_errors = self.pending_errors, []
        return errors


def _clean_optional(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class CsvReader:
    """Rows of a CSV file with a header line. Column names are matched case-insensitively;
    columns other than the known ones go to metadata (empty cells left out)."""

    def __init__(self, path: Path, delimiter: str = ","):
        self.lines = LineSource(path)
        self.delimiter = delimiter
        self.columns: list[str] = []

    @property
    def bytes_read(self) -> int:
        return self.lines.bytes_read

    def records(self) -> Iterator[Record]:
        reader = csv.reader(iter(self.lines), delimiter=self.delimiter, strict=True)
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
                errors.append(RowError(start, None, f"malformed CSV: {exc}"))
                yield Record(start, None, self.lines.take_raw(), errors)
                continue
            errors = self.lines.take_errors()
            raw = self.lines.take_raw()
            if not row or (len(row) == 1 and not row[0].strip() and width > 1):
                if errors:
                    yield Record(start, None, raw, errors)
                continue  # a blank line
            if len(row) != width:
                errors.append(RowError(start, None, f"malformed CSV: the row has {len(row)} fields, the header has {width}"))
                yield Record(start, None, raw, errors)
                continue
            values: dict = {"metadata": {}}
            for name, cell in zip(header, row, strict=True):
                if name in KNOWN_FIELDS:
                    values[name] = cell if name == "text" else _clean_optional(cell)
                elif cell != "":
                    values["metadata"][name] = cell
            yield Record(start, values, raw, errors)

    def _header(self, reader) -> list[str]:
        try:
            header = next(reader)
        except StopIteration:
            raise FileError(RowError(None, None, "the file is empty: expected a header line with a 'text' column")) from None
        except csv.Error as exc:
            raise FileError(RowError(1, None, f"malformed CSV header: {exc}")) from None
        errors = self.lines.take_errors()
        if errors:
            raise FileError(errors[0])
        self.lines.take_raw()
        names = [h.strip() for h in header]
        header = [n.lower() if n.lower() in KNOWN_FIELDS else n for n in names]
        seen = set()
        for name in header:
            if name in seen:
                raise FileError(RowError(1, name, f"the column '{name}' appears twice in the header"))
            seen.add(name)
        if "text" not in header:
            raise FileError(RowError(
                1, "text", f"missing required column 'text' (the header has: {', '.join(names) or 'nothing'})"
            ))
        self.columns = header
        return header


class JsonlReader:
    """One JSON object per line; blank lines are skipped. Keys other than the known ones go to
    metadata as they are."""

    def __init__(self, path: Path):
        self.lines = LineSource(path)

    @property
    def bytes_read(self) -> int:
        return self.lines.bytes_read

    def records(self) -> Iterator[Record]:
        for text in self.lines:
            line = self.lines.line_no
            errors = self.lines.take_errors()
            raw = self.lines.take_raw()
            if not text.strip():
                if errors:
                    yield Record(line, None, raw, errors)
                continue
            if errors:  # undecodable bytes: the JSON cannot be trusted
                yield Record(line, None, raw, errors)
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Record(line, None, raw, [RowError(line, None, f"malformed JSON: {exc.msg} at column {exc.colno}")])
                continue
            if not isinstance(obj, dict):
                yield Record(line, None, raw, [RowError(line, None, f"expected a JSON object, got {type(obj).__name__}")])
                continue
            values: dict = {"metadata": {}}
            problems = []
            for key, value in obj.items():
                if key in KNOWN_FIELDS:
                    if key == "text":
                        values[key] = value
                    elif value is None or isinstance(value, str) or (key == "external_id" and isinstance(value, int)
                                                                     and not isinstance(value, bool)):
                        values[key] = _clean_optional(str(value) if isinstance(value, int) else value)
                    else:
                        problems.append(RowError(line, key, f"must be a string, got {type(value).__name__}"))
                else:
                    values["metadata"][key] = value
            if "text" not in obj:
                problems.append(RowError(line, "text", "missing required field 'text'"))
            yield Record(line, None if problems else values, raw, problems)


def open_reader(path: Path, fmt: str):
    if fmt == "jsonl":
        return JsonlReader(path)
    return CsvReader(path, delimiter="\t" if fmt == "tsv" else ",")
