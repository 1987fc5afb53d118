"""Tables printed a column at a time, and their body rows written by the template filter, give
what the per-cell code and the template loop gave (the references, written out here)."""
import math

import pandas as pd
import pytest
from markupsafe import Markup

from analysis.render import _rows_html, _table_block, cell_text, column_texts, environment

AWKWARD = [1, 1.0, True, "1", None, math.nan, -0.0, 0.0, "Tốt", "Khá", "Tốt", "<b>&'\"", "", pd.NA, 2.5]


@pytest.mark.parametrize("kind", ["text", "band", "group", "period", "number", "int", "category"])
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_column_texts_are_the_cells_printed_one_by_one(kind, lang):
    values = [v for v in AWKWARD if kind not in ("group", "period") or isinstance(v, str) or v is None]
    if kind == "period":
        values = ["2024-07", None, "2024-Q3", "2024-07"]
    if kind == "int":
        values = [v for v in values if not isinstance(v, float) or math.isnan(v) or v == int(v)]
    assert column_texts(values, kind, None, lang) == [cell_text(v, kind, None, lang) for v in values]


def test_rows_html_is_what_the_template_loop_wrote():
    loop = environment().from_string(
        '{% for row in rows %}\n<tr>{% for v in row %}<td class="{{ "num" if numeric[loop.index0] else "text" }}">'
        '{{ v }}</td>{% endfor %}</tr>\n{% endfor %}\n')
    rows = [["<b>&'\"", "1.234,5", ""], ["Tốt", Markup("<i>x</i>"), "–"], ["a\nb", "0", " x "]]
    numeric = [False, True, False]
    assert str(_rows_html(rows, numeric)) == loop.render(rows=rows, numeric=numeric)
    assert str(_rows_html([], numeric)) == loop.render(rows=[], numeric=numeric) == ""


def test_table_block_is_the_same_printed_a_row_or_a_column_at_a_time():
    df = pd.DataFrame({"unit": ["a", "b", None], "total": [87.15, None, 1234.5], "band": ["Tốt", "Khá", None]})
    df.attrs = {"kinds": {"band": "band"}, "decimals": {"total": 2}}
    block = _table_block(df, "vi", None)
    expected = [[cell_text(v, k, d, "vi") for v, (k, d) in zip(row, [("text", None), ("number", 2), ("band", None)])]
                for row in df.itertuples(index=False)]
    assert block["rows"] == expected
    assert _table_block(df, "vi", ("band", "unit"))["rows"] == [[r[2], r[0]] for r in expected]
