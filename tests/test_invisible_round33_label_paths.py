"""A new label named only with a Hangul filler ("ㅤ", U+3164) shows nothing, and "a\u3164" reads as
"a": each path that creates or renames labels refuses both, as it refuses zero-width spaces (the
model and the admin, the labels page, the API, the new-project lines, the whole-set check, an
import file naming a new label). Labels stored with such names before keep working unchanged."""
import json

import pytest
from django.core.exceptions import ValidationError

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.items.services import import_path
from labeling.projects.models import Label, Project
from labeling.projects.services import parse_label_lines
from labeling.projects.taxonomy import label_set_errors

from .test_browse_api import api_as
from .test_projects_pages import labels_post

pytestmark = pytest.mark.django_db

FILLER = "\u3164"  # HANGUL FILLER: a letter (Lo) that shows nothing
EMPTY = "empty once invisible characters"
LOOKS_LIKE_A = ("A label named “a” already exists in this project (names that look the same, ignoring invisible "
                "characters and variants, count as one). The new name, written out, is “a\\u3164”.")


@pytest.fixture
def project(project_factory):
    return project_factory("fill", labels=("a", "billing"))


def _names(project):
    return sorted(project.labels.values_list("name", flat=True))


def test_the_model_refuses_a_new_filler_name_and_a_filler_look_alike(project):
    with pytest.raises(ValidationError) as refused:
        Label(project=project, name=FILLER).full_clean()
    assert refused.value.message_dict["name"] == [f"Name is {EMPTY} (zero-width spaces, direction marks, fillers, "
                                                  "variation selectors, other format or control characters) are "
                                                  "removed."]
    with pytest.raises(ValidationError) as refused:
        Label(project=project, name="a" + FILLER).full_clean()
    assert refused.value.message_dict["name"] == [LOOKS_LIKE_A]
    # renaming a stored label into either is refused too
    billing = project.labels.get(name="billing")
    for name in (FILLER, "a" + FILLER, "\ufe0f", "a\ufe0f"):
        billing.name = name
        with pytest.raises(ValidationError):
            billing.full_clean()


def test_the_admin_refuses_them(admin_client, project):
    for name, message in ((FILLER, EMPTY), ("a" + FILLER, "A label named “a” already exists")):
        answer = admin_client.post("/admin/projects/label/add/", {"project": project.pk, "name": name, "order": 0})
        assert answer.status_code == 200, answer.status_code  # the form again with its error
        assert message in answer.content.decode(), ascii(name)
    assert _names(project) == ["a", "billing"]


def test_the_api_refuses_them(world):
    alpha = world["alpha"]
    Label.objects.create(project=alpha, name="a")
    before = _names(alpha)
    lead = api_as(world["lead"])
    for name, message in ((FILLER, EMPTY), ("\uffa0\ufe0f", EMPTY), ("a" + FILLER, LOOKS_LIKE_A)):
        answer = lead.post("/api/projects/alpha/labels/", {"name": name}, format="json")
        assert answer.status_code == 400, answer.content
        assert message in answer.json()["name"][0], answer.json()
    assert _names(alpha) == before


def test_the_labels_page_refuses_them(client, world):
    alpha = world["alpha"]
    Label.objects.create(project=alpha, name="a")
    client.force_login(world["lead"])
    stored = [{"id": label.pk, "name": label.name, "hotkey": label.hotkey} for label in alpha.labels.all()]
    before = _names(alpha)
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*stored, {"name": FILLER}]))
    assert answer.status_code == 200 and EMPTY in answer.content.decode()
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*stored, {"name": "a" + FILLER}]))
    assert answer.status_code == 200
    assert "Label names must be unique; repeated: “a”, “a\\u3164”." in answer.content.decode()
    assert _names(alpha) == before


@pytest.mark.parametrize(("lines", "message"), [
    (["billing", FILLER], f"Line 2: a label name is {EMPTY}"),
    (["billing > \u115f\u1160"], f"Line 1: a label name is {EMPTY}"),
    (["a", "a" + FILLER], "Line 2: “a\\u3164” looks like “a”, already named on line 1"),
    (["spam > a", "a\ufe0f > late"], "Line 2: “a\\ufe0f” looks like “a”, already named on line 1"),
], ids=ascii)
def test_the_new_project_lines_refuse_them(lines, message):
    with pytest.raises(ValidationError) as refused:
        parse_label_lines(lines)
    errors = refused.value.message_dict["labels"]
    assert len(errors) == 1 and errors[0].startswith(message), errors


def test_the_new_project_page_refuses_a_filler_line(client, world):
    client.force_login(world["lead"])
    answer = client.post("/projects/new/", {"name": "Tickets", "slug": "tickets", "sources": "web",
                                            "labels": f"billing\n{FILLER}\n"})
    assert answer.status_code == 200 and f"Line 2: a label name is {EMPTY}" in answer.content.decode()
    assert not Project.objects.filter(slug="tickets").exists()


def test_the_whole_set_check_refuses_them(project):
    a = project.labels.get(name="a")
    stored = {a.pk: "a"}
    errors = label_set_errors({a.pk: ("a", None, False), "new 0": (FILLER, None, False)}, {}, stored)
    assert errors == {"name": [f"Name is {EMPTY} (zero-width spaces, direction marks, fillers, variation selectors, "
                               "other format or control characters) are removed."]}
    errors = label_set_errors({a.pk: ("a", None, False), "new 0": ("a" + FILLER, None, False)}, {}, stored)
    assert errors == {"name": [LOOKS_LIKE_A]}


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_an_import_naming_a_new_filler_label_is_refused_by_file_line_and_field(project, tmp_path):
    project.allow_new_labels = True
    project.save()
    path = _write_jsonl(tmp_path / "fill.jsonl", [
        {"text": "filler label", "label": FILLER},  # line 1
        {"text": "looks like a", "label": "a" + FILLER},  # line 2
        {"text": "filler coarse", "label": "late", "coarse_label": "billing\ufe0f"},  # line 3
        {"text": "exact name", "label": "a"},  # line 4
    ])
    result = import_path(project, path)
    assert not result.ok and result.rows_imported == 0
    text = [e.format("fill.jsonl") for e in result.errors]
    assert len(text) == 3, text
    assert text[0].startswith(f"fill.jsonl, line 1, field 'label': the label '\\u3164' is {EMPTY}"), text[0]
    assert text[1].startswith("fill.jsonl, line 2, field 'label': 'a\\u3164' looks like the existing label “a”"), text[1]
    assert text[2].startswith("fill.jsonl, line 3, field 'coarse_label': 'billing\\ufe0f' looks like the existing "
                              "label “billing”"), text[2]
    assert _names(project) == ["a", "billing"] and not Item.objects.filter(project=project).exists()


def test_labels_stored_with_filler_names_keep_working(client, world, tmp_path):
    """Stored before the wider rule (or past it): saved unchanged on every path, named by imports."""
    alpha = world["alpha"]
    plain = Label.objects.create(project=alpha, name="a")
    blank = Label.objects.create(project=alpha, name=FILLER)
    twin = Label.objects.create(project=alpha, name="a" + FILLER)
    for label in (plain, blank, twin):
        label.full_clean()
    lead = api_as(world["lead"])
    for label in (blank, twin):
        answer = lead.patch(f"/api/projects/alpha/labels/{label.pk}/", {"description": "kept"}, format="json")
        assert answer.status_code == 200, answer.content
    client.force_login(world["lead"])
    rows = [{"id": label.pk, "name": label.name, "hotkey": label.hotkey, "description": "page"}
            for label in alpha.labels.all()]
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, rows))
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    assert set(alpha.labels.values_list("description", flat=True)) == {"page"}
    # ... while a new one beside them is still refused, naming a stored one
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*rows, {"name": "\ufe0f" + FILLER}]))
    assert answer.status_code == 200 and EMPTY in answer.content.decode()
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*rows, {"name": "a\ufe0f"}]))
    assert answer.status_code == 200 and "Label names must be unique; repeated: “a”, “a\\u3164”, “a\\ufe0f”." in \
        answer.content.decode()
    # an import that names them exactly answers with them
    path = _write_jsonl(tmp_path / "stored.jsonl", [{"text": "blank one", "label": FILLER},
                                                    {"text": "twin one", "label": "a" + FILLER}])
    result = import_path(alpha, path)
    assert result.ok and result.rows_imported == 2, [e.format("stored.jsonl") for e in result.errors]
    assert sorted(Annotation.objects.filter(project=alpha).values_list("label__name", flat=True)) == sorted([FILLER, "a" + FILLER])
