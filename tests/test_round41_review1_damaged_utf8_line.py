"""A UTF-8 file (its accented rows read fine) with one damaged line, a multi-byte character cut in
two (a tool that truncated a text at a byte limit), was imported with --skip-invalid before
today's change: every good row in, the damaged row rejected with its byte offset. Now the damaged
line happens to read as Windows-1252 ("cafÃ"), so the whole file is refused, the message says the
file looks like Windows-1252 and tells the user to save it as UTF-8, which it already is. The
earlier lines had already proved the file UTF-8 (they hold multi-byte characters that decoded)."""
import pytest

from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


def test_one_damaged_line_in_a_utf8_file_is_one_rejected_row(project_factory, tmp_path):
    project = project_factory("damaged", labels=("billing",), sources=("email",))
    rows = [b"text,label"] + ["r\u00e9sum\u00e9 n\u00b0 %d caf\u00e9,billing".encode() % i for i in range(1, 40)]
    rows.insert(20, b"order cut at caf\xc3,billing")  # "caf\u00e9" cut after the first byte of \u00e9
    path = tmp_path / "tickets.csv"
    path.write_bytes(b"\n".join(rows) + b"\n")
    result = import_path(project, path, skip_invalid=True)
    messages = [e.format("tickets.csv") for e in result.errors]
    assert result.rows_imported == 39, (result.rows_imported, messages)
    assert not any("Windows-1252" in m for m in messages), messages


def test_one_damaged_line_in_a_utf8_jsonl_is_one_rejected_row(project_factory, tmp_path):
    project = project_factory("damagedj", labels=("billing",), sources=("email",))
    good = '{"text": "r\u00e9sum\u00e9 %d caf\u00e9", "label": "billing"}'
    lines = [(good % i).encode() for i in range(1, 30)]
    lines.insert(10, b'{"text": "order cut at caf\xc3", "label": "billing"}')
    path = tmp_path / "tickets.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = import_path(project, path, skip_invalid=True)
    messages = [e.format("tickets.jsonl") for e in result.errors]
    assert result.rows_imported == 29, (result.rows_imported, messages)
