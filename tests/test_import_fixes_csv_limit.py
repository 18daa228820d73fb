"""A CSV cell longer than the csv module's old field limit (64 MiB) is refused by the importer's
own checks, naming the field, as the same text in JSON Lines is, instead of 'malformed CSV'."""
import pytest

from labeling.items.importer import run_import
from labeling.items.models import Item

OVER_OLD_LIMIT = 64 * 1024 * 1024 + 1


@pytest.fixture
def project(project_factory):
    return project_factory("huge", labels=("a",), sources=("web",))


@pytest.mark.parametrize("column", ["text", "note"])
def test_a_cell_over_64_mib_is_refused_by_field(project, tmp_path, column):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as out:
        out.write(b"text,note,source\n")
        out.write(b"a short row,,web\n")
        cells = {"text": b"short text", "note": b""}
        cells[column] = b"x" * OVER_OLD_LIMIT
        out.write(cells["text"] + b"," + cells["note"] + b",web\n")
        out.write(b"another short row,,web\n")
    result = run_import(project, path)
    assert not result.ok and Item.objects.filter(project=project).count() == 0
    assert [(e.line, e.field) for e in result.errors] == [(3, column)]
    message = result.errors[0].message
    if column == "text":
        assert message == f"the text has {OVER_OLD_LIMIT:,} characters, over the limit of 20,000"
    else:
        assert "LONGTAIL_MAX_METADATA_BYTES" in message and "'note' is the largest" in message
    assert "malformed CSV" not in message
