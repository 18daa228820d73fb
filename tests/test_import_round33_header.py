"""A 'text' header carrying an invisible character: a file re-saved by an editor gets one UTF-8 BOM
per save, a name copied from elsewhere a zero-width space. Every leading BOM comes off the first
line, known columns are matched ignoring invisible characters, and a header quoted in a message has
its invisible characters written out (\\uXXXX), never printed raw."""
import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def project(project_factory):
    return project_factory("header", labels=("billing", "login"), sources=("email",))


def imported(project):
    return list(Annotation.objects.filter(project=project).values_list("item__text", "label__name", "item__metadata"))


@pytest.mark.parametrize("head", [BOM * 2, BOM * 3, "\u200b".encode(), BOM + "\u200b".encode()],
                         ids=["two-boms", "three-boms", "zwsp", "bom-zwsp"])
def test_a_text_header_with_invisible_characters_imports(project, tmp_path, head):
    path = tmp_path / "resaved.csv"
    path.write_bytes(head + b"text,label\nhello,billing\n")
    result = import_path(project, path)
    assert result.ok, [e.format("resaved.csv") for e in result.errors]
    assert imported(project) == [("hello", "billing", {})]


def test_invisible_characters_inside_known_names(project, tmp_path):
    path = tmp_path / "pasted.tsv"
    path.write_bytes("te\u200bxt\tLabel\u2060\tsource\u200d\nhello\tlogin\temail\n".encode())
    result = import_path(project, path)
    assert result.ok, [e.format("pasted.tsv") for e in result.errors]
    assert imported(project) == [("hello", "login", {})]
    assert Item.objects.get(project=project).source.name == "email"


def test_a_jsonl_file_saved_twice_imports(project, tmp_path):
    path = tmp_path / "resaved.jsonl"
    path.write_bytes(BOM * 2 + b'{"text": "hello", "label": "billing"}\n')
    result = import_path(project, path)
    assert result.ok, [e.format("resaved.jsonl") for e in result.errors]
    assert imported(project) == [("hello", "billing", {})]


def test_the_missing_text_message_writes_invisible_characters_out(project, tmp_path):
    path = tmp_path / "no_text.csv"
    path.write_bytes(BOM * 2 + "body\u200b,label\u202e\nhello,billing\n".encode())
    result = import_path(project, path)
    assert not result.ok and len(result.errors) == 1
    error = result.errors[0]
    assert (error.line, error.field) == (1, "text")
    assert error.message == "missing required column 'text' (the header has: body\\u200b, label\\u202e)"
    assert not {"\u200b", "\u202e", "\ufeff"} & set(error.format("no_text.csv"))


def test_a_column_and_its_invisible_twin_are_one_column(project, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_bytes("text,label,\u200btext\nhello,billing,other\n".encode())
    result = import_path(project, path)
    assert not result.ok and Item.objects.filter(project=project).count() == 0
    assert [(e.line, e.field) for e in result.errors] == [(1, "text")]
    assert result.errors[0].message == "the column 'text' appears twice in the header (written 'text' and '\\u200btext')"
