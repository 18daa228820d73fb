"""Every message that quotes a label name writes its invisible characters out (\\u202e, \\u200b), as
the look-alike messages do: printed raw, a right-to-left override (U+202E) in a name reverses the
rest of the message a lead reads, and two names apart only by a zero-width space (U+200B) read the
same. Checked through the import file (pass 1's row checks), the new-project page's label lines,
the label services behind the API and the labels page, and the whole-set taxonomy check."""
import html
import json

import pytest
from django.core.exceptions import ValidationError

from labeling.items.services import import_path
from labeling.projects import services
from labeling.projects.models import Label, Project
from labeling.projects.taxonomy import label_set_errors

from .test_browse_api import api_as
from .test_label_rules_other import labels_page_post

pytestmark = pytest.mark.django_db

# The invisible character each test puts in its names, and how a message must write it.
MARKS = pytest.mark.parametrize(("mark", "code"), [("\u202e", "\\u202e"), ("\u200b", "\\u200b")], ids=["rlo", "zwsp"])


def _import(project, tmp_path, rows):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    result = import_path(project, path)
    assert not result.ok
    return result


def _strings(value):
    """Every string in a JSON answer, however nested."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [text for item in value for text in _strings(item)] if isinstance(value, list) else []


def _page_text(answer) -> str:
    return html.unescape(answer.content.decode())


@pytest.fixture
def taxonomy(project_factory):
    """Project labels named with the mark: a coarse one and a fine one under it, beside "billing"."""
    def _make(mark, slug="msgs"):
        project = project_factory(slug, labels=("billing", f"pa{mark}y", f"ca{mark}rd"), sources=())
        project.labels.filter(name=f"ca{mark}rd").update(parent=project.labels.get(name=f"pa{mark}y"))
        return project
    return _make


@MARKS
def test_import_row_errors_write_the_file_and_project_names_out(taxonomy, tmp_path, mark, code):
    project = taxonomy(mark)
    result = _import(project, tmp_path, [
        {"text": "one", "label": f"re{mark}fund"},  # line 1
        {"text": "two", "coarse_label": f"sp{mark}am"},  # line 2
        {"text": "three", "coarse_label": f"ca{mark}rd"},  # line 3
        {"text": "four", "label": f"ca{mark}rd", "coarse_label": "billing"},  # line 4
        {"text": "five", "label": "billing", "coarse_label": f"ot{mark}her"},  # line 5
    ])
    text = [error.format("rows.jsonl") for error in result.errors]
    known = f"(known: billing, ca{code}rd, pa{code}y)"
    assert text == [
        f"rows.jsonl, line 1, field 'label': unknown label 're{code}fund' {known}",
        f"rows.jsonl, line 2, field 'coarse_label': unknown label 'sp{code}am' {known}",
        f"rows.jsonl, line 3, field 'coarse_label': 'ca{code}rd' is a fine label (under 'pa{code}y'), not a coarse one",
        f"rows.jsonl, line 4, field 'coarse_label': coarse_label 'billing' does not match label 'ca{code}rd', "
        f"whose parent is 'pa{code}y'",
        f"rows.jsonl, line 5, field 'coarse_label': coarse_label 'ot{code}her' does not match label 'billing', "
        "which has no parent",
    ], text
    result.batch.refresh_from_db()
    assert mark not in json.dumps(result.batch.errors, ensure_ascii=False)  # as stored and shown on the page


@MARKS
def test_import_naming_a_fine_label_as_the_coarse_one_of_a_new_label(taxonomy, tmp_path, mark, code):
    project = taxonomy(mark)
    Project.objects.filter(pk=project.pk).update(allow_new_labels=True)
    project.refresh_from_db()
    result = _import(project, tmp_path, [
        {"text": "new fine label", "label": f"fr{mark}esh", "coarse_label": f"ca{mark}rd"},
        {"text": "new fine label, under a fine one created by the file", "label": "leaf", "coarse_label": f"st{mark}em"},
        {"text": "and", "label": "twig", "coarse_label": "leaf"},
    ])
    assert [error.format("f") for error in result.errors] == [
        f"f, line 1, field 'coarse_label': 'ca{code}rd' is a fine label (under 'pa{code}y'), not a coarse one",
        f"f, line 3, field 'coarse_label': 'leaf' is a fine label (under 'st{code}em'), not a coarse one",
    ]


@MARKS
def test_new_project_lines_write_the_names_out(client, world, mark, code):
    client.force_login(world["lead"])
    lines = [f"a{mark} > b > c", f"x{mark} >", f"pa > fi{mark}", f"fi{mark} > sub", f"na{mark}", f"pa > na{mark}"]
    answer = client.post("/projects/new/", {"name": "Tickets", "slug": "tickets", "sources": "web",
                                            "labels": "\n".join(lines)})
    assert answer.status_code == 200 and not Project.objects.filter(slug="tickets").exists()
    page = _page_text(answer)
    for message in (f"Line 1 (“a{code} > b > c”): labels have two levels, coarse > fine.",
                    f"Line 2 (“x{code} >”): a name is missing on one side of “>”.",
                    f"Line 4: “fi{code}” is a fine label (line 3), so it cannot have fine labels under it.",
                    f"Line 6: “na{code}” is already named on line 5; label names are unique within a project."):
        assert message in page, message

    answer = api_as(world["lead"]).post("/api/projects/", {"slug": "t2", "name": "T2", "labels": lines}, format="json")
    assert answer.status_code == 400
    assert f"Line 1 (“a{code} > b > c”): labels have two levels, coarse > fine." in answer.json()["labels"]


@MARKS
def test_label_saves_and_deletes_write_the_names_out(world, mark, code):
    alpha = world["alpha"]
    ghost = Label.objects.create(project=alpha, name=f"gh{mark}ost", hotkey="q")
    loaded = Label.objects.get(pk=ghost.pk)
    Label.objects.filter(pk=ghost.pk).delete()
    with pytest.raises(ValidationError) as refused:
        services.save_label(alpha, loaded, description="edited on a page loaded before the delete")
    assert refused.value.message_dict == {"name": [f"The label “gh{code}ost” was deleted meanwhile; nothing was saved."]}

    gone_parent = Label.objects.create(project=alpha, name=f"pa{mark}rent", hotkey="w")
    Label.objects.filter(pk=gone_parent.pk).delete()
    with pytest.raises(ValidationError) as refused:
        services.save_label(alpha, alpha.labels.get(name="login"), parent=gone_parent)
    assert refused.value.message_dict == {
        "parent": [f"The parent label “pa{code}rent” was deleted meanwhile; nothing was saved."]}

    coarse = Label.objects.create(project=alpha, name=f"co{mark}arse", hotkey="e")
    Label.objects.create(project=alpha, name="fine", hotkey="r", parent=coarse)
    answer = api_as(world["lead"]).delete(f"/api/projects/alpha/labels/{coarse.pk}/")
    assert answer.status_code == 400, answer.content
    assert (f"The label “co{code}arse” is in use (fine labels refer to it) and cannot be deleted."
            in _strings(answer.json())), answer.json()
    assert Label.objects.filter(pk=coarse.pk).exists()


@pytest.fixture
def marked(world):
    def _make(mark):
        alpha = world["alpha"]
        return alpha, {name: Label.objects.create(project=alpha, name=f"{name}{mark}top", order=10 + i, hotkey=key)
                       for i, (name, key) in enumerate([("A", "q"), ("B", "w"), ("C", "e")])}
    return _make


@MARKS
def test_taxonomy_messages_of_the_api_write_the_names_out(world, marked, mark, code):
    alpha, made = marked(mark)
    api = api_as(world["lead"])
    answer = api.patch(f"/api/projects/alpha/labels/{made['C'].pk}/", {"parent": made["C"].pk}, format="json")
    assert answer.status_code == 400
    assert answer.json()["parent"] == [f"“C{code}top” cannot be its own parent."]
    assert api.patch(f"/api/projects/alpha/labels/{made['A'].pk}/", {"parent": made["C"].pk},
                     format="json").status_code == 200
    answer = api.patch(f"/api/projects/alpha/labels/{made['B'].pk}/", {"parent": made["A"].pk}, format="json")
    assert answer.status_code == 400
    assert answer.json()["parent"] == [f"“B{code}top” cannot go under “A{code}top”, which is itself under "
                                       f"“C{code}top”: taxonomies have two levels, coarse and fine."]


@MARKS
def test_taxonomy_messages_of_the_labels_page_write_the_names_out(client, world, marked, mark, code):
    alpha, made = marked(mark)
    Label.objects.filter(pk=made["B"].pk).update(parent=made["C"])
    client.force_login(world["lead"])
    data = labels_page_post(alpha, {})
    row = next(key for key, value in data.items() if key.endswith("-id") and value == made["C"].pk)
    data[row.replace("-id", "-DELETE")] = "on"
    page = _page_text(client.post("/p/alpha/settings/labels/", data, follow=True))
    assert f"“B{code}top” cannot go under “C{code}top”: that label is deleted in the same save." in page

    ticked = {f"A{mark}top": {"is_other": True}, f"C{mark}top": {"is_other": True}}
    page = _page_text(client.post("/p/alpha/settings/labels/", labels_page_post(alpha, ticked), follow=True))
    assert f"Other is ticked on “A{code}top” and “C{code}top”; a project has one top-level Other label" in page
    assert not alpha.labels.filter(is_other=True).exists()


@MARKS
def test_the_whole_set_check_writes_an_unknown_parents_child_out(mark, code):
    errors = label_set_errors({"new 0": (f"or{mark}phan", "elsewhere", False)}, {}, {})
    assert errors == {"parent": [f"The parent of “or{code}phan” is not a label of this project."]}
