"""Excel writes the rows of its used range that hold nothing as rows of bare delimiters (",,,"):
a sheet whose formatting reaches below the data ends in such rows. The reader skips a blank line, but
a row of only empty cells is refused as "the text is empty", so the whole upload fails (nothing
imported) for rows that hold no data at all."""
import pytest

from labeling.items.models import Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


def test_rows_of_only_empty_cells_are_blank_rows(project_factory, tmp_path):
    project = project_factory("excelrows", labels=("billing", "login"), sources=("email",))
    path = tmp_path / "Book1.csv"  # Excel "CSV UTF-8": BOM, CRLF, two unused columns in the used range
    path.write_bytes(b"\xef\xbb\xbftext,label,,\r\nhello,billing,,\r\nworld,login,,\r\n,,,\r\n,,,\r\n")
    result = import_path(project, path)
    assert [e.format("Book1.csv") for e in result.errors] == []
    assert result.ok and sorted(Item.objects.filter(project=project).values_list("text", flat=True)) == ["hello", "world"]
