"""Vietnamese and machine number notation: parse without guessing, write without ambiguity."""
from __future__ import annotations

import math
import re

from .errors import DataError

__all__ = ["parse_number", "format_number", "format_vi"]

_SPACES = re.compile(r"[\s\u00a0\u202f]+")
# Blanks inside a number are allowed only as a thousands separator: 1 234 567, 1 234,5.
_SPACE_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?$")
# Larger magnitudes are not a score, rate, count or day figure: an overflow, a typo or junk.
MAX_MAGNITUDE = 1e15
_MACHINE = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_GROUPED_DOT = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+$")  # 1.001, 959.733, 1.234.567
_VI_DECIMAL = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$")  # 87,15  1.234,5
_EN_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+\.\d+$")  # 1,234.5


def parse_number(text, *, integer: bool = False, file=None, row=None, column=None):
    """Parse a number written in machine or Vietnamese notation.

    Vietnamese notation uses a comma as decimal separator and a point to group thousands
    (``87,15`` is 87.15, ``1.001`` is 1001). Machine notation uses a point as decimal
    separator. A single point followed by exactly three digits can be read both ways, so it is
    rejected unless ``integer`` is true (a count has no decimals, so the point groups
    thousands).

    Parameters
    ----------
    text : str, int, float or None
        The cell. Empty, None and NaN give None. A trailing ``%`` is ignored.
    integer : bool
        The value is a whole-number count.
    file, row, column
        Location reported in errors.

    Returns
    -------
    float, int or None

    Raises
    ------
    DataError
        When the text is not a number, is ambiguous, or is not whole for a count.

    Examples
    --------
    >>> parse_number("87,15")
    87.15
    >>> parse_number("1.001", integer=True)
    1001
    >>> parse_number("51.53")
    51.53
    """
    where = {"file": file, "row": row, "column": column}
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if isinstance(text, float) and math.isnan(text):
            return None
        value = text
        raw = repr(text)
    else:
        raw = str(text)
        s = raw.strip().removesuffix("%").strip().replace("\u2212", "-")
        if _SPACES.search(s):
            if not _SPACE_GROUPED.match(s):
                raise DataError(f"'{raw}' has blanks between digits; a blank may only separate "
                                f"groups of three digits (1 234 567): write the number without it",
                                **where)
            s = _SPACES.sub("", s)
        if s == "":
            return None
        if _GROUPED_DOT.match(s):
            if integer or s.count(".") > 1:  # several points can only group thousands
                value = int(s.replace(".", ""))
            else:
                plain = s.replace(".", "")
                raise DataError(
                    f"'{raw}' is ambiguous: a point followed by three digits reads as "
                    f"{plain} (Vietnamese thousands point) or {s} (decimal point); "
                    f"write {plain} or {s.replace('.', ',')} (decimal comma), or use 4 decimals",
                    **where,
                )
        elif _MACHINE.match(s):
            value = float(s)
        elif _VI_DECIMAL.match(s):
            value = float(s.replace(".", "").replace(",", "."))
        elif _EN_GROUPED.match(s):
            value = float(s.replace(",", ""))
        else:
            raise DataError(
                f"'{raw}' is not a number; allowed: 87.15, 87,15 (decimal comma), "
                f"1001 or 1.001 for a count",
                **where,
            )
    if (isinstance(value, float) and not math.isfinite(value)) or abs(value) >= MAX_MAGNITUDE:
        shown = raw if len(raw) <= 24 else f"{raw[:12]}… ({len(raw)} characters)"
        raise DataError(f"'{shown}' is not a finite number below 10^15 (an overflow or a typo)", **where)
    if integer:
        if float(value) != int(value):
            raise DataError(f"'{raw}' is not a whole number; a count must be whole", **where)
        return int(value)
    return float(value)


def format_number(value, *, max_decimals: int = 4) -> str:
    """Write a number in machine notation that :func:`parse_number` reads back unambiguously.

    A value with exactly three decimals gets a fourth (``12.3450``), so it cannot be mistaken
    for a Vietnamese thousands group.

    Examples
    --------
    >>> format_number(87.15), format_number(1001.0), format_number(12.345)
    ('87.15', '1001', '12.3450')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{float(value):.{max_decimals}f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if "." in text and len(text.split(".", 1)[1]) == 3:
        text += "0"
    return text


def format_vi(value, decimals: int = 2, *, thousands: bool = True) -> str:
    """Format a number the Vietnamese way for report text (``87,15``, ``1.001``).

    Examples
    --------
    >>> format_vi(87.15), format_vi(1001, 0), format_vi(-0.5, 1)
    ('87,15', '1.001', '-0,5')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:,.{decimals}f}" if thousands else f"{value:.{decimals}f}"
    return text.replace(",", "\u0000").replace(".", ",").replace("\u0000", ".")
