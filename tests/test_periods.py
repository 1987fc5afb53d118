"""Period ids: parsing, labels, previous period, the 2025 merger."""
from datetime import date

import pytest

from analysis.errors import DataError, ParameterError
from analysis.periods import crosses_merger, parse_period


@pytest.mark.parametrize("pid, kind, start, end", [
    ("2024-07", "month", date(2024, 7, 1), date(2024, 7, 31)),
    ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29)),
    ("2024-Q3", "quarter", date(2024, 7, 1), date(2024, 9, 30)),
    ("2024-H1", "half", date(2024, 1, 1), date(2024, 6, 30)),
    ("2022", "year", date(2022, 1, 1), date(2022, 12, 31)),
    ("2026-ytd-09-24", "ytd", date(2026, 1, 1), date(2026, 9, 24)),
    ("2024-05-w1", "week", date(2024, 5, 1), date(2024, 5, 7)),
])
def test_parse(pid, kind, start, end):
    p = parse_period(pid)
    assert (p.kind, p.start, p.end) == (kind, start, end)


def test_week_snapshot_with_cutoff():
    p = parse_period("2024-05-w1", cutoff=date(2024, 5, 6))
    assert p.end == date(2024, 5, 6)
    assert p.label("vi") == "Tháng 5/2024 – Tuần 1 (chốt 06/05/2024)"
    assert p.previous() == "2024-04"


@pytest.mark.parametrize("bad", ["2024-13", "07/2024", "2024-7", "2024-Q5", "2024-H3", "2024-02-w9",
                                 "2026-ytd-02-30", "1999-01", "Tháng 7"])
def test_malformed(bad):
    with pytest.raises(DataError, match="allowed forms"):
        parse_period(bad, file="periods.csv", row=3, column="period_id")


def test_parameter_error_names_parameter():
    with pytest.raises(ParameterError, match="parameter 'period'"):
        parse_period("July", parameter="period")


def test_previous_and_labels():
    assert parse_period("2024-01").previous() == "2023-12"
    assert parse_period("2024-Q1").previous() == "2023-Q4"
    assert parse_period("2024").previous() == "2023"
    assert parse_period("2024-07").label("vi") == "Tháng 7/2024"
    assert parse_period("2024-Q3").label("vi") == "Quý 3/2024"


def test_merger():
    assert crosses_merger(["2025-06", "2025-07"])
    assert not crosses_merger(["2024-01", "2024-07"])
