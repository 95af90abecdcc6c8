"""The one CSV guard every export uses (core.csv_export)."""

from decimal import Decimal

import pytest

from core.csv_export import csv_cell


@pytest.mark.parametrize(
    "value",
    ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1+2", "\r=1+2", "-", "-Infinity", "-1e3", '=HYPERLINK("x")'],
)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize(
    ("value", "written"),
    [(Decimal("-2.000"), "-2.000"), ("-3.50", "-3.50"), (-7, "-7"), (Decimal("12.00"), "12.00"), ("Quiche", "Quiche")],
)
def test_numbers_and_plain_text_are_written_unchanged(value, written):
    assert csv_cell(value) == written


def test_an_empty_value_is_an_empty_cell():
    assert csv_cell(None) == ""
