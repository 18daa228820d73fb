"""Cells a spreadsheet would run as a formula (CSV injection), made inert for every CSV the app
writes for people to open: the label export and the import's rejects file. Here, under items,
because the export imports items, never the other way round."""

# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell):
    """The cell with a leading ' where it is text a spreadsheet would run as a formula (the
    spreadsheet then shows it as text, without the '); any other cell as it is."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
