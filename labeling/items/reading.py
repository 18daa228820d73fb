"""What the import readers share (labeling.items.readers, labeling.items.csv_reading): the row and
file errors, the record, a file's physical lines decoded one at a time, and the known fields. Plain
Python, no Django."""
from __future__ import annotations

import csv
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from labeling.projects.label_names import composed_name

from .invisible import without_invisible
from .values import storable

KNOWN_FIELDS, NAME_FIELDS = ("text", "source", "external_id", "label", "coarse_label"), ("source", "label", "coarse_label")
# The text and metadata limits are checked by the importer, naming the field; the CSV parser's own limit
# must never fire first (at 64 MiB a longer text got "malformed CSV" with no field). No limit here: a file
# is at most LONGTAIL_MAX_UPLOAD_BYTES (checked before it is read), bounding a cell as a JSON Lines line.
csv.field_size_limit(sys.maxsize)
_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
)
_UTF8_BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 4096
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


def _as_windows_1252(raw: bytes, at: int) -> str | None:
    """The words around byte ``at`` of a line that is not UTF-8, read as Windows-1252, when the whole
    line reads as text so (no byte Windows-1252 leaves undefined, no control byte but a tab or a line
    end); else None."""
    try:
        text = raw.decode("cp1252")  # one byte, one character: ``at`` is the character's place too
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(c) == "Cc" and c not in "\t\r\n" for c in text):
        return None
    start, end = max(0, at - 20), at + 20
    while start > 0 and not text[start - 1].isspace() and at - start < 40:
        start -= 1
    while end < len(text) and not text[end].isspace() and end - at < 40:
        end += 1
    return text[start:end].strip()


def _holds_utf8(raw: bytes) -> bool:
    """The line holds a well-formed UTF-8 character beyond ASCII beside its bad bytes."""
    return any(c != "\ufffd" and not c.isascii() for c in raw.decode("utf-8", errors="replace"))


class LineSource:
    """Physical lines of a file, decoded; undecodable lines are reported (with the byte offset of
    the first bad byte) and replaced so that parsing can continue."""

    def __init__(self, path: Path):
        self.path = path
        self.line_no = 0
        self.bytes_read = 0
        self.pending_errors: list[RowError] = []
        self.raw_lines: list[str] = []
        self.undecodable = False  # a line so far was not UTF-8
        # The first line that was not UTF-8 reads as Windows-1252 (Latin-1): the readers refuse the whole
        # file, as skipping its rows one by one would import only the rows without accented letters.
        self.legacy_encoding = False
        # A line so far held UTF-8 beyond ASCII: a later bad line is a damaged UTF-8 line (a character cut
        # in half by a tool's byte limit), not a file in another encoding, and refuses only its row.
        self.utf8_beyond_ascii = False

    def __iter__(self) -> Iterator[str]:
        with open(self.path, "rb") as fh:
            problem = check_text_encoding(fh.read(SNIFF_BYTES))
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
            self.utf8_beyond_ascii = self.utf8_beyond_ascii or not raw.isascii()
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex()
            message = f"bytes that are not UTF-8 at byte offset {offset + exc.start} (0x{bad}); save the file as UTF-8"
            legacy = None if self.undecodable or self.utf8_beyond_ascii or _holds_utf8(raw) else (
                _as_windows_1252(raw, exc.start))
            self.undecodable = True
            if legacy is not None:
                self.legacy_encoding = True
                message = (f"bytes that are not UTF-8 at byte offset {offset + exc.start} (0x{bad}): the file looks like "
                           f"Windows-1252 or Latin-1 (read so, the line has '{legacy}'), as Excel's \"CSV (Comma "
                           "delimited)\" writes outside the US. The whole file is refused, even when invalid rows are "
                           "skipped: only the rows without accented letters would be imported. Save the file as UTF-8 "
                           "(in Excel: CSV UTF-8) and import it again")
            self.pending_errors.append(RowError(self.line_no, None, message))
            text = raw.decode("utf-8", errors="replace")
        self.raw_lines.append(text)
        return text

    def take_raw(self) -> str:
        raw, self.raw_lines = "".join(self.raw_lines), []
        return raw

    def take_errors(self) -> list[RowError]:
        errors, self.pending_errors = self.pending_errors, []
        return errors


def clean_optional(value, key: str = ""):
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        # Names composed (NFC), as stored: "O" + U+0308 from macOS text is the label "Ödeme".
        return (composed_name(value) if key in NAME_FIELDS else value) or None
    return value


def column_name(cell: str) -> str:
    """A header cell as the column's name: a known field's name is matched case-insensitively and
    ignoring invisible characters (a zero-width space pasted with it); any other name is kept."""
    name = cell.strip()
    known = without_invisible(name).strip().lower()
    return known if known in KNOWN_FIELDS else name


