"""What an export format is: a function from the export's rows (dicts, see
labeling.export.services.iter_rows) to text chunks, plus how to serve the result. A format that
takes options names them in ``options``; the export passes it only those (see
labeling.export.services.stream_export)."""
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFormat:
    name: str
    content_type: str
    write: Callable[..., Iterator[str]]  # write(rows: Iterable[dict], **options) -> text chunks
    header_lines: int = 0  # lines before the first row (a row count reads lines minus these)
    options: tuple[str, ...] = ()  # of "neutralise_formulas", "metadata_keys"



