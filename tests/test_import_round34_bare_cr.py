"""A bare CR (old Mac line end) is a line end like LF and CRLF, wherever it is: before the last
line of a file without a final line end too, however short that line. The reader took a CR two
bytes from the end of a chunk for the CR of a CRLF, so "…\\rb" (no LF after it) stayed one line:
the last row merged into the one before, or the CR was kept inside a field."""
import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(project_factory):
    return project_factory("bare-cr", labels=("a", "b"), sources=())


def _stored(project):
    labels = dict(Annotation.objects.filter(project=project).values_list("item__text", "label__name"))
    return [(text, labels.get(text)) for text in Item.objects.filter(project=project).order_by("id")
            .values_list("text", flat=True)]


@pytest.mark.parametrize("name,body", [
    ("mac.csv", b"text,label\nfirst,a\rz,b"),
    ("mac.tsv", b"text\tlabel\nfirst\ta\rz\tb"),
    ("all_cr.csv", b"text,label\rfirst,a\rz,b"),
    ("all_cr.tsv", b"text\tlabel\rfirst\ta\rz\tb"),
])
def test_a_bare_cr_before_the_last_line_ends_the_line(project, tmp_path, name, body):
    path = tmp_path / name
    path.write_bytes(body)
    result = import_path(project, path)
    assert result.ok, [e.format(name) for e in result.errors]
    assert _stored(project) == [("first", "a"), ("z", "b")]


@pytest.mark.parametrize("name,body,texts", [
    ("one_column.csv", b"text\nfirst\rz", ["first", "z"]),
    ("one_column.tsv", b"text\nfirst\rz", ["first", "z"]),
    ("crlf_then_cr.csv", b"text\r\nfirst\r\nsecond\rz", ["first", "second", "z"]),
    ("all_cr.tsv", b"text\rfirst\rz", ["first", "z"]),
])
def test_a_bare_cr_before_a_one_character_last_line_ends_the_line(project, tmp_path, name, body, texts):
    path = tmp_path / name
    path.write_bytes(body)
    result = import_path(project, path)
    assert result.ok, [e.format(name) for e in result.errors]
    assert _stored(project) == [(text, None) for text in texts]


def test_a_line_that_starts_with_a_bare_cr_is_split_too(project, tmp_path):
    path = tmp_path / "lead_cr.csv"
    path.write_bytes(b"text\nfirst\n\rz")
    result = import_path(project, path)
    assert result.ok, [e.format("lead_cr.csv") for e in result.errors]
    assert _stored(project) == [("first", None), ("z", None)]
