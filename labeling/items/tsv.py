"""Which way a TSV file was written. Plain TSV (IANA text/tab-separated-values, GLUE, PostgreSQL's
COPY text output) has no quoting: a double quote is an ordinary character and every physical line is
one row. Spreadsheets and pandas write TSV with quoting: a cell holding a quote, a tab or a line break
is wrapped in quotes and its quotes doubled. Read always with quoting, a plain text that starts with a
quote ran on to the next quote, silently joining rows under the wrong label; read always plain, a
quoted file kept its quotes in every such text. So the file decides: one whose cells that begin with
a quote are all whole quoted cells is quoted; one with none is plain; one with both cannot be read
safely either way and is refused, naming a line of each. Plain Python."""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable

# A whole cell in quotes, as spreadsheets and pandas write one: its own quotes doubled.
_QUOTED_CELL = re.compile(r'"(?:[^"]|"")*"')


class MixedQuoting(ValueError):
    """The file has quoted cells and cells that begin with a quote unquoted; the message says where."""


def tsv_quoting(lines: Iterable[str]) -> int:
    """csv.QUOTE_MINIMAL for a TSV written with quoting, csv.QUOTE_NONE for a plain one, from the
    file's physical lines (the header's included); MixedQuoting for a file with both kinds."""
    quoted = plain = None
    for number, line in enumerate(lines, start=1):
        for cell in line.rstrip("\r\n").split("\t"):
            if cell.startswith('"'):
                if _QUOTED_CELL.fullmatch(cell):
                    quoted = quoted or number
                else:
                    plain = plain or number
        if quoted and plain:
            raise MixedQuoting(
                f"this TSV file cannot be read safely: line {quoted} has a cell in quotes, as spreadsheets and pandas "
                f"write a quoted TSV, while line {plain} has a cell that begins with a quote without being quoted, as "
                "a plain TSV has. Save it as CSV or JSON Lines, or as TSV without quoting.")
    return csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
