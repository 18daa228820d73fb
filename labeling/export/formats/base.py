"""What an export format is: a function from the export's rows (dicts, see
labeling.export.services.iter_rows) to text chunks, plus how to serve the result."""
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFormat:
    name: str
    content_type: str
    write: Callable[[Iterable[dict]], Iterator[str]]
    header_lines: int = 0  # lines before the first row (a row count reads lines minus these)
