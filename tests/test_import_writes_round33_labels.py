"""A label or source that an import's validation found in the project and that a lead renames or
deletes before the import writes (run_import's after_validation hook marks that moment: in a real
upload it lasts the whole validation pass) refuses the import, naming it at its first row: nothing
is imported and nothing is created in its place. Before, the write created any name it could not
find, even with new labels off: a top-level "Created by an import." label (whatever coarse_label
the file gave), holding the file's answers. A label the file brings as new is still created."""
import json
import time

import pytest

from labeling.annotations.models import Annotation
from labeling.annotations.services import ensure_other_label
from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item
from labeling.projects import services as project_services
from labeling.projects.models import Label, Source

from .db_threads import backends_waiting_on_locks, in_thread

pytestmark = pytest.mark.django_db(transaction=True)
AGAIN = ("nothing was imported; import the file again to have its rows checked against the project's labels as "
         "they are now")


@pytest.fixture
def project(project_factory):
    project = project_factory("renamed", labels=(), sources=("email",))
    billing = Label.objects.create(project=project, name="billing", hotkey="1")
    Label.objects.create(project=project, name="refund", parent=billing, hotkey="2")
    Label.objects.create(project=project, name="spare", hotkey="3")
    return project


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _labels(project):
    return sorted((label.name, label.parent.name if label.parent else None, label.description)
                  for label in Label.objects.filter(project=project).select_related("parent"))


def _refused(result):
    assert not result.ok and result.rows_imported == 0
    assert ImportBatch.objects.get(pk=result.batch.pk).state == ImportBatch.FAILED
    assert not Item.objects.filter(project=result.batch.project).exists()
    assert not Annotation.objects.filter(project=result.batch.project).exists()
    return [(error.line, error.field, error.message) for error in result.errors]


def _rename(project, name, to):
    project_services.save_label(project, Label.objects.get(project=project, name=name), name=to)


def test_a_label_renamed_and_one_deleted_meanwhile_refuse_the_import(project, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("text,label,coarse_label\nplease refund order 1,refund,billing\nanother one,spare,\n"
                    "and a third,billing,\n", encoding="utf-8")

    def lead_edits():
        _rename(project, "refund", "refunds")
        project_services.delete_label(Label.objects.get(project=project, name="spare"))

    errors = _refused(run_import(project, path, after_validation=lead_edits))

    assert errors == [
        (2, "label", f"the label 'refund' was renamed or deleted while the file was being checked: {AGAIN}"),
        (3, "label", f"the label 'spare' was renamed or deleted while the file was being checked: {AGAIN}"),
    ]
    assert _labels(project) == [("billing", None, ""), ("refunds", "billing", "")]
    stored = ImportBatch.objects.get(project=project)
    assert [e["message"] for e in stored.errors] == [message for _, _, message in errors]


def test_a_coarse_only_row_whose_label_was_deleted_meanwhile_is_refused_at_that_field(project, tmp_path):
    path = _jsonl(tmp_path / "coarse.jsonl", [{"text": "spare parts please", "coarse_label": "spare"}])

    errors = _refused(run_import(project, path, after_validation=lambda: project_services.delete_label(
        Label.objects.get(project=project, name="spare"))))

    assert [(line, field) for line, field, _ in errors] == [(1, "coarse_label")]
    assert "the label 'spare' was renamed or deleted" in errors[0][2]
    assert not Label.objects.filter(project=project, name="spare").exists()


def test_with_new_labels_on_a_renamed_label_is_refused_and_a_new_one_is_still_created(project, tmp_path):
    project.allow_new_labels = True
    project.save()
    rows = [{"text": "please refund order 1", "label": "refund", "coarse_label": "billing"},
            {"text": "they charged it back", "label": "chargeback", "coarse_label": "billing"}]
    path = _jsonl(tmp_path / "new.jsonl", rows)

    errors = _refused(run_import(project, path, after_validation=lambda: _rename(project, "refund", "refunds")))

    assert [(line, field) for line, field, _ in errors] == [(1, "label")]  # chargeback: new, not gone
    assert _labels(project) == [("billing", None, ""), ("refunds", "billing", ""), ("spare", None, "")]

    # The file's new label, still absent when the write looks, is created as before.
    result = run_import(project, _jsonl(tmp_path / "only-new.jsonl", rows[1:]))
    assert result.ok and result.rows_imported == 1, [e.message for e in result.errors]
    chargeback = Label.objects.get(project=project, name="chargeback")
    assert (chargeback.parent.name, chargeback.description) == ("billing", "Created by an import.")
    assert Annotation.objects.get(project=project).label == chargeback


def test_the_existing_parent_of_a_new_label_renamed_meanwhile_refuses_the_import(project, tmp_path):
    project.allow_new_labels = True
    project.save()
    path = _jsonl(tmp_path / "parent.jsonl", [{"text": "they charged it back", "label": "chargeback",
                                                "coarse_label": "billing"}])

    errors = _refused(run_import(project, path, after_validation=lambda: _rename(project, "billing", "payments")))

    assert [(line, field) for line, field, _ in errors] == [(1, "coarse_label")]
    assert errors[0][2].startswith("the label 'billing' was renamed or deleted while the file was being checked")
    assert _labels(project) == [("payments", None, ""), ("refund", "payments", ""), ("spare", None, "")]


def test_a_source_renamed_meanwhile_refuses_the_import_without_new_sources(project, tmp_path):
    path = tmp_path / "sources.csv"
    path.write_text("text,source\nfirst mail,email\nsecond mail,email\n", encoding="utf-8")
    email = Source.objects.get(project=project, name="email")

    errors = _refused(run_import(project, path, after_validation=lambda: project_services.replace_sources(
        project, [{"id": email.pk, "name": "mail", "quota": 1.0}])))

    assert errors == [(2, "source", "the source 'email' was renamed or deleted while the file was being checked: "
                                    "nothing was imported; import the file again to have its rows checked against "
                                    "the project's sources as they are now")]
    assert list(Source.objects.filter(project=project).values_list("name", flat=True)) == ["mail"]


def test_a_written_out_name_in_the_refusal(project, tmp_path):
    Label.objects.create(project=project, name="vip\u200bonly", hotkey="4")
    path = _jsonl(tmp_path / "invisible.jsonl", [{"text": "for our best customers", "label": "vip\u200bonly"}])

    errors = _refused(run_import(project, path, after_validation=lambda: _rename(project, "vip\u200bonly", "vip")))

    assert errors[0][2].startswith("the label 'vip\\u200bonly' was renamed or deleted")


def _add_other(project):
    """What an annotator's first "none of these" does: create the project's Other label."""
    return ensure_other_label(project)


@pytest.mark.parametrize(("change", "waits"), [("rename", True), ("other", False)])
def test_label_writes_while_an_import_only_naming_labels_writes(postgres_only, project, tmp_path, change, waits):
    """A file that only names labels share-locks them (FOR KEY SHARE) while it writes. A rename
    waits for the import (a label's name is in a unique key: renaming it conflicts with the share
    lock) and then applies to the rows' answers (they refer to the label by id); an annotator's first
    "none of these" creating Other does not wait (under the label writers' lock it waited for the
    whole write, minutes for a large file, in a review's run)."""
    path = tmp_path / "many.csv"
    path.write_text("text,label\n" + "".join(f"ticket {i} about order {i * 7919 % 100003},spare\n"
                                             for i in range(6000)), encoding="utf-8")
    seen = {}
    work = (lambda: _rename(project, "spare", "spares")) if change == "rename" else (lambda: _add_other(project))

    def while_writing(phase, fraction, counts):
        if phase == "write" and counts.get("rows_imported") and "thread" not in seen:  # a chunk is written
            seen["thread"], seen["outcome"] = in_thread(work)
            deadline = time.monotonic() + 10
            while seen["thread"].is_alive() and backends_waiting_on_locks() == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            seen["done_while_writing"] = not seen["thread"].is_alive()

    result = run_import(project, path, progress=while_writing)
    seen["thread"].join(timeout=30)

    assert result.ok and result.rows_imported == 6000, [e.message for e in result.errors]
    assert seen["done_while_writing"] is not waits and "error" not in seen["outcome"], seen
    name = "spares" if change == "rename" else "spare"
    assert Annotation.objects.filter(project=project, label__name=name).count() == 6000
