"""A label created while an import's file was checked that looks like one the file would create is
named with its disguised letters written out (\\u0440 for a Cyrillic р), as the file's name is:
before, the created label was quoted as typed, so the message read "'pop' looks like the label “рор”",
two names the reader cannot tell apart."""
import pytest

from labeling.items.importer import run_import
from labeling.projects import services as project_services

from .test_import_writes_round34_meanwhile import _jsonl, _refused, project  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_label_created_meanwhile_is_written_apart(project, tmp_path):  # noqa: F811
    project.allow_new_labels = True
    project.save()
    path = _jsonl(tmp_path / "twin.jsonl", [{"text": "pop music", "label": "pop"}])

    def lead_creates_a_twin():
        project_services.save_label(project, None, name="\u0440\u043e\u0440", parent=None, hotkey="5")  # рор

    errors = _refused(run_import(project, path, after_validation=lead_creates_a_twin))

    assert [(line, field) for line, field, _ in errors] == [(1, "label")], errors
    assert errors[0][2].startswith("'pop' looks like the label “\\u0440\\u043e\\u0440”, created while the file "
                                   "was being checked"), errors
