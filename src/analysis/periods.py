"""Reporting periods: month, week-of-month snapshot, quarter, half-year, year, and snapshots of a
running year, quarter or month "to date" (``ytd``, ``qtd``, ``mtd``), whose id records the as-of
date."""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from .errors import DataError, ParameterError

__all__ = ["Period", "parse_period", "PERIOD_FORMS", "SNAPSHOT_KINDS", "MERGER_DATE", "crosses_merger"]

PERIOD_FORMS = (
    "YYYY-MM (month), YYYY-MM-wN (week snapshot), YYYY-QN, YYYY-HN, YYYY, "
    "YYYY-ytd-MM-DD / YYYY-qtd-MM-DD / YYYY-mtd-MM-DD (year, quarter, month to date)")
# Kinds whose end date is a cut-off (a snapshot of a running period), not the period's end.
SNAPSHOT_KINDS = ("week", "ytd", "qtd", "mtd")
# 1 July 2025: 63 provinces became 34 and the district level was abolished.
MERGER_DATE = date(2025, 7, 1)

_PATTERNS = [
    ("month", re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})$")),
    ("week", re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-w(?P<w>\d)$")),
    ("quarter", re.compile(r"^(?P<y>\d{4})-Q(?P<q>\d)$")),
    ("half", re.compile(r"^(?P<y>\d{4})-H(?P<h>\d)$")),
    ("year", re.compile(r"^(?P<y>\d{4})$")),
    ("ytd", re.compile(r"^(?P<y>\d{4})-ytd-(?P<m>\d{2})-(?P<d>\d{2})$")),
    ("qtd", re.compile(r"^(?P<y>\d{4})-qtd-(?P<m>\d{2})-(?P<d>\d{2})$")),
    ("mtd", re.compile(r"^(?P<y>\d{4})-mtd-(?P<m>\d{2})-(?P<d>\d{2})$")),
]


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period. ``end`` is the cut-off for snapshots (weeks and year to date)."""

    start: date
    end: date
    kind: str
    period_id: str
    week: int | None = None

    @property
    def year(self) -> int:
        return self.start.year

    @property
    def month(self) -> int | None:
        return self.start.month if self.kind in ("month", "week", "mtd") else None

    def label(self, lang: str = "vi") -> str:
        """The reader's name of the period in ``lang``, from the message catalog (the one path
        every report, figure and importer uses: :func:`analysis.i18n.period_label`).

        >>> parse_period("2024-07").label("vi"), parse_period("2024-Q3").label("en")
        ('Tháng 7/2024', 'Q3 2024')
        >>> parse_period("2026-mtd-11-30").label("vi")
        'Tháng 11/2026 (đến 30/11/2026)'
        """
        from .i18n import period_label

        return period_label(self.period_id, lang, cutoff=self.end if self.kind == "week" else None)

    def previous(self) -> str | None:
        """Id of the period a change is measured against: the month before for a month or a
        week snapshot (reports compare a snapshot with the last full month), the previous
        quarter, half or year. None for year to date."""
        if self.kind in ("month", "week"):
            y, m = (self.year, self.start.month - 1) if self.start.month > 1 else (self.year - 1, 12)
            return f"{y}-{m:02d}"
        if self.kind in ("quarter", "qtd"):
            q = (self.start.month - 1) // 3 + 1
            return f"{self.year}-Q{q - 1}" if q > 1 else f"{self.year - 1}-Q4"
        if self.kind == "half":
            return f"{self.year}-H1" if self.start.month > 1 else f"{self.year - 1}-H2"
        if self.kind == "year":
            return str(self.year - 1)
        return None


def parse_period(text: str, *, cutoff: date | None = None, file=None, row=None, column=None,
                 parameter: str | None = None) -> Period:
    """Parse a period id.

    Parameters
    ----------
    text : str
        ``2024-07``, ``2024-05-w1``, ``2024-Q3``, ``2024-H1``, ``2024``, ``2026-ytd-09-24``,
        ``2026-qtd-09-26`` (the quarter holding 26 Sep, to that day), ``2026-mtd-11-30``.
    cutoff : date, optional
        Cut-off of a week snapshot (``chốt số liệu``); defaults to the 7th day of the week.
    file, row, column, parameter
        Where the text came from, for the error message.

    Raises
    ------
    DataError or ParameterError
        When the id has none of the allowed forms or names an impossible date.

    Examples
    --------
    >>> p = parse_period("2024-05-w1", cutoff=date(2024, 5, 6))
    >>> p.kind, p.start.isoformat(), p.end.isoformat(), p.label("vi")
    ('week', '2024-05-01', '2024-05-06', 'Tháng 5/2024 – Tuần 1 (chốt 06/05/2024)')
    >>> parse_period("2024-07").previous()
    '2024-06'
    >>> p = parse_period("2026-qtd-09-26")
    >>> p.kind, p.start.isoformat(), p.end.isoformat(), p.label("vi"), p.previous()
    ('qtd', '2026-07-01', '2026-09-26', 'Quý 3/2026 (đến 26/09/2026)', '2026-Q2')
    """
    def fail(why: str):
        msg = f"period '{text}' {why}; allowed forms: {PERIOD_FORMS}"
        if parameter is not None:
            raise ParameterError(f"parameter '{parameter}': {msg}")
        raise DataError(msg, file=file, row=row, column=column)

    s = str(text).strip()
    for kind, pattern in _PATTERNS:
        m = pattern.match(s)
        if not m:
            continue
        y = int(m["y"])
        if not 2000 <= y <= 2100:
            fail("has a year outside 2000–2100")
        if kind in ("month", "week", "ytd", "qtd", "mtd"):
            month = int(m["m"])
            if not 1 <= month <= 12:
                fail("has a month outside 01–12")
        if kind == "month":
            return Period(date(y, month, 1), date(y, month, calendar.monthrange(y, month)[1]), kind, s)
        if kind == "week":
            w = int(m["w"])
            if not 1 <= w <= 5:
                fail("has a week outside w1–w5")
            last = calendar.monthrange(y, month)[1]
            end = cutoff or date(y, month, min(7 * w, last))
            if not (date(y, month, 1) <= end <= date(y, month, last)):
                fail(f"has cut-off {end.isoformat()} outside its month")
            return Period(date(y, month, 1), end, kind, s, week=w)
        if kind == "quarter":
            q = int(m["q"])
            if not 1 <= q <= 4:
                fail("has a quarter outside Q1–Q4")
            m0 = 3 * (q - 1) + 1
            return Period(date(y, m0, 1), date(y, m0 + 2, calendar.monthrange(y, m0 + 2)[1]), kind, s)
        if kind == "half":
            h = int(m["h"])
            if h not in (1, 2):
                fail("has a half outside H1–H2")
            return Period(date(y, 1 if h == 1 else 7, 1), date(y, 6, 30) if h == 1 else date(y, 12, 31), kind, s)
        if kind == "year":
            return Period(date(y, 1, 1), date(y, 12, 31), kind, s)
        try:
            end = date(y, month, int(m["d"]))
        except ValueError:
            fail("names a day that does not exist")
        if kind == "qtd":
            return Period(date(y, 3 * ((month - 1) // 3) + 1, 1), end, kind, s)
        if kind == "mtd":
            return Period(date(y, month, 1), end, kind, s)
        return Period(date(y, 1, 1), end, kind, s)
    fail("is malformed")


def crosses_merger(periods) -> bool:
    """True when a series of periods spans 1 July 2025 (63 → 34 provinces): not comparable."""
    parsed = [p if isinstance(p, Period) else parse_period(p) for p in periods]
    return any(p.end < MERGER_DATE for p in parsed) and any(p.start >= MERGER_DATE for p in parsed)
