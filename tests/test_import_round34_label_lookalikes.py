"""A label an import would create is refused when it differs from an existing label (or from one an
earlier row of the file creates) only by case, or by letters of another script that look the same
(Cyrillic "а" for Latin "a"): created, it would be a second label that reads like the first, and the
rows would be answered under a label nobody meant. The check pass names the file, line and field
and the label it looks like; nothing is written."""
import pytest

from labeling.items.models import ImportBatch, Item
from labeling.items.services import import_path
from labeling.projects.models import Label

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(project_factory):
    project = project_factory("lookalike", labels=("banking", "login"), sources=("email",))
    project.allow_new_labels = True
    project.save(update_fields=["allow_new_labels"])
    return project


def _import(project, tmp_path, body: str, name="labels.csv"):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return import_path(project, path)


def test_a_label_differing_only_by_case_is_refused_naming_the_existing_one(project, tmp_path):
    result = _import(project, tmp_path, "text,label\nmy card was charged,Banking\npassword reset,login\n")
    assert not result.ok
    assert [(e.line, e.field) for e in result.errors] == [(2, "label")]
    message = result.errors[0].format("labels.csv")
    assert message.startswith("labels.csv, line 2, field 'label': ")
    assert "'Banking'" in message and "“banking”" in message
    assert set(Label.objects.filter(project=project).values_list("name", flat=True)) == {"banking", "login"}
    assert Item.objects.filter(project=project).count() == 0
    assert result.batch.state == ImportBatch.FAILED


def test_a_cyrillic_look_alike_of_an_existing_label_is_refused(project, tmp_path):
    cyrillic = "b\u0430nking"  # Cyrillic small a
    result = _import(project, tmp_path, f"text,coarse_label\nwire transfer late,{cyrillic}\n")
    assert not result.ok
    assert [(e.line, e.field) for e in result.errors] == [(2, "coarse_label")]
    assert "'b\\u0430nking' looks like the existing label “banking”" in result.errors[0].message
    assert not Label.objects.filter(project=project, name=cyrillic).exists()


def test_look_alikes_within_one_file_are_refused_at_the_later_row(project, tmp_path):
    result = _import(project, tmp_path, "text,label\na,Refunds\nb,REFUNDS\nc,r\u0435funds\n")
    assert not result.ok
    assert [(e.line, e.field) for e in result.errors] == [(3, "label"), (4, "label")]
    assert all("“Refunds”" in e.message for e in result.errors)
    assert not Label.objects.filter(project=project, name="Refunds").exists()


def test_a_new_label_mixing_latin_with_cyrillic_letters_is_refused(project, tmp_path):
    result = _import(project, tmp_path, "text,label\nq,p\u0430yments\n")
    assert not result.ok
    assert [(e.line, e.field) for e in result.errors] == [(2, "label")]
    assert "Cyrillic" in result.errors[0].message and "\\u0430" in result.errors[0].message


def test_distinct_new_labels_and_existing_names_still_import(project, tmp_path):
    result = _import(project, tmp_path, "text,label\nq,banking\nr,payments\ns,\u043f\u043b\u0430\u0442\u0435\u0436\u0438\n")
    assert result.ok, [e.format("f") for e in result.errors]
    assert {"payments", "платежи"} <= set(Label.objects.filter(project=project).values_list("name", flat=True))
