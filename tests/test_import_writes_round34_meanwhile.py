"""What a lead changes between an import's check (pass 1) and its write, or while it writes, beyond
the renames and deletions of round 33: a label the file names moved under another coarse label
(the file's coarse_label no longer matches it: refused like a rename; a file without coarse_label
is written, the move being the lead's decision for every answer of that label), a source deleted
or renamed (refused before the write, waiting for it during it: the write share-locks the
project's sources as it does its labels), and labels both created and renamed meanwhile (the
refusal names every row, not only the created labels')."""
import json
import threading
import time

import pytest
from django.db import connection

from labeling.annotations.models import Annotation
from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item
from labeling.projects import services as project_services
from labeling.projects.models import Label, Source

from .db_threads import in_thread

pytestmark = pytest.mark.django_db(transaction=True)
AGAIN = ("nothing was imported; import the file again to have its rows checked against the project's {}s as "
         "they are now")


@pytest.fixture
def project(project_factory):
    project = project_factory("moved", labels=(), sources=("email", "chat"))
    billing = Label.objects.create(project=project, name="billing", hotkey="1")
    Label.objects.create(project=project, name="refund", parent=billing, hotkey="2")
    Label.objects.create(project=project, name="spare", hotkey="3")
    Label.objects.create(project=project, name="payments", hotkey="4")
    return project


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _refused(result):
    assert not result.ok and result.rows_imported == 0, [e.message for e in result.errors]
    assert ImportBatch.objects.get(pk=result.batch.pk).state == ImportBatch.FAILED
    assert not Item.objects.filter(project=result.batch.project).exists()
    assert not Annotation.objects.filter(project=result.batch.project).exists()
    return [(error.line, error.field, error.message) for error in result.errors]


def _lock_waits() -> int:
    """Lock requests of this database not granted, read live (pg_locks: pg_stat_activity is read once
    per transaction, and the caller is inside the import's)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND (database IS NULL OR database = "
                       "(SELECT oid FROM pg_database WHERE datname = current_database()))")
        return cursor.fetchone()[0]


def _move(project, name, under):
    parent = Label.objects.get(project=project, name=under) if under else None
    project_services.save_label(project, Label.objects.get(project=project, name=name), parent=parent)


def _parents(project):
    return {label.name: label.parent.name if label.parent else None
            for label in Label.objects.filter(project=project).select_related("parent")}


def test_a_label_moved_under_another_coarse_label_meanwhile_refuses_a_file_naming_its_old_one(project, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("text,label,coarse_label\nplease refund order 1,refund,billing\nand a second,refund,billing\n",
                    encoding="utf-8")

    errors = _refused(run_import(project, path, after_validation=lambda: _move(project, "refund", "payments")))

    assert errors == [(2, "coarse_label", "the label 'refund' was moved under 'payments' while the file was being "
                                          "checked; the file's coarse_label says 'billing': " + AGAIN.format("label"))]
    assert _parents(project)["refund"] == "payments"


def test_a_label_made_coarse_meanwhile_refuses_a_row_naming_its_old_parent(project, tmp_path):
    path = _jsonl(tmp_path / "rows.jsonl", [{"text": "please refund", "label": "refund", "coarse_label": "billing"}])

    errors = _refused(run_import(project, path, after_validation=lambda: _move(project, "refund", None)))

    assert [(line, field) for line, field, _ in errors] == [(1, "coarse_label")]
    assert errors[0][2].startswith("the label 'refund' was made a coarse label while the file was being checked; "
                                   "the file's coarse_label says 'billing'")


def test_a_coarse_only_answer_whose_label_was_moved_under_another_meanwhile_is_refused(project, tmp_path):
    path = _jsonl(tmp_path / "coarse.jsonl", [{"text": "spare parts please", "coarse_label": "spare"}])

    errors = _refused(run_import(project, path, after_validation=lambda: _move(project, "spare", "billing")))

    assert [(line, field) for line, field, _ in errors] == [(1, "coarse_label")]
    assert errors[0][2].startswith("the label 'spare' was moved under 'billing' while the file was being checked; "
                                   "the file gives it as a coarse label")


def test_the_coarse_parent_of_a_new_label_moved_under_another_meanwhile_refuses_the_import(project, tmp_path):
    project.allow_new_labels = True
    project.save()
    path = _jsonl(tmp_path / "new.jsonl", [{"text": "a spare key", "label": "keys", "coarse_label": "spare"}])

    errors = _refused(run_import(project, path, after_validation=lambda: _move(project, "spare", "billing")))

    assert [(line, field) for line, field, _ in errors] == [(1, "coarse_label")]
    assert "the label 'spare' was moved under 'billing' while the file was being checked" in errors[0][2]
    assert not Label.objects.filter(project=project, name="keys").exists()


def test_a_file_without_coarse_labels_is_written_when_its_label_moved_meanwhile(project, tmp_path):
    """The answer is the label (by id) wherever a lead puts it: moved after the import, the answers
    would follow it the same way. Nothing in the file says where it was."""
    path = tmp_path / "flat.csv"
    path.write_text("text,label\nplease refund order 1,refund\n", encoding="utf-8")

    result = run_import(project, path, after_validation=lambda: _move(project, "refund", "payments"))

    assert result.ok and result.rows_imported == 1, [e.message for e in result.errors]
    assert Annotation.objects.get(project=project).label.parent.name == "payments"


def test_a_source_deleted_meanwhile_refuses_the_import_naming_it(project, tmp_path):
    path = tmp_path / "sources.csv"
    path.write_text("text,source\nfirst chat,chat\nfirst mail,email\n", encoding="utf-8")
    chat = Source.objects.get(project=project, name="chat")

    errors = _refused(run_import(project, path, after_validation=lambda: project_services.replace_sources(
        project, [{"id": chat.pk, "name": "chat", "quota": 1.0}])))

    assert errors == [(3, "source", "the source 'email' was renamed or deleted while the file was being checked: "
                                    + AGAIN.format("source"))]


@pytest.mark.parametrize("change", ["delete", "rename"])
def test_a_source_deleted_or_renamed_while_rows_are_written_waits_for_the_import(
        postgres_only, project, tmp_path, change):
    """The write share-locks the project's sources (FOR KEY SHARE) as it does its labels. Before, a
    source deleted while the rows were written was gone at the import's commit: the import failed on
    the items' foreign key, with the database's message. Now the sources page's save waits for the
    import, and then finds the source's items (deletion refused) or renames it under them."""
    path = tmp_path / "many.csv"
    path.write_text("text,source\n" + "".join(f"mail {i} about order {i * 7919 % 100003},email\n"
                                              for i in range(6000)), encoding="utf-8")
    chat = Source.objects.get(project=project, name="chat")
    email = Source.objects.get(project=project, name="email")
    rows = [{"id": chat.pk, "name": "chat", "quota": 1.0}]
    if change == "rename":
        rows = [{"id": chat.pk, "name": "chat", "quota": 0.5}, {"id": email.pk, "name": "mail", "quota": 0.5}]
    seen = {}
    waiting = threading.Event()

    def while_writing(phase, fraction, counts):
        if phase == "write" and counts.get("rows_imported") and "thread" not in seen:  # a chunk is written
            seen["thread"], seen["outcome"] = in_thread(project_services.replace_sources, project, rows)
            deadline = time.monotonic() + 30  # a safety net only: the loop ends on the wait or the thread's end
            while seen["thread"].is_alive() and not waiting.is_set() and time.monotonic() < deadline:
                if _lock_waits():
                    waiting.set()
                else:
                    seen["thread"].join(timeout=0.05)
            seen["done_while_writing"] = not seen["thread"].is_alive()

    result = run_import(project, path, progress=while_writing)
    seen["thread"].join(timeout=30)

    assert result.ok and result.rows_imported == 6000, [e.message for e in result.errors]
    assert seen["done_while_writing"] is False
    if change == "delete":
        assert "has items and cannot be removed" in str(seen["outcome"].get("error")), seen
        assert Item.objects.filter(project=project, source__name="email").count() == 6000
    else:
        assert "error" not in seen["outcome"], seen
        assert Item.objects.filter(project=project, source__name="mail").count() == 6000


def test_labels_created_and_renamed_meanwhile_are_all_named(project, tmp_path):
    project.allow_new_labels = True
    project.save()
    path = _jsonl(tmp_path / "both.jsonl", [
        {"text": "keep the spare one", "label": "spare"},
        {"text": "they charged it back", "label": "chargeback", "coarse_label": "billing"},
        {"text": "please refund order 1", "label": "refund", "coarse_label": "billing"}])

    def lead_edits():
        project_services.save_label(project, None, name="Chargeback", parent=Label.objects.get(
            project=project, name="billing"), hotkey="5")
        project_services.save_label(project, Label.objects.get(project=project, name="spare"), name="spares")

    errors = _refused(run_import(project, path, after_validation=lead_edits))

    assert [(line, field) for line, field, _ in errors] == [(1, "label"), (2, "label")], errors
    assert errors[0][2].startswith("the label 'spare' was renamed or deleted while the file was being checked")
    assert "looks like the label" in errors[1][2] and "created while the file was being checked" in errors[1][2]
    assert not Label.objects.filter(project=project, name="chargeback").exists()


def test_a_coarse_label_renamed_meanwhile_is_named_as_renamed_not_as_a_move(project, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("text,label,coarse_label\nplease refund order 1,refund,billing\n", encoding="utf-8")

    def rename_billing():
        project_services.save_label(project, Label.objects.get(project=project, name="billing"), name="money")

    errors = _refused(run_import(project, path, after_validation=rename_billing))

    assert errors == [(2, "coarse_label", "the label 'billing' was renamed or deleted while the file was being "
                                          "checked: " + AGAIN.format("label"))]
