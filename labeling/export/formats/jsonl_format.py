"""JSON lines: one object per item, texts exactly as stored."""
import json
from collections.abc import Iterable, Iterator

from labeling.export.formats.base import ExportFormat


def write(rows: Iterable[dict]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


FORMAT = ExportFormat("jsonl", "application/x-ndjson; charset=utf-8", write)
