"""Streaming readers for import files (CSV, TSV and JSONL). Plain Python, no Django.

A file is read as bytes, one physical line at a time (lines end in LF, CRLF or a bare CR), so a line
that is not UTF-8 is reported with its byte offset and the reader carries on. Nothing holds more than
one record in memory. Each record comes out as a ``Record``: the row's fields (or None) and the
problems found while parsing it.

Values that PostgreSQL cannot store (NUL characters, lone UTF-16 surrogates, NaN / Infinity) and JSON
nested beyond ``MAX_JSON_DEPTH`` are row errors here, naming the field, so that nothing fails later
at write time (the checks: labeling.items.values). A file that is not UTF-8 text at all (UTF-16/32,
binary) stops at its first line. A TSV file is read plain or quoted, whichever way it was written
(labeling.items.tsv).
"""
from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from labeling.projects.label_names import composed_name, written_out

from . import export_files
from .invisible import without_invisible
from .tsv import MixedQuoting, tsv_quoting
from .values import MAX_JSON_DEPTH, DuplicateKey, key_of_trouble, storable, string_problem, unique_pairs, value_problem

__all__ = ["MAX_JSON_DEPTH", "FileError", "Record", "RowError", "detect_format", "open_reader"]
KNOWN_FIELDS, NAME_FIELDS = ("text", "source", "external_id", "label", "coarse_label"), ("source", "label", "coarse_label")
# The text and metadata limits are checked by the importer, naming the field; the CSV parser's own limit
# must never fire first (at 64 MiB a longer text got "malformed CSV" with no field). No limit here: a file
# is at most LONGTAIL_MAX_UPLOAD_BYTES (checked before it is read), bounding a cell as a JSON Lines line.
csv.field_size_limit(sys.maxsize)
_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
)
_UTF8_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 4096
# Control bytes that text files do not hold (tab, LF, FF and CR do); many of them mean a binary file.
_BINARY_BYTES = [b for b in range(32) if b not in (9, 10, 12, 13)] + [127]


@dataclass
class RowError:
    """One problem: where (line, field) and why. line None: the whole file."""

    line: int | None
    field: str | None
    message: str

    def as_dict(self, filename: str) -> dict:
        return {"file": storable(filename), "line": self.line, "field": storable(self.field, 200),
                "message": storable(self.message)}

    def format(self, filename: str) -> str:
        where = filename if self.line is None else f"{filename}, line {self.line}"
        if self.field:
            where += f", field '{storable(self.field, 200)}'"
        return f"{where}: {storable(self.message)}"


class FileError(Exception):
    """A problem that stops the whole file (no header, no text column, too big, not UTF-8 text)."""

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
        head = fh.read(_SNIFF_BYTES).lstrip(b"\xef\xbb\xbf \t\r\n")
    # A JSON array goes to the JSONL reader, which says what to do with it.
    return "jsonl" if head.startswith((b"{", b"[")) else "csv"


def check_text_encoding(head: bytes) -> RowError | None:
    """Why the start of a file shows it is not UTF-8 text (UTF-16/32 with or without a byte order
    mark, or binary), or None. Such a file would otherwise be read as one garbled line after another."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return RowError(1, None, f"the file is {encoding} (it starts with a {encoding} byte order mark); "
                                     "save it as UTF-8 (in Excel: CSV UTF-8)")
    nul = head.find(b"\x00")
    if nul < 0:
        return None
    even, odd = head[0::2], head[1::2]
    if even.count(0) > len(even) // 3 or odd.count(0) > len(odd) // 3:
        return RowError(1, None, "the file looks like UTF-16 or UTF-32 without a byte order mark (every other "
                                 "byte is 0x00); save it as UTF-8 (in Excel: CSV UTF-8)")
    controls = sum(head.count(bytes([b])) for b in _BINARY_BYTES)
    if controls > max(8, len(head) // 20):
        return RowError(1, None, f"the file is not text: it has a NUL byte (0x00) at byte offset {nul} and many other "
                                 "control bytes; save it as UTF-8 text (CSV or JSON Lines)")
    return None  # text with a stray NUL: the rows that hold one are refused, naming the field


def _split_lines(raw: bytes) -> list[bytes]:
    """A line read up to LF may hold bare-CR line breaks (old Mac, some spreadsheet exports). Its own
    line end (LF, CRLF or, at the end of the file, a bare CR) is set aside before looking for one: the
    last line of a file has none, so a CR two bytes from its end ("…\\rz") is a line break, not a CRLF's."""
    body = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith((b"\n", b"\r")) else raw
    if b"\r" not in body:
        return [raw]
    return raw.splitlines(keepends=True)


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
            problem = check_text_encoding(fh.read(_SNIFF_BYTES))
            if problem is not None:
                raise FileError(problem)
            fh.seek(0)
            for chunk in fh:
                for raw in _split_lines(chunk):
                    yield self._decode(raw)

    def _decode(self, raw: bytes) -> str:
        offset = self.bytes_read
        self.bytes_read += len(raw)
        self.line_no += 1
        while self.line_no == 1 and raw.startswith(_UTF8_BOM):  # a file re-saved by an editor: one BOM per save
            raw = raw[3:]
            offset += 3
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex()
            self.pending_errors.append(RowError(
                self.line_no, None,
                f"bytes that are not UTF-8 at byte offset {offset + exc.start} (0x{bad}); save the file as UTF-8",
            ))
            text = raw.decode("utf-8", errors="replace")
        self.raw_lines.append(text)
        return text

    def take_raw(self) -> str:
        raw, self.raw_lines = "".join(self.raw_lines), []
        return raw

    def take_errors(self) -> list[RowError]:
        errors, self.pending_errors = self.pending_errors, []
        return errors


def _clean_optional(value, key: str = ""):
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        # Names composed (NFC), as stored: "O" + U+0308 from macOS text is the label "Ödeme".
        return (composed_name(value) if key in NAME_FIELDS else value) or None
    return value


def _column_name(cell: str) -> str:
    """A header cell as the column's name: a known field's name is matched case-insensitively and
    ignoring invisible characters (a zero-width space pasted with it); any other name is kept."""
    name = cell.strip()
    known = without_invisible(name).strip().lower()
    return known if known in KNOWN_FIELDS else name


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
            if errors:  # undecodable bytes: name the first column they landed in
                errors[0].field = next((name for name, cell in zip(header, row, strict=True) if "\ufffd" in cell), None)
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
                    values[name] = cell if name == "text" else _clean_optional(cell, name)
                elif cell != "":
                    values["metadata"][name] = cell
            if self.export_file:  # a label the export copied from a twin is left out
                export_files.leave_out_copied_label(values, dict(zip(header, row, strict=True)).get("label_source"))
            yield Record(start, None if errors else values, raw, errors)

    def _header(self, reader) -> list[str]:
        try:
            header = next(reader)
        except StopIteration:
            raise FileError(RowError(1, None, "the file is empty: expected a header line with a 'text' column")) from None
        except csv.Error as exc:
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
        header = [_column_name(n) if n else f"column_{place}" for place, n in enumerate(names, 1)]
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
            raise FileError(RowError(1, "text", f"missing required column 'text' (the header has: {shown})"))
        self.columns, self.export_file = header, export_file
        self.guarded = export_file and export_files.csv_is_guarded(self.path, self.delimiter)
        return header


class JsonlReader:
    """One JSON object per line; blank lines are skipped. Keys other than the known ones go to
    metadata as they are, except in a file Longtail's export wrote (``export_files``)."""

    def __init__(self, path: Path):
        self.lines = LineSource(path)

    @property
    def bytes_read(self) -> int:
        return self.lines.bytes_read

    def records(self) -> Iterator[Record]:
        first = True
        for text in self.lines:
            line = self.lines.line_no
            errors = self.lines.take_errors()
            raw = self.lines.take_raw()
            if not text.strip():
                if errors:
                    yield Record(line, None, raw, errors)
                continue
            if errors:  # undecodable bytes: the JSON cannot be trusted; name the field they are in
                first = False
                errors[0].field = key_of_trouble(text, text.find("\ufffd"))
                yield Record(line, None, raw, errors)
                continue
            if first and text.lstrip().startswith("["):
                raise FileError(RowError(line, None, "the file is a JSON array, not JSON Lines: write one object per "
                                                     "line (for example: jq -c '.[]' file.json > file.jsonl)"))
            first = False
            yield self._record(line, text, raw)

    def _record(self, line: int, text: str, raw: str) -> Record:
        try:
            # strict=False: control characters inside strings are kept (NUL is refused below, by field).
            obj = json.loads(text, strict=False, object_pairs_hook=unique_pairs)
        except DuplicateKey as exc:
            return Record(line, None, raw, [RowError(line, exc.key, f"the key '{exc.key}' appears twice in one object")])
        except json.JSONDecodeError as exc:
            where = key_of_trouble(text, exc.pos)
            return Record(line, None, raw, [RowError(line, where, f"malformed JSON: {exc.msg} at column {exc.colno}")])
        except RecursionError:
            return Record(line, None, raw, [RowError(line, key_of_trouble(text),
                                                     f"nested more than {MAX_JSON_DEPTH} levels deep")])
        except ValueError as exc:  # an integer with more digits than Python converts
            return Record(line, None, raw, [RowError(line, key_of_trouble(text), f"malformed JSON: {exc}")])
        if not isinstance(obj, dict):
            return Record(line, None, raw, [RowError(line, None, f"expected a JSON object, got {type(obj).__name__}")])
        exported_metadata, label_source = {}, None
        if export_files.is_export_object(obj):  # a row of Longtail's own export
            if problem := export_files.metadata_problem(obj):
                return Record(line, None, raw, [RowError(line, "metadata", problem)])
            obj, exported_metadata, label_source = export_files.split_object(obj)
        values: dict = {"metadata": {}}
        problems = []
        for key, value in exported_metadata.items():
            problem = value_problem(value, depth=2) or string_problem(key)
            if problem:
                problems.append(RowError(line, f"metadata.{key}", problem))
            values["metadata"][key] = value
        for key, value in obj.items():
            problem = value_problem(value, depth=2)
            if problem:
                problems.append(RowError(line, key, problem))
            elif key in KNOWN_FIELDS:
                if key == "text":
                    values[key] = value
                elif value is None or isinstance(value, str) or (key == "external_id" and isinstance(value, int)
                                                                 and not isinstance(value, bool)):
                    values[key] = _clean_optional(str(value) if isinstance(value, int) else value, key)
                else:
                    problems.append(RowError(line, key, f"must be a string, got {type(value).__name__}"))
            else:
                key_problem = string_problem(key)
                if key_problem:
                    problems.append(RowError(line, None, f"a key {key_problem}"))
                values["metadata"][key] = value
        if "text" not in obj:
            problems.append(RowError(line, "text", "missing required field 'text'"))
        export_files.leave_out_copied_label(values, label_source)
        return Record(line, None if problems else values, raw, problems)


def open_reader(path: Path, fmt: str):
    if fmt == "jsonl":
        return JsonlReader(path)
    return CsvReader(path, delimiter="\t", quoting=None) if fmt == "tsv" else CsvReader(path)
