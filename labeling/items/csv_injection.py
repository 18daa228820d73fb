"""Cells a spreadsheet would run as a formula (CSV injection), made inert for every CSV the app
writes for people to open: the label export and the import's rejects file. Here, under items,
because the export imports items, never the other way round."""
import re

# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# A cell that already starts with ' gets one more, so that a guarded file is unambiguous: every
# leading ' in it is the guard's, and taking one off gives the text back (labeling.items.export_files).
GUARDED_STARTS = (*FORMULA_STARTS, "'")

# A negative number as every spreadsheet reads one, and as str() writes an int or a finite float:
# -17, -122.42, -1e-05, -1E5. ASCII digits only (a spreadsheet reads no other digits as a number).
# Such a cell can name no cell and call no function, so it runs nothing: like a positive number, it
# is written as it is. Anything else starting with - (-2+3, - 3, -.5, -inf, -1,5) is guarded.
PLAIN_NEGATIVE_NUMBER = re.compile(r"-[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def neutralise(cell):
    """The cell with a leading ' where it is text a spreadsheet would run as a formula (the
    spreadsheet then shows it as text, without the ') or already starts with '; any other cell as
    it is. Numbers are never prefixed (a spreadsheet reads -122.42 as a number, not a formula),
    whether stored as numbers (JSONL metadata) or as text that is exactly a plain number (CSV
    metadata, which is stored as strings, or an id such as -17), so a guarded export may hold a
    negative number unguarded in any column: labeling.items.export_files does not take one as a
    sign that the guard was off."""
    if isinstance(cell, str) and cell.startswith(GUARDED_STARTS) and not PLAIN_NEGATIVE_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
