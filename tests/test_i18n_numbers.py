"""The fast notation of :func:`analysis.i18n.number` prints exactly what Babel prints.

Reports print tens of thousands of figures, so :func:`number` formats with Python's own
``format`` and swaps the separators in, where the result is certain to equal Babel's. These
tests hold it to Babel's output (the reference, computed here directly) over many values, every
decimals setting, both signs, halves that round either way and magnitudes on both sides of the
fast path's limit.
"""
import math
import random

import pytest
from babel.numbers import format_decimal

from analysis.errors import ParameterError
from analysis.i18n import DASH, LANGS, LOCALES, decimals_needed, number


def babel_number(value, lang, decimals):
    """The figure as Babel prints it (the reference)."""
    v = float(value)
    d = decimals_needed(v) if decimals is None else decimals
    v = round(v, d) + 0.0
    pattern = "#,##0" + ("." + "0" * d if d else "")
    return format_decimal(v if v != 0 else 0.0, format=pattern, locale=LOCALES[lang])


def _values():
    rng = random.Random(766)
    values = [0, 0.0, -0.0, 1, -1, 0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 2.675, 1.005, 87.15, 87.1, 99.995,
              -0.004, -0.005, 0.0004, 999.9999, 1000, 1234.5, -1234.5, 1e6, 123456789.125,
              9.999999e14, 1e15, -1e15, 1.5e15, 12345678901234567, 1e20, -3.3e21, 1 / 3, 2 / 3, math.pi]
    for _ in range(1000):
        scale = 10 ** rng.randint(-6, 17)
        values.append(rng.choice((1, -1)) * rng.random() * scale)
        values.append(round(rng.uniform(-1000, 1000), rng.randint(0, 4)))
        values.append(rng.randint(-10 ** 7, 10 ** 7) / 8)  # exact halves, quarters, eighths
    return values


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("decimals", [None, 0, 1, 2, 3, 4, 5, 6, 7, 9])
def test_number_matches_babel(lang, decimals):
    for v in _values():
        try:
            expected = babel_number(v, lang, decimals)
        except ArithmeticError as e:  # Babel cannot quantize 1e21 to 7 decimals: neither can number
            with pytest.raises(type(e)):
                number(v, lang, decimals)
            continue
        assert number(v, lang, decimals) == expected, (v, decimals)


def test_number_missing_and_errors():
    assert number(float("nan"), "vi") == DASH and number(None, "en", 2) == DASH
    assert number(float("inf"), "vi", 1) == babel_number(float("inf"), "vi", 1)
    with pytest.raises(ParameterError, match="'lang'"):
        number(1.5, "fr", 1)


def test_number_notation_by_language():
    assert number(-1234567.891, "vi", 2) == "-1.234.567,89"
    assert number(-1234567.891, "en", 2) == "-1,234,567.89"
    assert number(-0.004, "vi", 2) == "0,00"  # no "-0"
