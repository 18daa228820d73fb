"""Excel in a European locale saves "CSV" with semicolons, and its "Text (Tab delimited)" format is a
.txt file, which the importer reads as comma-separated CSV (docs/intake.md). Both are refused with
"missing required column 'text'" although the header's first cell plainly is text: the message
does not say that the file is separated by ';' or a tab, nor what to do."""
import pytest

from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name,content,separator", [
    ("Tabelle1.csv", "\ufefftext;label\r\nBonjour, ça va ?;billing\r\n".encode(), ";"),
    ("Book1.txt", b"text\tlabel\r\nhello\tbilling\r\n", "tab"),
])
def test_the_message_names_the_separator(project_factory, tmp_path, name, content, separator):
    project = project_factory("sep", labels=("billing",), sources=("email",))
    path = tmp_path / name
    path.write_bytes(content)
    result = import_path(project, path)
    assert not result.ok and len(result.errors) == 1
    message = result.errors[0].message
    assert "missing required column 'text'" not in message, message
    assert separator in message, message
