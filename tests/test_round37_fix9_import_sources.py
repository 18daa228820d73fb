"""An import into a project that allows new sources creates only source names the sources pages
would take (label_names.source_name_errors): a new name with a control character, with nothing
visible, mixing scripts in a word, or looking like a stored source or one an earlier row of the
file creates, refuses its row by file, line and field (they were created: "Email" beside "email"
split the quotas and filters)."""
import json

import pytest

from labeling.items.models import Item
from labeling.items.services import import_path
from labeling.projects.models import Source

pytestmark = pytest.mark.django_db

CYRILLIC_A = "\u0430"


@pytest.fixture
def project(project_factory):
    project = project_factory("src", labels=("billing",), sources=("email", "chat"))
    project.allow_new_sources = True
    project.save()
    return project


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_new_source_names_are_judged_as_the_sources_pages_judge_them(project, tmp_path):
    path = _write_jsonl(tmp_path / "s.jsonl", [
        {"text": "one", "source": "Email"},  # line 1: looks like the stored "email"
        {"text": "two", "source": "web\u0007"},  # line 2: a control character
        {"text": "three", "source": "\u200b\u200b"},  # line 3: nothing visible
        {"text": "four", "source": f"p{CYRILLIC_A}ypal"},  # line 4: Latin and Cyrillic in one word
        {"text": "five", "source": "web"},  # line 5: a fine new name
        {"text": "six", "source": "WEB"},  # line 6: looks like line 5's new source
        {"text": "seven", "source": "email"},  # line 7: the stored source, exactly
    ])
    result = import_path(project, path)
    assert not result.ok and result.rows_imported == 0
    errors = {e.line: e for e in result.errors}
    assert sorted(errors) == [1, 2, 3, 4, 6], [e.format("s.jsonl") for e in result.errors]
    assert all(e.field == "source" for e in result.errors)
    assert errors[1].format("s.jsonl").startswith("s.jsonl, line 1, field 'source': Source names “email” and "
                                                   "“Email” look alike"), errors[1].message
    assert "control characters" in errors[2].message
    assert "A source name is" in errors[3].message
    assert "Source name" in errors[4].message and "script" in errors[4].message, errors[4].message
    assert "“web” and “WEB” look alike" in errors[6].message, errors[6].message
    assert set(Source.objects.filter(project=project).values_list("name", flat=True)) == {"email", "chat"}
    assert not Item.objects.filter(project=project).exists()


def test_skipping_the_refused_rows_creates_only_the_good_sources(project, tmp_path):
    path = _write_jsonl(tmp_path / "s.jsonl", [
        {"text": "one", "source": "Chat"}, {"text": "two", "source": "web"}, {"text": "three", "source": "Web"},
    ])
    result = import_path(project, path, skip_invalid=True)
    assert result.rows_imported == 1 and [e.line for e in result.errors] == [1, 3]
    assert set(Source.objects.filter(project=project).values_list("name", flat=True)) == {"email", "chat", "web"}
