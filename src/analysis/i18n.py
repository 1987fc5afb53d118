"""Words and notation of a report language: the message catalogs and Babel number/date formats.

Every string a reader sees lives in ``locales/<lang>/LC_MESSAGES/messages.po`` (one catalog per
language, gettext PO format). The catalogs are read directly with Babel's PO reader, not
compiled to ``.mo``: a fresh clone installed with ``pip install -e .`` has no compile step to
forget, and there is no generated binary to keep in step. Message ids are keys
(``section.audit``), so a missing translation is an error, never a silent fall-back to the other
language. A new language is a new catalog file plus a locale in :data:`LOCALES`.
"""
from __future__ import annotations

import math
from datetime import date
from functools import lru_cache

from babel.dates import format_date
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from .config import PACKAGE_DIR
from .errors import ParameterError

__all__ = ["LANGS", "LOCALES", "LOCALE_DIR", "catalog", "text", "Translator", "number", "auto_number",
           "decimals_needed", "period_label", "date_label", "check_lang"]

LANGS = ("vi", "en")
LOCALES = {"vi": "vi_VN", "en": "en_GB"}
LOCALE_DIR = PACKAGE_DIR / "locales"
DASH = "–"  # a missing value, in every language


def check_lang(lang: str) -> str:
    """Return ``lang`` or raise a one-line ParameterError naming the allowed languages."""
    if lang not in LANGS:
        raise ParameterError(f"parameter 'lang': '{lang}' is not allowed; choose one of: {', '.join(LANGS)}")
    return lang


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """Every message of one language, id -> text.

    >>> catalog("en")["section.audit"]
    'Audit of the published figures'
    """
    check_lang(lang)
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        cat = read_po(fh, locale=lang)
    return {m.id: m.string for m in cat if m.id}


def text(lang: str, key: str, **values) -> str:
    """The message ``key`` in ``lang``, with ``{placeholders}`` filled.

    >>> text("vi", "list.others", n=3)
    'và 3 đơn vị khác'
    """
    try:
        message = catalog(lang)[key]
    except KeyError:
        raise ParameterError(f"message '{key}' is missing from the '{lang}' catalog "
                             f"({LOCALE_DIR / lang / 'LC_MESSAGES' / 'messages.po'})") from None
    return message.format(**values) if values else message


class Translator:
    """``_ = Translator("vi"); _("section.audit")``: the catalog of one language as a callable,
    with its number and period formats (what templates and renderers receive)."""

    def __init__(self, lang: str):
        self.lang = check_lang(lang)

    def __call__(self, key: str, **values) -> str:
        return text(self.lang, key, **values)

    def number(self, value, decimals: int | None = None) -> str:
        return number(value, self.lang, decimals)

    def period(self, period_id: str, cutoff: date | None = None) -> str:
        return period_label(period_id, self.lang, cutoff)


def _missing(value) -> bool:
    """None, NaN and pandas' NA (which refuses float())."""
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except ValueError:
        return False
    except TypeError:
        return True


def decimals_needed(value, most: int = 2) -> int:
    """The decimals a printed figure carries (``87.15`` -> 2, ``87.1`` -> 1, ``87`` -> 0).

    >>> decimals_needed(87.1), decimals_needed(20.0), decimals_needed(1/3)
    (1, 0, 2)
    """
    v = float(value)
    for d in range(most):
        if abs(v * 10 ** d - round(v * 10 ** d)) < 1e-9:
            return d
    return most


def number(value, lang: str, decimals: int | None = None) -> str:
    """A figure in the notation of ``lang`` (Babel): ``87,15`` and ``1.001`` in Vietnamese,
    ``87.15`` and ``1,001`` in English; ``None``/NaN -> ``–``; ``decimals=None`` prints the
    decimals the value needs (up to 2).

    >>> number(1234.5, "vi", 2), number(1234.5, "en", 2), number(87.1, "vi"), number(None, "en")
    ('1.234,50', '1,234.50', '87,1', '–')
    """
    if _missing(value):
        return DASH
    v = float(value)
    d = decimals_needed(v) if decimals is None else decimals
    v = round(v, d) + 0.0  # no "-0"
    if type(d) is int and 0 <= d <= _FAST_DECIMALS and -_FAST_LIMIT[d] < v < _FAST_LIMIT[d]:
        try:
            return format(v, _FAST_SPECS[d]).translate(_SEPARATORS[lang])
        except KeyError:
            check_lang(lang)
            _SEPARATORS[lang] = _separators(lang)
            return format(v, _FAST_SPECS[d]).translate(_SEPARATORS[lang])
    pattern, locale = _number_format(check_lang(lang), d)
    return format_decimal(v, format=pattern, locale=locale)


# Babel's formatting (a Decimal of the value quantized, grouped by the pattern, the locale's
# symbols swapped in) costs ~50 us a figure, and a report prints tens of thousands. Where the
# result is certain to be the same, Python's own ``format(v, ",.2f")`` does it with the symbols
# swapped: ``v`` is already rounded to ``d`` decimals, so it is the double nearest a decimal
# with ``d`` digits, and below 10**(15 - d) a double's spacing is far finer than 10**-d, so
# both print exactly that decimal. Larger figures, and more decimals, go through Babel;
# tests/test_i18n_numbers.py checks the two agree over many values in every language.
_FAST_DECIMALS = 6
_FAST_LIMIT = tuple(10.0 ** (15 - d) for d in range(_FAST_DECIMALS + 1))
_FAST_SPECS = tuple(f",.{d}f" for d in range(_FAST_DECIMALS + 1))
_SEPARATORS: dict[str, dict[int, str]] = {}


def _separators(lang: str) -> dict[int, str]:
    """``str.translate`` table from Python's notation (``1,234.5``, ``-``) to the language's,
    read from Babel's locale data (the symbols its number patterns use)."""
    from babel.numbers import get_decimal_symbol, get_group_symbol

    locale = _number_format(lang, 0)[1]
    table = {ord(","): get_group_symbol(locale), ord("."): get_decimal_symbol(locale)}
    # Babel writes a pattern's own minus ("-"), not the locale's minus sign
    if format_decimal(-1, format="#,##0", locale=locale) != "-1":  # pragma: no cover - a locale we do not ship
        raise RuntimeError(f"the number notation of '{lang}' needs its own minus sign")
    return table


@lru_cache(maxsize=None)
def _number_format(lang: str, decimals: int):
    """The parsed Babel pattern (``#,##0.00``) and locale of a notation: parsed once, not for
    every figure a report prints."""
    from babel import Locale
    from babel.numbers import parse_pattern

    return parse_pattern("#,##0" + ("." + "0" * decimals if decimals else "")), Locale.parse(LOCALES[lang])


def auto_number(value, lang: str) -> str:
    """:func:`number` with the decimals the value needs."""
    return number(value, lang, None)


def date_label(d: date, lang: str) -> str:
    """A date in the short numeric form of the language (``24/09/2026``, ``24/09/2026``).

    >>> date_label(date(2026, 9, 24), "vi")
    '24/09/2026'
    """
    return format_date(d, format="dd/MM/yyyy", locale=LOCALES[check_lang(lang)])


def period_label(period_id: str, lang: str, cutoff: date | None = None) -> str:
    """The reader's name of a period, from the catalog (``Tháng 7/2024``, ``July 2024``).

    >>> period_label("2024-07", "vi"), period_label("2024-07", "en"), period_label("2024-Q3", "en")
    ('Tháng 7/2024', 'July 2024', 'Q3 2024')
    """
    from .periods import parse_period

    p = parse_period(period_id, cutoff=cutoff)
    loc = LOCALES[check_lang(lang)]
    values = {"year": p.year, "month": p.start.month, "week": p.week,
              "month_name": format_date(p.start, format="LLLL", locale=loc),
              "quarter": (p.start.month - 1) // 3 + 1, "cutoff": date_label(p.end, lang)}
    key = {"month": "period.month", "week": "period.week", "quarter": "period.quarter", "year": "period.year",
           "half": "period.half1" if p.start.month == 1 else "period.half2",
           "qtd": "period.qtd", "mtd": "period.mtd"}.get(p.kind, "period.ytd")
    return text(lang, key, **values)
