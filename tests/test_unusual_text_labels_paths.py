"""The look-alike label-name rule (test_unusual_text_labels.py) on the other paths that create or
rename labels: the admin's project page (its inline label rows leave the project out of each row's
checks), the new-project form and the API's ``labels`` list, and imports into a project that
allows new labels. A name of invisible characters only, or one that looks like another label's
("bil\u200bling" beside "billing", full-width letters), is refused with a message naming the
field (or the file, line and field), and nothing is written; exact names keep working."""
import json

import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.items.services import import_path
from labeling.projects.models import Label, Project

from .test_admin_label_rows import _change_form, _row_prefix
from .test_browse_api import api_as

pytestmark = pytest.mark.django_db

LOOKS_LIKE_BILLING = "A label named “billing” already exists in this project (names that look the same, ignoring " \
                     "invisible characters and variants, count as one)."


def _names(project):
    return sorted(project.labels.values_list("name", flat=True))


def _add_rows(data, names):
    """The change form with new label rows, as the admin's "Add another Label" link adds them."""
    total = int(data["labels-TOTAL_FORMS"])
    for i, name in enumerate(names, start=total):
        data.update({f"labels-{i}-name": name, f"labels-{i}-order": "0", f"labels-{i}-description": "",
                     f"labels-{i}-hotkey": "", f"labels-{i}-id": "", f"labels-{i}-project": data["labels-0-project"]})
    data["labels-TOTAL_FORMS"] = str(total + len(names))
    return data


def test_admin_project_page_refuses_look_alike_label_rows(admin_client, project_factory):
    project = project_factory("adm", labels=("billing", "login"))
    login = project.labels.get(name="login")
    url = f"/admin/projects/project/{project.pk}/change/"

    data = _change_form(admin_client, project)
    data[f"{_row_prefix(data, login)}-name"] = "bil\u200bling"  # renamed to look like billing
    answer = admin_client.post(url, data)
    assert answer.status_code == 200, answer.status_code  # the form again with the message, not saved
    assert LOOKS_LIKE_BILLING in answer.content.decode()

    # two new rows that look alike, and a new row that looks like a stored label (full-width letters)
    for names, message in ((["ab", "a\u200bb"], "A label named “ab” already exists"),
                           (["ｌｏｇｉｎ"], "A label named “login” already exists")):
        answer = admin_client.post(url, _add_rows(_change_form(admin_client, project), names))
        assert answer.status_code == 200, answer.status_code
        assert message in answer.content.decode()
    assert _names(project) == ["billing", "login"]


def test_admin_project_page_keeps_stored_look_alikes_editable(admin_client, project_factory):
    project = project_factory("adm2", labels=("billing", "login"))
    twin = Label.objects.create(project=project, name="bill\u200bing", order=5)  # stored before the rule
    data = _change_form(admin_client, project)
    data[f"{_row_prefix(data, twin)}-description"] = "kept"
    answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    twin.refresh_from_db()
    assert twin.description == "kept"
    # …but a third look-alike is refused, naming a stored one
    answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/",
                               _add_rows(_change_form(admin_client, project), ["bi\u200dlling"]))
    assert answer.status_code == 200 and LOOKS_LIKE_BILLING in answer.content.decode()
    assert set(_names(project)) == {"bill\u200bing", "billing", "login"}


@pytest.mark.parametrize(("labels", "message"), [
    (["billing", "\u200b"], "Line 2: a label name is empty once invisible characters"),
    (["billing", "refund > \u202e\u202c"], "Line 2: a label name is empty once invisible characters"),
    (["billing", "bil\u200bling"], "Line 2: “bil\\u200bling” looks like “billing”, already named on line 1"),
    (["billing > refund", "ｂｉｌｌｉｎｇ > late"], "Line 2: “ｂｉｌｌｉｎｇ” looks like “billing”, already named on line 1"),
    (["spam", "billing > sp\u200bam"], "Line 2: “sp\\u200bam” looks like “spam”, already named on line 1"),
    (["billing > bill\u2060ing"], "Line 1: “bill\\u2060ing” looks like “billing”, already named on line 1"),
], ids=ascii)
def test_api_new_project_refuses_invisible_and_look_alike_label_lines(world, labels, message):
    answer = api_as(world["lead"]).post("/api/projects/", {"slug": "tickets", "name": "Tickets", "labels": labels},
                                        format="json")
    assert answer.status_code == 400, answer.content
    errors = answer.json()
    assert list(errors) == ["labels"] and len(errors["labels"]) == 1 and errors["labels"][0].startswith(message), errors
    assert not Project.objects.filter(slug="tickets").exists()


def test_new_project_page_refuses_an_invisible_label_line_and_keeps_exact_repeats(client, world):
    client.force_login(world["lead"])
    form = {"name": "Tickets", "slug": "tickets", "sources": "web"}
    answer = client.post("/projects/new/", {**form, "labels": "billing\n\u200b\u200b\nbilling > refund\n"})
    assert answer.status_code == 200
    assert "Line 2: a label name is empty once invisible characters" in answer.content.decode()
    assert not Project.objects.filter(slug="tickets").exists()
    # the same name written again is one label, as before
    answer = client.post("/projects/new/", {**form, "labels": "billing\nbilling > refund\nbilling > late\n"})
    assert answer.status_code == 302
    assert sorted(Project.objects.get(slug="tickets").labels.values_list("name", "parent__name")) == [
        ("billing", None), ("late", "billing"), ("refund", "billing")]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def open_project(project_factory):
    project = project_factory("intake", labels=("billing", "login"), sources=("email",))
    project.allow_new_labels = True
    project.save()
    return project


UNUSUAL_ROWS = [
    {"text": "invisible label", "label": "\u200b"},  # line 1
    {"text": "looks like billing", "label": "bil\u200bling"},  # line 2
    {"text": "full-width coarse", "coarse_label": "ｌｏｇｉｎ"},  # line 3
    {"text": "new fine under a look-alike", "label": "late", "coarse_label": "bill\u200eing"},  # line 4
    {"text": "a new label", "label": "spam"},  # line 5
    {"text": "looks like the new one", "label": "sp\u00adam"},  # line 6
    {"text": "exact name", "label": "billing"},  # line 7
    {"text": "invisible coarse", "coarse_label": "\ufeff"},  # line 8
]


def test_import_refuses_invisible_and_look_alike_label_values_per_row(open_project, tmp_path):
    path = _write_jsonl(tmp_path / "unusual.jsonl", UNUSUAL_ROWS)
    result = import_path(open_project, path)
    assert not result.ok and result.rows_imported == 0
    where = [(e.line, e.field) for e in result.errors]
    assert where == [(1, "label"), (2, "label"), (3, "coarse_label"), (4, "coarse_label"), (6, "label"),
                     (8, "coarse_label")], [e.format("unusual.jsonl") for e in result.errors]
    text = [e.format("unusual.jsonl") for e in result.errors]
    assert text[0].startswith("unusual.jsonl, line 1, field 'label': the label '\\u200b' is empty once invisible")
    assert text[1].startswith("unusual.jsonl, line 2, field 'label': 'bil\\u200bling' looks like the existing "
                              "label “billing”")
    assert "'ｌｏｇｉｎ' looks like the existing label “login”" in text[2]
    assert "'bill\\u200eing' looks like the existing label “billing”" in text[3]
    assert "'sp\\u00adam' looks like the new label, created by an earlier row of this file, “spam”" in text[4]
    assert "is empty once invisible characters" in text[5]
    assert _names(open_project) == ["billing", "login"] and not Item.objects.filter(project=open_project).exists()


def test_import_skipping_invalid_rows_creates_only_exactly_named_labels(open_project, tmp_path):
    path = _write_jsonl(tmp_path / "unusual.jsonl", UNUSUAL_ROWS)
    rejects = tmp_path / "rejects.csv"
    result = import_path(open_project, path, skip_invalid=True, rejects_path=rejects)
    assert result.ok and result.rows_imported == 2 and result.rows_rejected == 6
    assert _names(open_project) == ["billing", "login", "spam"]
    answers = Annotation.objects.filter(project=open_project).values_list("item__text", "label__name")
    assert sorted(answers) == [("a new label", "spam"), ("exact name", "billing")]
    assert "looks like the existing label “billing”" in rejects.read_text(encoding="utf-8")
