"""A labels file for items the project already holds: each labeled row brings its label to its item
(by external_id, or by text and source) when the item has no answer and no wave or lease holds it;
otherwise the whole file is refused with a message naming file, line and field and saying what to
do. And an export's copied labels (label_source "duplicate") come back as unlabeled rows, counted in
the import's summary. Through the real importer on the suite's database."""
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from labeling.annotations.models import Annotation, Assignment
from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item
from labeling.items.services import import_path
from labeling.items.signals import items_imported
from labeling.projects.models import Label
from labeling.waves.models import Wave, WaveItem

pytestmark = pytest.mark.django_db

CORPUS = ("external_id,text,source\n"
          "T1,My card was charged twice,email\n"
          "T2,Cannot sign in to the app,email\n"
          "T3,Where is my refund,chat\n")


@pytest.fixture
def moved(project_factory, tmp_path):
    """A project holding the team's corpus (no labels yet), as a team moving in imports it first."""
    project = project_factory("moved", labels=("billing", "login"), sources=("email", "chat"))
    corpus = tmp_path / "corpus.csv"
    corpus.write_text(CORPUS, encoding="utf-8")
    assert run_import(project, corpus).ok
    return project


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def item(project, external_id: str) -> Item:
    return Item.objects.get(project=project, external_id=external_id)


def answers(project) -> list[tuple]:
    return sorted(Annotation.objects.filter(project=project).values_list("item__external_id", "label__name", "origin"))


def test_labels_come_to_their_items_by_external_id_and_by_text(moved, tmp_path, django_capture_on_commit_callbacks):
    told = []

    def receiver(sender, *, project, batch, **kwargs):
        told.append((project.pk, batch.pk))

    items_imported.connect(receiver, weak=False, dispatch_uid="test-wimport")
    try:
        labels = write(tmp_path, "labels.csv", "external_id,text,source,label\n"
                                               "T1,My card was charged twice,email,billing\n"
                                               ",Cannot sign in to the app,email,login\n"
                                               "N1,A new ticket about billing,email,billing\n")
        with django_capture_on_commit_callbacks(execute=True):
            result = import_path(moved, labels)
    finally:
        items_imported.disconnect(dispatch_uid="test-wimport")
    assert result.ok, result.errors
    assert Item.objects.filter(project=moved).count() == 4  # only N1 is new
    assert answers(moved) == [("N1", "billing", "import"), ("T1", "billing", "import"), ("T2", "login", "import")]
    assert (result.rows_imported, result.labels_attached) == (1, 2)
    assert "2 labels brought to items the project already held" in result.note
    assert told == [(moved.pk, result.batch.pk)]  # the loop hears of the import as of any labeled one


def test_a_fine_label_and_a_coarse_only_label_follow_the_label_rules(project_factory, tmp_path):
    project = project_factory("tree", labels=("billing",), sources=("email",))
    billing = Label.objects.get(project=project, name="billing")
    Label.objects.create(project=project, name="refund", parent=billing)
    write(tmp_path, "c.csv", "external_id,text,source\nA,one,email\nB,two,email\nC,three,email\n")
    assert run_import(project, tmp_path / "c.csv").ok
    # A look-alike of an existing label and an unknown label are refused as in any import: nothing written.
    bad = write(tmp_path, "bad.csv", "external_id,text,source,label,coarse_label\n"
                                     "A,one,email,refund,billing\n"
                                     "B,two,email,Refund,\n"
                                     "C,three,email,shipping,\n")
    result = run_import(project, bad)
    assert not result.ok
    assert [(e.line, e.field) for e in result.errors] == [(3, "label"), (4, "label")]
    assert "looks like the existing label" in result.errors[0].message
    assert "unknown label 'shipping'" in result.errors[1].message
    assert not Annotation.objects.filter(project=project).exists()
    good = write(tmp_path, "good.csv", "external_id,text,source,label,coarse_label\n"
                                       "A,one,email,refund,billing\nB,two,email,,billing\n")
    result = run_import(project, good)
    assert result.ok, result.errors
    assert answers(project) == [("A", "refund", "import"), ("B", "billing", "import")]


def test_an_item_already_labeled_is_refused_saying_by_what(moved, tmp_path, make_user):
    first = write(tmp_path, "first.csv", "external_id,text,source,label\nT1,My card was charged twice,email,billing\n")
    assert run_import(moved, first).ok
    ann = make_user("ann")
    Annotation.objects.create(project=moved, item=item(moved, "T2"), annotator=ann,
                              label=Label.objects.get(project=moved, name="login"))
    again = write(tmp_path, "again.csv", "external_id,text,source,label\n"
                                         "T1,My card was charged twice,email,login\n"
                                         ",Cannot sign in to the app,email,billing\n")
    result = run_import(moved, again)
    assert not result.ok and result.batch.state == ImportBatch.FAILED
    by_line = {e.line: e for e in result.errors}
    assert by_line[2].field == "external_id"
    assert "its item" in by_line[2].message and "is already labeled ('billing', by an import on " in by_line[2].message
    assert by_line[3].field == "text"
    assert "is already labeled ('login', by annotator 'ann')" in by_line[3].message
    assert len(answers(moved)) == 2  # nothing written


def test_a_row_without_a_label_for_a_held_item_says_no_false_thing(moved, tmp_path):
    again = write(tmp_path, "again.csv", "text,source\nCannot sign in to the app,email\n")
    result = run_import(moved, again)
    assert not result.ok
    message = result.errors[0].message
    assert "would duplicate the item: the row has no label to bring to it" in message
    assert "and its label" not in message


@pytest.mark.parametrize("state", [Wave.PLANNED, Wave.OPEN])
def test_an_item_picked_in_a_planned_or_open_wave_refuses_the_file(moved, tmp_path, state):
    wave = Wave.objects.create(project=moved, number=1, state=state)
    WaveItem.objects.create(wave=wave, item=item(moved, "T2"), strategy="random", inclusion_prob=0.5)
    labels = write(tmp_path, "labels.csv", "external_id,text,source,label\n"
                                           "T1,My card was charged twice,email,billing\n"
                                           "T2,Cannot sign in to the app,email,login\n"
                                           "N1,A new ticket,email,billing\n")
    try:
        call_command("import_items", moved.slug, str(labels), "--no-progress")
    except CommandError:
        pass
    batch = ImportBatch.objects.filter(project=moved).latest("id")
    assert batch.state == ImportBatch.FAILED
    [error] = batch.errors
    assert (error["file"], error["line"], error["field"]) == ("labels.csv", 3, "external_id")
    assert f"picked in {state} wave 1" in error["message"]
    assert ("close it on the waves page" if state == Wave.OPEN else "discard the plan") in error["message"]
    # A refused file writes nothing: not T1's label, not the new item.
    assert answers(moved) == [] and Item.objects.filter(project=moved).count() == 3


def test_a_leased_item_and_an_unanswered_known_probability_pick_are_refused(moved, tmp_path, make_user):
    closed = Wave.objects.create(project=moved, number=1, state=Wave.CLOSED)
    leased = WaveItem.objects.create(wave=closed, item=item(moved, "T1"), strategy="uncertainty")
    Assignment.objects.create(wave_item=leased, annotator=make_user("ann"),
                              expires_at=timezone.now() + timedelta(minutes=30))
    # Drawn with a known π and left unanswered: the estimates read its item's answer as the pick's.
    WaveItem.objects.create(wave=closed, item=item(moved, "T2"), strategy="random", inclusion_prob=0.25)
    # Drawn without one (no estimate weighs it): its item may take the label.
    WaveItem.objects.create(wave=closed, item=item(moved, "T3"), strategy="uncertainty")
    labels = write(tmp_path, "labels.jsonl", "".join(json.dumps(row) + "\n" for row in [
        {"external_id": "T1", "text": "My card was charged twice", "source": "email", "label": "billing"},
        {"external_id": "T2", "text": "Cannot sign in to the app", "source": "email", "label": "login"},
        {"external_id": "T3", "text": "Where is my refund", "source": "chat", "label": "billing"}]))
    result = run_import(moved, labels)
    assert not result.ok
    assert [(e.line, e.field) for e in result.errors] == [(1, "external_id"), (2, "external_id")]
    assert "leased to an annotator in wave 1" in result.errors[0].message
    assert "known inclusion probability" in result.errors[1].message
    assert answers(moved) == []
    only_t3 = write(tmp_path, "t3.jsonl", json.dumps({"external_id": "T3", "text": "Where is my refund",
                                                       "source": "chat", "label": "billing"}) + "\n")
    assert run_import(moved, only_t3).ok
    assert answers(moved) == [("T3", "billing", "import")]


def test_one_item_takes_one_imported_label_and_a_changed_text_is_refused(moved, tmp_path):
    labels = write(tmp_path, "labels.csv", "external_id,text,source,label\n"
                                           "T1,My card was charged twice,email,billing\n"
                                           ",My card was charged twice,email,login\n"
                                           "T2,Cannot sign in to the app!,email,login\n")
    result = run_import(moved, labels)
    assert not result.ok
    assert [(e.line, e.field) for e in result.errors] == [(3, "text"), (4, "external_id")]
    assert "line 2 of this file already brings a label" in result.errors[0].message
    assert "another text than the row" in result.errors[1].message
    assert answers(moved) == []


def test_an_answer_given_between_check_and_write_refuses_the_file(moved, tmp_path, make_user):
    """Pass 1 finds T1 free; an annotator's answer arrives before the write: the write's own check
    refuses the whole file, naming the row, and writes nothing."""
    labels = write(tmp_path, "labels.csv", "external_id,text,source,label\n"
                                           "T1,My card was charged twice,email,billing\n"
                                           "N1,A new ticket,email,billing\n")
    ann = make_user("ann")

    def answer_meanwhile():
        Annotation.objects.create(project=moved, item=item(moved, "T1"), annotator=ann,
                                  label=Label.objects.get(project=moved, name="login"))

    result = run_import(moved, labels, after_validation=answer_meanwhile)
    assert not result.ok and result.batch.state == ImportBatch.FAILED
    [error] = result.errors
    assert (error.line, error.field) == (2, "external_id")
    assert "changed while the file was checked: it was labeled ('login', by annotator 'ann')" in error.message
    assert answers(moved) == [("T1", "login", "annotator")]
    assert Item.objects.filter(project=moved).count() == 3


def test_copied_labels_of_an_export_are_left_out_and_counted(project_factory, tmp_path):
    """Rows an export marked label_source "duplicate" come back unlabeled (in a fresh project) or not at
    all (where the project holds their item), and the summary says how many labels were left out, and why."""
    header = "item_id,external_id,text,label,coarse_label,label_source,source,votes\n"
    export = write(tmp_path, "export.csv", header + "1,,Cannot sign in,login,,import,email,\n"
                                                    "2,,Cannot sign in,login,,duplicate,email,\n")
    fresh = project_factory("fresh", labels=("billing", "login"), sources=("email",))
    result = run_import(fresh, export)
    assert result.ok, result.errors
    assert Item.objects.filter(project=fresh).count() == 2
    assert Annotation.objects.filter(project=fresh).count() == 1
    assert result.copied_labels_left_out == 1 and result.rows_left_out == 0
    assert "1 label left out: the export copied them onto unlabeled exact duplicates" in result.note
    # The same copy into a project that holds the item already: left out, the file imports.
    held = project_factory("held", labels=("billing", "login"), sources=("email",))
    write(tmp_path, "corpus.csv", "text,source\nCannot sign in,email\n")
    assert run_import(held, tmp_path / "corpus.csv").ok
    copy_only = write(tmp_path, "copy.csv", header + "2,,Cannot sign in,login,,duplicate,email,\n")
    result = run_import(held, copy_only)
    assert result.ok, result.errors
    assert (result.rows_imported, result.rows_left_out, result.copied_labels_left_out) == (0, 1, 1)
    assert "not imported at all, as the project holds the item already" in result.note
    assert Item.objects.filter(project=held).count() == 1 and not Annotation.objects.filter(project=held).exists()
