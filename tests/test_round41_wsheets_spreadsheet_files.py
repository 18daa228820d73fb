"""Files from spreadsheets and other tools (round 41, sheets): JSON Lines keys named as a sheet's
columns, rows of only empty cells, files separated by semicolons or tabs, an unclosed quote, and a
Windows-1252 file imported with "skip invalid". Through the real importer on PostgreSQL."""
import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import ImportBatch, Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(project_factory):
    return project_factory("sheets", labels=("billing", "login"), sources=("email",))


def messages(result, name):
    return [e.format(name) for e in result.errors]


def test_jsonl_keys_are_matched_as_csv_headers_are(project, tmp_path):
    path = tmp_path / "sheet.jsonl"
    path.write_bytes(b'{"Text":"hello","Label ":"billing","SOURCE":"email","External_ID":"X1","Region":"EU"}\n')
    result = import_path(project, path)
    assert result.ok, messages(result, "sheet.jsonl")
    item = Item.objects.get(project=project)
    assert (item.text, item.external_id, item.source.name, item.metadata) == ("hello", "X1", "email", {"Region": "EU"})
    assert Annotation.objects.get(item=item).label.name == "billing"


def test_jsonl_row_with_two_keys_for_one_field_is_refused(project, tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_bytes(b'{"text":"fine"}\n{"text":"hello","label":"billing","Label":"login"}\n')
    result = import_path(project, path, skip_invalid=True)
    assert messages(result, "two.jsonl") == [
        "two.jsonl, line 2, field 'label': the keys 'label' and 'Label' both name the field 'label' (known field "
        "names are read ignoring case, spaces and invisible characters): keep one of them"]
    assert list(Item.objects.filter(project=project).values_list("text", flat=True)) == ["fine"]


def test_rows_of_only_empty_or_blank_cells_are_skipped(project, tmp_path):
    path = tmp_path / "Book1.csv"
    path.write_bytes(b"text,label,note\r\n,,\r\nhello,billing,\r\n , ,\t\r\n\"\",\"\",\"\"\r\n")
    result = import_path(project, path)
    assert result.ok and result.rows_total == 1, messages(result, "Book1.csv")
    assert list(Item.objects.filter(project=project).values_list("text", flat=True)) == ["hello"]


def test_a_row_with_a_label_but_no_text_is_still_refused(project, tmp_path):
    path = tmp_path / "Book1.csv"
    path.write_bytes(b"text,label\r\nhello,billing\r\n,billing\r\n")
    assert messages(import_path(project, path), "Book1.csv") == ["Book1.csv, line 3, field 'text': the text is empty"]


def test_semicolon_header_names_the_separator_and_the_fix(project, tmp_path):
    path = tmp_path / "Tabelle1.csv"
    path.write_bytes("text;label\r\nBonjour, ça va ?;billing\r\n".encode())
    (message,) = messages(import_path(project, path), "Tabelle1.csv")
    assert message.startswith("Tabelle1.csv, line 1, field 'text': the header is separated by semicolons (';'), not "
                              "read as columns: the file is read as CSV, which is separated by commas"), message
    assert "save it as CSV separated by commas" in message and Item.objects.count() == 0


def test_tab_txt_is_refused_naming_tsv_and_reads_once_renamed(project, tmp_path):
    content = b"text\tlabel\r\nhello\tbilling\r\n"
    (tmp_path / "Book1.txt").write_bytes(content)
    (message,) = messages(import_path(project, tmp_path / "Book1.txt"), "Book1.txt")
    assert "separated by tabs" in message and "rename the file (Book1.txt to Book1.tsv)" in message, message
    (tmp_path / "Book1.tsv").write_bytes(content)
    assert import_path(project, tmp_path / "Book1.tsv").ok
    assert Annotation.objects.get(item__project=project).label.name == "billing"


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_an_unclosed_quote_refuses_the_whole_file(project, tmp_path, skip_invalid):
    rows = [b"text,label", b"row one,billing", b'"27 inch monitor arrived broken,billing']
    rows += [b"row %d,billing" % i for i in range(3, 2003)]
    path = tmp_path / "tickets.csv"
    path.write_bytes(b"\r\n".join(rows) + b"\r\n")
    rejects = tmp_path / "rejects.csv"
    result = import_path(project, path, skip_invalid=skip_invalid, rejects_path=rejects)
    (message,) = messages(result, "tickets.csv")
    assert message.startswith("tickets.csv, line 3: malformed CSV: a quoted cell opened on line 3 is never closed: "
                              "lines 3 to 2003 were read as its text. The whole file is refused"), message
    assert not result.ok and Item.objects.count() == 0 and not rejects.exists()
    assert ImportBatch.objects.get(pk=result.batch.pk).state == "failed"


def test_the_unclosed_quote_is_found_after_a_closed_multiline_cell(project, tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'text,label\n"two\nlines",billing\nok,"billing\nlast,login\n')
    (message,) = messages(import_path(project, path, skip_invalid=True), "t.csv")
    assert "a quoted cell opened on line 4 is never closed: lines 4 to 5 were read" in message, message


def test_windows_1252_file_is_refused_whole_with_skip_invalid(project, tmp_path):
    path = tmp_path / "export.csv"  # Excel "CSV (Comma delimited)" in France: Windows-1252
    path.write_bytes("text,label\r\nplain row,billing\r\ncafé crème – très bon,billing\r\n"
                     "another plain one,login\r\n".encode("cp1252"))
    result = import_path(project, path, skip_invalid=True)
    (message,) = messages(result, "export.csv")
    assert message.startswith("export.csv, line 3, field 'text': bytes that are not UTF-8 at byte offset 34 (0xe9): "
                              "the file looks like Windows-1252 or Latin-1 (read so, the line has 'café crème – très"), message
    assert "Save the file as UTF-8 (in Excel: CSV UTF-8)" in message
    assert not result.ok and Item.objects.count() == 0


def test_windows_1252_jsonl_is_refused_whole_with_skip_invalid(project, tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"text": "plain"}\n' + '{"text": "naïve"}\n'.encode("cp1252") + b'{"text": "more"}\n')
    (message,) = messages(import_path(project, path, skip_invalid=True), "rows.jsonl")
    assert "rows.jsonl, line 2, field 'text': bytes that are not UTF-8" in message and "Windows-1252" in message
    assert Item.objects.count() == 0


def test_bytes_that_are_not_windows_1252_either_are_still_refused_by_row(project, tmp_path):
    path = tmp_path / "mixed.csv"  # 0x81 is not a Windows-1252 character: not a legacy file, a damaged line
    path.write_bytes(b"text,label\nfine,billing\nbad \x81 byte,billing\n")
    result = import_path(project, path, skip_invalid=True)
    assert messages(result, "mixed.csv") == [
        "mixed.csv, line 3, field 'text': bytes that are not UTF-8 at byte offset 28 (0x81); save the file as UTF-8"]
    assert result.ok and list(Item.objects.values_list("text", flat=True)) == ["fine"]


def test_an_unclosed_quote_in_the_header_names_its_lines(project, tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes(b'"text,label\nhello,billing\n')
    (message,) = messages(import_path(project, path), "h.csv")
    assert message.startswith("h.csv, line 1: malformed CSV: a quoted cell opened on line 1 is never closed: lines 1 "
                              "to 2 were read as its text"), message
