"""A cell that starts with a quote it never closes (a hand-edited or tool-written CSV:
`"27 inch monitor arrived broken,billing`) makes the CSV parser read the rest of the file as that
one cell. With "skip invalid" ticked, the 2,000 rows after it vanish into one rejected row: the import
reports 2 rows, 1 imported, 1 rejected, with the message "malformed CSV: unexpected end of data" at
line 3, which says neither that a quote is unclosed nor that the rest of the file went with it."""
import pytest

from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


def test_an_unclosed_quote_is_named_and_the_lost_rows_counted(project_factory, tmp_path):
    project = project_factory("stray", labels=("billing",), sources=("email",))
    rows = [b"text,label", b"row one,billing", b'"27 inch monitor arrived broken,billing']
    rows += [b"row %d,billing" % i for i in range(3, 2003)]
    path = tmp_path / "tickets.csv"
    path.write_bytes(b"\r\n".join(rows) + b"\r\n")
    result = import_path(project, path, skip_invalid=True)
    messages = [e.format("tickets.csv") for e in result.errors]
    assert result.rows_total == 2002 or any("quote" in m for m in messages), (result.rows_total, result.rows_imported, messages)
