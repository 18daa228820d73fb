"""Importer: real files in tmp_path, every error kind, no partial writes, --skip-invalid, the command."""
import csv
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.annotations.models import Annotation
from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item
from labeling.items.services import import_path
from labeling.projects.models import Label, Source


def write_csv(path, rows, header=("text", "source", "external_id")):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def project(project_factory):
    project = project_factory("intake", labels=("billing", "login"), sources=("email", "chat"))
    account = Label.objects.create(project=project, name="account", hotkey="a")
    Label.objects.create(project=project, name="password_reset", parent=account, hotkey="p")
    return project


def counts(project):
    return (Item.objects.filter(project=project).count(), Source.objects.filter(project=project).count(),
            Label.objects.filter(project=project).count(), Annotation.objects.filter(project=project).count())


def single_error(result):
    assert not result.ok
    assert result.batch.state == ImportBatch.FAILED
    assert result.rows_imported == 0
    assert len(result.errors) == 1, [e.format("f") for e in result.errors]
    return result.errors[0]


def test_good_csv_imports_rows_sources_and_metadata(project, tmp_path):
    path = write_csv(tmp_path / "tickets.csv", [
        ("My invoice is wrong", "email", "A-1", "pro"),
        ("Cannot log in, help", "chat", "A-2", ""),
        ("Multi-line\ntext, with \"quotes\"", "", "", "free"),
    ], header=("text", "source", "external_id", "tier"))
    result = import_path(project, path)
    assert result.ok and result.rows_imported == 3 and result.rows_total == 3
    items = list(Item.objects.filter(project=project).order_by("id"))
    assert [i.external_id for i in items] == ["A-1", "A-2", None]
    assert items[0].source.name == "email" and items[2].source is None
    assert items[0].metadata == {"tier": "pro"} and items[1].metadata == {}
    assert items[2].text == 'Multi-line\ntext, with "quotes"'
    assert all(i.dup_group == i.id for i in items)
    assert result.batch.state == ImportBatch.DONE and result.batch.progress == 1.0


def test_good_jsonl_with_labels_creates_import_annotations(project, tmp_path):
    path = write_jsonl(tmp_path / "labeled.jsonl", [
        {"text": "refund please", "label": "billing", "channel": {"id": 3}},
        {"text": "reset my password", "label": "password_reset", "coarse_label": "account"},
        {"text": "something about my account", "coarse_label": "account"},
        {"text": "no label here", "external_id": 17},
    ])
    result = import_path(project, path)
    assert result.ok, [e.format("f") for e in result.errors]
    annotations = {a.item.text: a for a in Annotation.objects.filter(project=project).select_related("label", "item")}
    assert set(annotations) == {"refund please", "reset my password", "something about my account"}
    assert annotations["reset my password"].label.name == "password_reset"
    assert annotations["something about my account"].label.name == "account"
    assert all(a.origin == Annotation.IMPORT and a.annotator is None for a in annotations.values())
    item = Item.objects.get(project=project, text="refund please")
    assert item.metadata == {"channel": {"id": 3}}
    assert Item.objects.get(project=project, text="no label here").external_id == "17"


def assert_where(error, filename, line, field):
    assert (error.line, error.field) == (line, field)
    text = error.format(filename)
    assert filename in text and (line is None or f"line {line}" in text)
    if field:
        assert f"field '{field}'" in text


def test_non_utf8_bytes_reported_with_offset(project, tmp_path):
    path = tmp_path / "latin.csv"
    head = b"text,source\nfine row,email\n"
    path.write_bytes(head + b"caf\xe9 au lait,email\nok again,chat\n")
    before = counts(project)
    error = single_error(import_path(project, path))
    assert_where(error, "latin.csv", 3, "text")  # the column the undecodable byte is in
    assert f"byte offset {len(head) + 3}" in error.message and "0xe9" in error.message
    assert counts(project) == before


def test_malformed_csv_quote(project, tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('text,source\n"fine",email\n"broken"quote,email\nlast,chat\n', encoding="utf-8")
    error = single_error(import_path(project, path))
    assert_where(error, "quote.csv", 3, None)
    assert "malformed CSV" in error.message


def test_csv_row_with_wrong_number_of_fields(project, tmp_path):
    path = tmp_path / "width.csv"
    path.write_text("text,source\nok,email\ntoo,many,fields\n", encoding="utf-8")
    error = single_error(import_path(project, path))
    assert_where(error, "width.csv", 3, None)
    assert "3 fields" in error.message


def test_malformed_json_line(project, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "unterminated}\n\n["not", "an object"]\n', encoding="utf-8")
    result = import_path(project, path)
    assert [(e.line, e.field) for e in result.errors] == [(2, "text"), (4, None)]  # the field the JSON breaks in
    assert "malformed JSON" in result.errors[0].message and "expected a JSON object" in result.errors[1].message
    assert Item.objects.filter(project=project).count() == 0


def test_missing_text_column(project, tmp_path):
    path = write_csv(tmp_path / "notext.csv", [("hello", "email")], header=("body", "source"))
    error = single_error(import_path(project, path))
    assert_where(error, "notext.csv", 1, "text")
    assert "missing required column 'text'" in error.message and "body" in error.message


def test_missing_text_field_in_jsonl(project, tmp_path):
    path = write_jsonl(tmp_path / "notext.jsonl", [{"text": "ok"}, {"body": "no text"}])
    error = single_error(import_path(project, path))
    assert_where(error, "notext.jsonl", 2, "text")


def test_empty_text(project, tmp_path):
    path = write_csv(tmp_path / "empty.csv", [("ok", "email", ""), ("   ", "email", "")])
    error = single_error(import_path(project, path))
    assert_where(error, "empty.csv", 3, "text")
    assert "empty" in error.message


def test_text_over_the_project_limit(project, tmp_path):
    project.max_text_chars = 50
    project.save()
    path = write_jsonl(tmp_path / "long.jsonl", [{"text": "short"}, {"text": "x" * 51}])
    error = single_error(import_path(project, path))
    assert_where(error, "long.jsonl", 2, "text")
    assert "51 characters" in error.message and "limit of 50" in error.message


def test_duplicate_external_id_in_file(project, tmp_path):
    path = write_csv(tmp_path / "dup.csv", [("one", "email", "X1"), ("two", "email", "X2"), ("three", "chat", "X1")])
    error = single_error(import_path(project, path))
    assert_where(error, "dup.csv", 4, "external_id")
    assert "also on line 2" in error.message


def test_duplicate_external_id_in_project(project, tmp_path):
    Item.objects.create(project=project, text="old", text_hash="h", external_id="X9")
    path = write_csv(tmp_path / "again.csv", [("new", "email", "X8"), ("newer", "email", "X9")])
    before = counts(project)
    error = single_error(import_path(project, path))
    assert_where(error, "again.csv", 3, "external_id")
    assert "already in project 'intake'" in error.message
    assert counts(project) == before


def test_unknown_source_and_label(project, tmp_path):
    path = write_jsonl(tmp_path / "unknown.jsonl", [
        {"text": "a", "source": "fax"}, {"text": "b", "label": "shipping"},
        {"text": "c", "label": "password_reset", "coarse_label": "billing"},
        {"text": "d", "coarse_label": "password_reset"},
    ])
    before = counts(project)
    result = import_path(project, path)
    got = [(e.line, e.field) for e in result.errors]
    assert got == [(1, "source"), (2, "label"), (3, "coarse_label"), (4, "coarse_label")]
    assert "unknown source 'fax'" in result.errors[0].message and "email" in result.errors[0].message
    assert "unknown label 'shipping'" in result.errors[1].message
    assert "does not match" in result.errors[2].message and "'account'" in result.errors[2].message
    assert "is a fine label" in result.errors[3].message
    assert counts(project) == before


def test_unknown_source_and_labels_created_when_allowed(project, tmp_path):
    project.allow_new_sources = project.allow_new_labels = True
    project.save()
    path = write_jsonl(tmp_path / "new.jsonl", [
        {"text": "fax me", "source": "fax", "label": "late", "coarse_label": "shipping"},
        {"text": "flat one", "label": "spam"},
        {"text": "coarse only", "coarse_label": "shipping"},
    ])
    result = import_path(project, path)
    assert result.ok, [e.format("f") for e in result.errors]
    assert Source.objects.filter(project=project, name="fax").exists()
    late = Label.objects.get(project=project, name="late")
    assert late.parent.name == "shipping" and late.parent.parent is None
    assert Label.objects.get(project=project, name="spam").parent is None
    labels = sorted(Annotation.objects.filter(project=project).values_list("label__name", flat=True))
    assert labels == ["late", "shipping", "spam"]


def test_file_over_the_upload_limit(project, tmp_path, settings):
    settings.LONGTAIL_MAX_UPLOAD_BYTES = 20
    path = write_csv(tmp_path / "big.csv", [("a text that is long enough", "email", "")])
    error = single_error(import_path(project, path))
    assert_where(error, "big.csv", None, None)
    assert "over the upload limit of 20 bytes" in error.message
    assert Item.objects.filter(project=project).count() == 0


def test_errors_are_capped_but_counted(project, tmp_path, settings):
    settings.LONGTAIL_MAX_REPORTED_ERRORS = 3
    path = write_jsonl(tmp_path / "many.jsonl", [{"text": ""} for _ in range(10)])
    result = import_path(project, path)
    assert result.error_count == 10 and len(result.errors) == 3
    assert "7 more errors" in result.batch.errors[-1]["message"]


def test_every_error_reported_and_nothing_written(project, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", [("good", "email", "1"), ("", "email", "2"), ("x", "pigeon", "3"),
                                              ("good too", "chat", "1")])
    before = counts(project)
    result = import_path(project, path)
    assert [(e.line, e.field) for e in result.errors] == [(3, "text"), (4, "source"), (5, "external_id")]
    assert counts(project) == before
    batch = ImportBatch.objects.get(id=result.batch.id)
    assert batch.state == ImportBatch.FAILED and batch.rows_rejected == 3 and batch.rows_total == 4
    assert [e["line"] for e in batch.errors] == [3, 4, 5] and batch.errors[0]["file"] == "mixed.csv"


def test_skip_invalid_imports_valid_rows_and_writes_rejects(project, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", [("good", "email", "1"), ("", "email", "2"), ("x", "pigeon", "3"),
                                              ("good too", "chat", "4")])
    rejects = tmp_path / "rejects.csv"
    result = import_path(project, path, skip_invalid=True, rejects_path=rejects)
    assert result.ok and result.rows_imported == 2 and result.rows_rejected == 2
    assert sorted(Item.objects.filter(project=project).values_list("text", flat=True)) == ["good", "good too"]
    with open(rejects, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["line"], r["field"]) for r in rows] == [("3", "text"), ("4", "source")]
    assert "unknown source 'pigeon'" in rows[1]["reason"] and rows[1]["raw"] == "x,pigeon,3"


def test_failure_while_writing_rolls_everything_back(project, tmp_path):
    project.allow_new_labels = True
    project.save()
    path = write_csv(tmp_path / "race.csv", [(f"text number {i}", "email", f"R{i}") for i in range(12000)] +
                     [("late row", "email", "RACE")])
    before = counts(project)

    def someone_else_imports_first():
        # A real race: between validation and writing, another import stores the same external id.
        Item.objects.create(project=project, text="sneaky", text_hash="x", external_id="RACE")

    result = run_import(project, path, after_validation=someone_else_imports_first)
    assert not result.ok and "rolled back" in result.errors[0].message
    items, *rest = counts(project)
    assert items == before[0] + 1 and tuple(rest) == before[1:]  # only the racing item exists
    assert ImportBatch.objects.get(id=result.batch.id).rows_imported == 0


def test_command_exits_non_zero_and_reports_every_error(project, tmp_path, capsys):
    path = write_csv(tmp_path / "cmd.csv", [("ok", "email", ""), ("", "email", ""), ("x", "pigeon", "")])
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_items", project.slug, str(path), "--no-progress")
    err = capsys.readouterr().err
    assert "cmd.csv, line 3, field 'text': the text is empty" in err
    assert "cmd.csv, line 4, field 'source': unknown source 'pigeon'" in err
    assert Item.objects.filter(project=project).count() == 0


def test_command_skip_invalid_and_progress_bar(project, tmp_path, capsys):
    path = write_csv(tmp_path / "cmd.csv", [("ok", "email", ""), ("", "email", "")])
    call_command("import_items", project.slug, str(path), "--skip-invalid")
    out, err = capsys.readouterr()
    assert "imported 1 of 2 rows" in out and "cmd.csv.rejects.csv" in out
    assert (tmp_path / "cmd.csv.rejects.csv").is_file()
    assert "%" in err  # tqdm's bar went to stderr


def test_command_unknown_project(db, tmp_path):
    path = write_csv(tmp_path / "x.csv", [("ok", "", "")])
    with pytest.raises(CommandError, match="No project with slug 'nope'"):
        call_command("import_items", "nope", str(path))


def test_tsv_and_format_detection(project, tmp_path):
    path = tmp_path / "tabs.tsv"
    path.write_text("text\tsource\ttier\nhello, world\temail\tgold\n", encoding="utf-8")
    assert import_path(project, path).ok
    item = Item.objects.get(project=project)
    assert (item.text, item.source.name, item.metadata) == ("hello, world", "email", {"tier": "gold"})
    unnamed = tmp_path / "export.dat"
    unnamed.write_text('{"text": "json without the extension"}\n', encoding="utf-8")
    assert import_path(project, unnamed).ok


def test_nul_characters_are_row_errors(project, tmp_path):
    path = tmp_path / "nul.jsonl"
    path.write_text('{"text": "fine"}\n{"text": "bad\\u0000text"}\n', encoding="utf-8")
    csv_path = tmp_path / "nul.csv"
    csv_path.write_bytes(b"text\nfine\nbad\x00text\n")
    for p, line in ((path, 2), (csv_path, 3)):
        error = single_error(import_path(project, p))
        assert_where(error, p.name, line, "text")
        assert "NUL" in error.message
    assert Item.objects.filter(project=project).count() == 0
