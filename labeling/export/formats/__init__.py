"""THE registry of label export formats: name → ``ExportFormat`` (how rows become text, its
content type and file extension). The page, the API and ``manage.py export_labels`` offer exactly
these. Adding a format: a module here with a ``FORMAT = ExportFormat(...)`` record, plus one line
below."""
from labeling.export.formats import csv_format, jsonl_format
from labeling.export.formats.base import ExportFormat

FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    csv_format.FORMAT,
    jsonl_format.FORMAT,
)}

__all__ = ["FORMATS", "ExportFormat"]
