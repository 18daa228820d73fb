"""Cells a spreadsheet would run as a formula (CSV injection), made inert for every CSV the app
writes for people to open: the label export and the import's rejects file. Here, under items,
because the export imports items, never the other way round."""

# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# A cell that already starts with ' gets one more, so that a guarded file is unambiguous: every
# leading ' in it is the guard's, and taking one off gives the text back (labeling.items.export_files).
GUARDED_STARTS = (*FORMULA_STARTS, "'")


def neutralise(cell):
    """The cell with a leading ' where it is text a spreadsheet would run as a formula (the
    spreadsheet then shows it as text, without the ') or already starts with '; any other cell as
    it is. Numbers are never prefixed (a spreadsheet reads -122.42 as a number, not a formula), so
    a guarded export may hold a negative number unguarded: labeling.items.export_files does not
    take one in a metadata column as a sign that the guard was off."""
    if isinstance(cell, str) and cell.startswith(GUARDED_STARTS):
        return "'" + cell
    return cell
