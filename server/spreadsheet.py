"""Exports opened in spreadsheets: text stays text (no formula injection, OWASP "CSV injection")."""
from __future__ import annotations

# A cell starting with one of these is run as a formula by Excel, LibreOffice or Google Sheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")

# XlsxWriter writes a str starting with "=" as a formula and one that looks like a URL as a link unless told not to.
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def csv_cell(value):
    """A CSV cell: text a spreadsheet would run as a formula gets a leading apostrophe; numbers are untouched."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_row(values) -> list:
    """csv_cell for each value of a row."""
    return [csv_cell(v) for v in values]


class SafeWriter:
    """csv.writer whose rows pass through csv_cell (same writerow/writerows)."""

    def __init__(self, buf, **kwargs):
        import csv
        self._w = csv.writer(buf, **kwargs)

    def writerow(self, row):
        return self._w.writerow(csv_row(row))

    def writerows(self, rows):
        for row in rows:
            self._w.writerow(csv_row(row))
