"""An import that creates labels, and a lead who saves a label of the same look (label_name_key) at
the same moment, on two real PostgreSQL connections. Whichever comes first, the project never ends
with two labels that look alike: a lead's label saved between the import's validation and its
write refuses the import with a row-level message (file, line, field), or is used when it is the
very label the file names; a lead's label saved while the import writes waits for the import and
is then refused with the look-alike message."""
import json
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from labeling.annotations.models import Annotation
from labeling.items.importer import run_import
from labeling.items.models import Item
from labeling.projects import services as project_services
from labeling.projects.models import Label

from .db_threads import backends_waiting_on_locks, in_thread
from .test_lease_races import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = [{"text": "you charged me twice", "label": "billing"},  # line 1: an existing label
        {"text": "win a prize, call now", "label": "spam"},  # line 2: a new label
        {"text": "free money, click here", "label": "spam"}]  # line 3


@pytest.fixture
def open_project(project_factory):
    project = project_factory("race-names", labels=("billing", "login"), sources=())
    project.allow_new_labels = True
    project.save()
    return project


@pytest.fixture
def spam_file(tmp_path):
    path = tmp_path / "intake.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    return path


def _lead_saves(project, name):
    return project_services.save_label(project, None, name=name)


def _names(project):
    return sorted(Label.objects.filter(project=project).values_list("name", flat=True))


@pytest.mark.parametrize("lead_name", ["sp\u200bam", "\u202espam\u202c", "ｓｐａｍ"], ids=ascii)
def test_a_look_alike_saved_between_validation_and_write_refuses_the_import(postgres_only, open_project, spam_file,
                                                                             lead_name):
    saved = {}

    def lead_saves_meanwhile():  # on its own connection, committed before the import writes
        thread, saved["outcome"] = in_thread(_lead_saves, open_project, lead_name)
        thread.join(timeout=15)

    result = run_import(open_project, spam_file, filename="intake.jsonl", after_validation=lead_saves_meanwhile)

    assert "error" not in saved["outcome"], saved
    assert not result.ok and result.rows_imported == 0
    assert [(e.line, e.field) for e in result.errors] == [(2, "label")], [e.message for e in result.errors]
    text = result.errors[0].format("intake.jsonl")
    written = lead_name.replace("\u200b", "\\u200b").replace("\u202e", "\\u202e").replace("\u202c", "\\u202c")
    assert text.startswith(f"intake.jsonl, line 2, field 'label': 'spam' looks like the label “{written}”, created "
                           "while the file was being checked"), text
    assert "import the file again" in text
    assert _names(open_project) == sorted(["billing", "login", lead_name])  # no second look-alike
    assert not Item.objects.filter(project=open_project).exists()


def test_the_same_name_saved_under_a_parent_meanwhile_refuses_the_import(postgres_only, open_project, spam_file):
    """The lead saved "spam" as a fine label under billing: the file's flat "spam" answers would go
    under billing unsaid, so the import is refused at the row; saved flat, as the file names it,
    the label is the file's and the import uses it."""
    billing = open_project.labels.get(name="billing")
    saved = {}

    def lead_saves(**fields):
        def meanwhile():
            thread, saved["outcome"] = in_thread(lambda: project_services.save_label(open_project, None, **fields))
            thread.join(timeout=15)
        return meanwhile

    result = run_import(open_project, spam_file, filename="intake.jsonl",
                        after_validation=lead_saves(name="spam", parent=billing))
    assert "error" not in saved["outcome"], saved
    assert not result.ok and [(e.line, e.field) for e in result.errors] == [(2, "label")]
    assert result.errors[0].message.startswith("the label 'spam' was created under “billing” while the file was "
                                               "being checked; the file would create it as a coarse label")
    assert not Item.objects.filter(project=open_project).exists()

    Label.objects.filter(project=open_project, name="spam").delete()
    result = run_import(open_project, spam_file, filename="intake.jsonl", after_validation=lead_saves(name="spam"))
    assert result.ok and result.rows_imported == 3, [e.message for e in result.errors]
    spam = Label.objects.get(project=open_project, name="spam")
    assert spam.pk == saved["outcome"]["result"].pk
    assert Annotation.objects.filter(project=open_project, label=spam).count() == 2


def _hold_after_label_insert(paused, go):
    def hook(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not paused.is_set() and sql.lstrip().startswith("INSERT") and '"projects_label"' in sql:
            paused.set()
            go.wait(15)
        return result

    return hook


@pytest.mark.parametrize("lead_name", ["sp\u200bam", "ｓｐａｍ"], ids=ascii)
def test_a_look_alike_saved_while_the_import_writes_waits_and_is_refused(postgres_only, open_project, spam_file,
                                                                          lead_name):
    """The import has created its label "spam" (not committed) when the lead saves a look-alike: the
    lead's save waits for the import's commit, then finds "spam" and is refused with the message
    (instead of saving a second look-alike beside it)."""
    paused, go = threading.Event(), threading.Event()

    def import_holding_after_its_label():
        with connection.execute_wrapper(_hold_after_label_insert(paused, go)):
            return run_import(open_project, spam_file, filename="intake.jsonl")

    importing, imported = in_thread(import_holding_after_its_label)
    assert paused.wait(15), imported
    saving, saved = in_thread(_lead_saves, open_project, lead_name)
    assert wait_until(lambda: backends_waiting_on_locks() >= 1 or not saving.is_alive(), timeout=10)
    go.set()
    importing.join(timeout=30)
    saving.join(timeout=15)

    assert imported["result"].ok and imported["result"].rows_imported == 3, imported
    assert isinstance(saved.get("error"), ValidationError), saved  # refused, not saved beside "spam"
    assert "A label named “spam” already exists in this project" in str(saved["error"])
    assert _names(open_project) == ["billing", "login", "spam"]
