"""What an import reports besides its items: what its write did (``Written``; the summary of labels
brought to items the project held and of labels an export copied that were left out is worded by
``summary_note``, kept with the counts on ImportBatch), and the rejects file (the rows set aside,
with their reasons)."""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from .csv_injection import neutralise
from .models import summary_note  # its wording lives with the counts it words (ImportBatch.note)
from .readers import FileError, open_reader
from .validation import Validation

__all__ = ["Written", "summary_note", "write_rejects"]


@dataclass
class Written:
    items: int  # items made
    labels_attached: int  # labels brought to items the project held
    copied_labels_left_out: int  # of the rows written (items made without the label an export copied)


def write_rejects(path: Path, fmt: str, v: Validation, rejects_path: Path, filename: str) -> None:
    """The rejected rows with their reasons, as CSV: file, line, field, reason, raw (the row as read).
    Written beside the target and renamed onto it, so the rejects download is never a half-written
    file. People open it in a spreadsheet, so every cell a spreadsheet would run as a formula (a file
    name or a raw row starting with =, +, -, @ …) gets a leading ' as in the CSV export: take it off
    a raw row before importing that row again."""
    reader = open_reader(path, fmt)
    partial = rejects_path.with_name(rejects_path.name + ".partial")
    try:
        with open(partial, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["file", "line", "field", "reason", "raw"])
            try:
                for ordinal, record in enumerate(reader.records()):
                    for error in v.rejected.get(ordinal, ()):
                        writer.writerow([neutralise(cell) for cell in (
                            filename, error.line, error.field or "", error.message, record.raw.rstrip("\r\n"))])
            except FileError:
                pass
        os.replace(partial, rejects_path)
    finally:
        partial.unlink(missing_ok=True)
