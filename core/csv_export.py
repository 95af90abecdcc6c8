"""CSV downloads that a spreadsheet opens safely: the one guard against CSV (formula) injection for every export.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with an apostrophe, so Excel,
LibreOffice and Google Sheets show it as text instead of running it as a formula (`=HYPERLINK(…)`, `@SUM(…)`).
Numbers stay numbers: a cell that is nothing but a plain decimal number — `-2.000`, `-3.50`, whether it came as a
Decimal, an int or text — is written unchanged, so a negative quantity or total still sums in the spreadsheet.
"""

import csv
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")


def csv_cell(value) -> str:
    """`value` as the text of one CSV cell, neutralised when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_response(filename: str, header: Sequence, rows: Iterable[Sequence]) -> HttpResponse:
    """A `text/csv` attachment named `filename`: the header, then the rows, every cell through `csv_cell`."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([csv_cell(value) for value in header])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return response
