"""Streaming readers for import files (CSV, TSV and JSONL). Plain Python, no Django.

A file is read as bytes, one physical line at a time (lines end in LF, CRLF or a bare CR), so a line
that is not UTF-8 is reported with its byte offset and the reader carries on. Nothing holds more than
one record in memory. Each record comes out as a ``Record``: the row's fields (or None) and the
problems found while parsing it.

Values that PostgreSQL cannot store (NUL characters, lone UTF-16 surrogates, NaN / Infinity) and JSON
nested beyond ``MAX_JSON_DEPTH`` are row errors here, naming the field, so that nothing fails later
at write time (the checks: labeling.items.values). A file that is not UTF-8 text at all (UTF-16/32,
binary) stops at its first line, and so does one whose first line that is not UTF-8 reads as
Windows-1252 (labeling.items.reading). A TSV file is read plain or quoted, whichever way it was
written (labeling.items.tsv). The JSON Lines reader is here; the CSV and TSV one is
labeling.items.csv_reading.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from labeling.projects.label_names import written_out

from . import export_files
from .csv_reading import CsvReader
from .reading import (
    KNOWN_FIELDS,
    SNIFF_BYTES,
    FileError,
    LineSource,
    Record,
    RowError,
    check_text_encoding,
    clean_optional,
    column_name,
)
from .values import MAX_JSON_DEPTH, DuplicateKey, key_of_trouble, string_problem, unique_pairs, value_problem

__all__ = ["MAX_JSON_DEPTH", "CsvReader", "FileError", "JsonlReader", "Record", "RowError", "check_text_encoding",
           "detect_format", "open_reader"]


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
        head = fh.read(SNIFF_BYTES).lstrip(b"\xef\xbb\xbf \t\r\n")
    # A JSON array goes to the JSONL reader, which says what to do with it.
    return "jsonl" if head.startswith((b"{", b"[")) else "csv"


class JsonlReader:
    """One JSON object per line; blank lines are skipped. Keys naming a known field are matched as a CSV
    header is (case, spaces and invisible characters ignored); other keys go to metadata as they are, except in a file Longtail's export wrote (``export_files``)."""

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
                if self.lines.legacy_encoding:  # Windows-1252: the whole file (reading.LineSource)
                    raise FileError(errors[0])
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
        fields = _known_fields(obj)  # key -> the known field it names, as a CSV header cell would
        named: dict[str, str] = {}  # known field -> the first key that named it
        for key, name in fields.items():
            if name in named:
                problems.append(RowError(line, name, (
                    f"the keys '{written_out(named[name])}' and '{written_out(key)}' both name the field '{name}' "
                    "(known field names are read ignoring case, spaces and invisible characters): keep one of them")))
            named.setdefault(name, key)
        for key, value in exported_metadata.items():
            problem = value_problem(value, depth=2) or string_problem(key)
            if problem:
                problems.append(RowError(line, f"metadata.{key}", problem))
            values["metadata"][key] = value
        for written, value in obj.items():
            key = fields.get(written, written)
            problem = value_problem(value, depth=2)
            if problem:
                problems.append(RowError(line, key, problem))
            elif key in KNOWN_FIELDS:
                if key == "text":
                    values[key] = value
                elif value is None or isinstance(value, str) or (key == "external_id" and isinstance(value, int)
                                                                 and not isinstance(value, bool)):
                    values[key] = clean_optional(str(value) if isinstance(value, int) else value, key)
                else:
                    problems.append(RowError(line, key, f"must be a string, got {type(value).__name__}"))
            else:
                key_problem = string_problem(key)
                if key_problem:
                    problems.append(RowError(line, None, f"a key {key_problem}"))
                values["metadata"][key] = value
        if "text" not in named:
            problems.append(RowError(line, "text", "missing required field 'text'"))
        export_files.leave_out_copied_label(values, label_source)
        return Record(line, None if problems else values, raw, problems)


def _known_fields(obj: dict) -> dict[str, str]:
    """The object's keys that name a known field, each with that field: matched as a CSV header cell
    is (``column_name``: ignoring case, surrounding spaces and invisible characters), so that
    pandas' "Label" or a sheet's "External_ID" is the field and not metadata."""
    return {key: name for key in obj if (name := column_name(key)) in KNOWN_FIELDS}


def open_reader(path: Path, fmt: str):
    if fmt == "jsonl":
        return JsonlReader(path)
    return CsvReader(path, delimiter="\t", quoting=None) if fmt == "tsv" else CsvReader(path)
