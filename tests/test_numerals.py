"""Vietnamese and machine number notation."""
import math

import pytest
from hypothesis import given, strategies as st

from analysis.errors import DataError
from analysis.numerals import format_number, format_vi, parse_number


@pytest.mark.parametrize("text, integer, expected", [
    ("87,15", False, 87.15),          # decimal comma
    ("87.15", False, 87.15),          # decimal point (Sa Đéc prints 51.53)
    ("1.001", True, 1001),            # thousands point in a count
    ("959.733", True, 959733),
    ("1.234.567", False, 1234567.0),  # two points can only group thousands
    ("1.234,5", False, 1234.5),
    ("1,234.5", False, 1234.5),
    ("-13,96", False, -13.96),
    ("−0,5", False, -0.5),            # Unicode minus
    ("100 %", False, 100.0),
    ("2.780", True, 2780),
    ("", False, None),
    (None, False, None),
    (float("nan"), False, None),
    (12, True, 12),
])
def test_parse(text, integer, expected):
    assert parse_number(text, integer=integer) == expected


@pytest.mark.parametrize("text, integer, words", [
    ("1.001", False, "ambiguous"),
    ("12.345", False, "ambiguous"),
    ("8,7,1", False, "not a number"),
    ("abc", False, "not a number"),
    ("2,5", True, "whole number"),
    ("1.5", True, "whole number"),
])
def test_reject(text, integer, words):
    with pytest.raises(DataError, match=words) as info:
        parse_number(text, integer=integer, file="x.csv", row=7, column="value")
    assert "x.csv, row 7, column 'value'" in str(info.value)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 4)))
def test_format_round_trips_without_ambiguity(x):
    text = format_number(x)
    assert math.isclose(parse_number(text), x, abs_tol=1e-9)


def test_format_vi():
    assert format_vi(87.15) == "87,15"
    assert format_vi(959733, 0) == "959.733"
    assert format_vi(float("nan")) == "–"
