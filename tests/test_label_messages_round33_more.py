"""More messages that quote user-chosen names write their invisible characters out (\\u202e,
\\u200b): hotkey clashes, sources and external ids an import refuses, a source that cannot be
removed, an answer's label deleted meanwhile, and a lead page's row deleted by someone else."""
import json

import pytest
from django.core.exceptions import ValidationError

from labeling.annotations.services import InvalidAnswer, require_label
from labeling.items.models import Item
from labeling.items.services import import_path
from labeling.projects import services
from labeling.projects.models import Label, Project, Source
from learner.text import text_hash

from .test_label_messages_round33 import MARKS, _page_text
from .test_label_rules_other import labels_page_post

pytestmark = pytest.mark.django_db


def _row_messages(project, tmp_path, rows) -> list[str]:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    result = import_path(project, path)
    assert not result.ok
    return [error.message for error in result.errors]


@MARKS
def test_a_hotkey_clash_writes_the_label_names_out(world, mark, code):
    alpha = world["alpha"]
    Label.objects.create(project=alpha, name=f"re{mark}fund", hotkey="z")
    with pytest.raises(ValidationError) as refused:
        services.save_label(alpha, None, name=f"ch{mark}arge", hotkey="z")
    assert f"“z” is used by ch{code}arge, re{code}fund" in " ".join(refused.value.messages)


@MARKS
def test_import_source_and_external_id_messages_write_them_out(world, tmp_path, mark, code):
    alpha = world["alpha"]
    Source.objects.create(project=alpha, name=f"we{mark}b", quota=0.0)
    Item.objects.create(project=alpha, text="stored", text_hash=text_hash("stored"), external_id=f"id{mark}9")
    text = " ".join(_row_messages(alpha, tmp_path, [
        {"text": "one", "source": f"fo{mark}rum"},
        {"text": "two", "external_id": f"id{mark}1"},
        {"text": "three", "external_id": f"id{mark}1"},
        {"text": "four", "external_id": f"id{mark}9"},
    ]))
    assert f"unknown source 'fo{code}rum' (known: chat, email, we{code}b)" in text, text
    assert f"duplicate external_id 'id{code}1' (also on line 2)" in text, text
    assert f"external_id 'id{code}9' is already in project 'alpha'" in text, text
    assert mark not in text


@MARKS
def test_a_source_with_items_that_cannot_be_removed_is_written_out(world, mark, code):
    alpha = world["alpha"]
    busy = Source.objects.create(project=alpha, name=f"ma{mark}il", quota=0.0)
    Item.objects.create(project=alpha, source=busy, text="kept", text_hash=text_hash("kept"))
    keep = [{"id": s.pk, "name": s.name, "quota": 0.5} for s in alpha.sources.exclude(pk=busy.pk)]
    with pytest.raises(ValidationError) as refused:
        services.replace_sources(alpha, keep)
    assert f"The source “ma{code}il” has items and cannot be removed" in " ".join(refused.value.messages)


@MARKS
def test_an_answers_label_deleted_meanwhile_is_written_out(world, mark, code):
    alpha = world["alpha"]
    label = Label.objects.create(project=alpha, name=f"go{mark}ne", hotkey="y")
    Label.objects.filter(pk=label.pk).delete()
    with pytest.raises(InvalidAnswer) as refused:
        require_label(label)
    assert f"the label “go{code}ne” no longer exists" in refused.value.message


@MARKS
def test_a_labels_page_row_deleted_by_someone_else_is_written_out(client, world, mark, code):
    alpha = world["alpha"]
    Label.objects.create(project=alpha, name=f"ol{mark}d")
    data = labels_page_post(Project.objects.get(pk=alpha.pk), {})
    Label.objects.filter(project=alpha, name=f"ol{mark}d").delete()
    client.force_login(world["lead"])
    page = _page_text(client.post("/p/alpha/settings/labels/", data))
    assert f"The label “ol{code}d” was deleted by someone else since this page loaded" in page
