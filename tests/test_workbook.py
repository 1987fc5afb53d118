"""Excel and CSV for offices: headers in the report's language, fitted widths, frozen header and
autofilter, number formats (printed decimals, % for rates), readable unique sheet names, CSV in
UTF-8 with a BOM, no formula injection, and the same bytes from two builds."""
from __future__ import annotations

import csv
import hashlib
import io
import zipfile

import openpyxl
import pandas as pd
import pytest

from analysis import content as c
from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.report import ProvinceReport
from analysis.workbook import sheet_names, write_csv, write_xlsx


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DATA_DIR)


@pytest.fixture(scope="module")
def exported(ds, tmp_path_factory):
    out = {}
    for lang in ("vi", "en"):
        d = tmp_path_factory.mktemp(f"export-{lang}")
        out[lang] = ProvinceReport(ds, "bac-kan", "2024-07", lang=lang).export(d, ("xlsx", "csv"))
    return out


def test_headers_widths_freeze_filter_and_formats(exported):
    wb = openpyxl.load_workbook(exported["vi"]["xlsx"])
    ws = wb["Kết quả chung"]
    headers = [cell.value for cell in ws[1]]
    assert headers[:5] == ["Mã đơn vị", "Đơn vị", "Tổng điểm", "Xếp loại", "Xếp loại (tính lại)"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(headers))}3"
    total = ws.cell(row=2, column=3)
    assert total.value == 82.88 and total.number_format == "#,##0.00"
    assert ws.cell(row=2, column=4).value is None or isinstance(ws.cell(row=2, column=4).value, str)
    assert ws.cell(row=2, column=5).value == "Tốt"
    # widths fit the longest cell of each column (a source title is longer than its header)
    src_col = headers.index("Nguồn") + 1
    letter = openpyxl.utils.get_column_letter(src_col)
    longest = max(len(str(ws.cell(row=r, column=src_col).value)) for r in range(1, ws.max_row + 1))
    assert ws.column_dimensions[letter].width == min(60, longest + 2)
    # a rate is a fraction shown with %
    groups = wb["Điểm – tỉnh Bắc Kạn"]
    share_col = [cell.value for cell in groups[1]].index("Tỷ lệ so với tối đa (%)") + 1
    cell = groups.cell(row=2, column=share_col)
    assert cell.number_format == "0.0%" and cell.value == pytest.approx(14.1 / 18)
    # p-values with three decimals, never 16 digits
    corr = wb["Tương quan"]
    p_col = [cell.value for cell in corr[1]].index("p") + 1
    assert corr.cell(row=2, column=p_col).number_format == "0.000"


def test_sheet_names_are_readable_unique_and_short(exported):
    for lang in ("vi", "en"):
        names = openpyxl.load_workbook(exported[lang]["xlsx"]).sheetnames
        assert len(names) == len(set(n.casefold() for n in names))
        assert all(len(n) <= 31 for n in names)
        assert not any(n.startswith(("ndicator", "_")) for n in names)
    en = openpyxl.load_workbook(exported["en"]["xlsx"]).sheetnames
    assert "Headline" in en and "Recommendations" in en
    assert sheet_names(["a" * 40, "a" * 40]) == ["a" * 30 + "…", "a" * 26 + "… (2)"]


def test_headers_follow_the_language(exported):
    en = openpyxl.load_workbook(exported["en"]["xlsx"])["Headline"]
    assert [cell.value for cell in en[1]][:4] == ["Unit id", "Unit", "Total", "Band"]
    assert en.cell(row=2, column=5).value == "Good"


def test_csv_is_utf8_with_bom_and_localised(exported):
    raw = (exported["vi"]["csv"] / "headline.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Mã đơn vị", "Đơn vị", "Tổng điểm"]
    assert rows[1][1] == "tỉnh Bắc Kạn" and rows[1][2] == "82.88"


def _injection_content(lang="vi"):
    table = pd.DataFrame({"unit": ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "xã A"],
                          "total": [1.0, 2, 3, 4, 5, 6, 7]})
    return c.Content("units", lang, c.Msg("section.units"), tables={"units": table})


def test_formula_like_text_is_written_as_text(tmp_path):
    path = write_xlsx([_injection_content()], tmp_path / "x.xlsx", "vi")
    ws = openpyxl.load_workbook(path)["Kết quả các đơn vị"]
    cells = [ws.cell(row=r, column=1) for r in range(2, 9)]
    assert [cell.value for cell in cells] == ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx",
                                              "xã A"]
    assert all(cell.data_type == "s" for cell in cells)
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula element anywhere
    out = write_csv([_injection_content()], tmp_path / "csv", "vi")
    rows = list(csv.reader(io.StringIO((out / "units.csv").read_bytes().decode("utf-8-sig"), newline="")))
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "xã A"]
    assert rows[1][1] == "1"  # numbers stay numbers


def test_two_builds_give_the_same_bytes(ds, tmp_path):
    digests = []
    for k in range(2):
        paths = ProvinceReport(ds, "bac-kan", "2024-07").export(tmp_path / str(k), ("xlsx", "docx"))
        digests.append({f: hashlib.sha256(p.read_bytes()).hexdigest() for f, p in paths.items()})
    assert digests[0] == digests[1]
    with zipfile.ZipFile(paths["xlsx"]) as z:
        assert {i.date_time for i in z.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z" in core and core.count("2000-01-01") == 2


def test_width_of_a_figure_is_the_length_it_is_printed_with():
    """Column widths count the characters of each figure as the report prints it (Babel), without
    printing every figure through Babel: checked against the printed text itself."""
    from analysis.render import cell_text
    from analysis.workbook import _printed_length

    values = [0, 0.0, -0.0, 0.004, -0.004, 0.005, 9.995, 99.999, 87.15, 87.1, 1234.5, -1234.567, 1e6, 12345678.9,
              float("nan"), None, 1 / 3, 0.0004, 0.2, "n/a"]
    for kind, decimals in [("number", None), ("number", 0), ("number", 1), ("number", 2), ("int", 0),
                           ("pvalue", 3)]:
        for value in values:
            if kind in ("int", "pvalue") and isinstance(value, float) and value < 0:
                continue
            for lang in ("vi", "en"):
                assert _printed_length(value, kind, decimals) == len(cell_text(value, kind, decimals, lang)), \
                    (value, kind, decimals, lang)


# --- the sheet rows written by hand are what openpyxl writes ----------------------------------
def _openpyxl_workbook(sections, lang: str) -> bytes:
    """The reference: the workbook written the plain openpyxl way, cell by cell (a styled cell
    for every header, figure and formula-like text; each width and number format from the figures
    one by one), saved by ``Workbook.save`` and made deterministic. write_xlsx writes the rows
    itself and must give these very bytes."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from analysis.render import NUMERIC_KINDS, cell_text, column_spec, header
    from analysis.workbook import (FORMULA_STARTS, _deterministic_zip, _number_format, _printed_length,
                                   export_tables)

    def missing(v):
        return v is None or (not isinstance(v, str) and pd.isna(v))

    tables = export_tables(sections)
    wb = Workbook(write_only=True)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="F2F2F2")
    aligned = {side: Alignment(horizontal=side, wrap_text=True, vertical="top") for side in ("left", "right")}
    for (_, _, df), sheet in zip(tables, sheet_names([t[1] for t in tables])):
        ws = wb.create_sheet(sheet)

        def text_cell(t):
            if t is None or not t.startswith(FORMULA_STARTS):
                return t
            cell = WriteOnlyCell(ws, value=t)
            cell.data_type, cell.quotePrefix = "s", True
            return cell

        heads, columns, widths = [], [], []
        for col in df.columns:
            kind, dec, unit = column_spec(df, col)
            numeric = kind in NUMERIC_KINDS
            head = WriteOnlyCell(ws, value=header(col, lang, unit))
            head.data_type = "s"
            head.font, head.fill, head.alignment = bold, fill, aligned["right" if numeric else "left"]
            heads.append(head)
            values = df[col].tolist()
            if numeric:
                fmt = _number_format(df, col, kind, dec, unit)
                cells = []
                for v in values:
                    if isinstance(v, str) or missing(v):
                        cells.append(text_cell(None if missing(v) else v))
                        continue
                    x = float(v)
                    cell = WriteOnlyCell(ws, value=x / 100 if unit == "percent" else
                                         int(x) if kind == "int" and x == int(x) else x)
                    cell.number_format = fmt
                    cells.append(cell)
                longest = max((_printed_length(v, kind, dec) for v in values), default=0)
                longest += 1 if unit == "percent" and values else 0
            else:
                texts = [None if missing(v) else cell_text(v, kind, dec, lang) for v in values]
                cells = [text_cell(t) for t in texts]
                longest = max((1 if t is None else len(t) for t in texts), default=0)
            columns.append(cells)
            widths.append(min(60, max(len(head.value), longest) + 2))
        for j, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(j)].width = w
        ws.freeze_panes = "A2"
        if len(df.columns):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(df.columns))}{max(1, len(df) + 1)}"
        ws.append(heads)
        for row in zip(*columns):
            ws.append(list(row))
    if not wb.sheetnames:
        wb.create_sheet("–")
    props = wb.properties
    props.creator = props.lastModifiedBy = "analysis-766"
    props.created = props.modified = pd.Timestamp("2000-01-01").to_pydatetime()
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_zip(buf.getvalue())


def _awkward_content(lang="vi"):
    """Tables with every kind of cell the writer treats apart."""
    n = 9
    text = ["", "  spaces around ", "#N/A", "=1+1", "-2", "a\r\nb\tc", "<&>\"' x", "😀 xã Đông", None]
    notes = [1.5, "n/a", None, 2.25, float("nan"), "=SUM(A1)", 7.0, -0.004, 1234567.891]
    units = pd.DataFrame({
        "text": text,
        "long": ["x" * 40000] + ["y"] * (n - 1),  # cut to Excel's 32,767 characters, width 60
        "first_late": [None, None, None, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],  # its style comes after "=1+1"'s
        "notes": notes,
        "share": [12.5, 100.0, 0.0, float("nan"), 33.333, 50.0, 7.25, 99.999, 1.0],
        "count": [1, 2, 3, 4, 5, 6, 7, 8, 10 ** 17],
        "whole": [1.0, 2.5, float("nan"), 4.0, -5.0, 0.0, -0.0, 8.0, 9.0],
        "p": [0.0004, 0.05, 0.0, -0.2, 1.0, 0.001, 0.0009999, float("nan"), 0.5],
        "auto": [87.15, 87.1, -1234.5, 9.995, 0.004, 1 / 3, 20.0, 1e6, -99.99],
        "negative": [-12345.25, 1.25, 2.0, 3.0, 4.0, 5.0, 99999.5, 7.0, 8.5],  # the longest is the smallest
        "nullable": pd.array([1, None, 3, 4, 5, 6, 7, 8, 9], dtype="Int64"),
        "inf": [1.5, float("inf"), 2.0, -float("inf"), 3.0, 4.0, 5.0, 6.0, 7.0],
        "flag": [True, False] * 4 + [True],
        "band": ["Tốt", "Khá", "Tốt", None, "Xuất sắc", "Tốt", "Trung bình", "Khá", "Tốt"],
    })
    units.attrs = {"kinds": {"notes": "number", "share": "number", "count": "int", "whole": "int", "p": "pvalue",
                             "first_late": "number", "band": "band", "nullable": "number"},
                   "units": {"share": "percent"}, "decimals": {"share": 1, "p": 3, "inf": 1, "first_late": 0}}
    empty = pd.DataFrame({"score": pd.Series([], dtype="float64"), "name": pd.Series([], dtype=object)})
    no_columns = pd.DataFrame(index=range(3))
    return [c.Content("units", lang, c.Msg("section.units"), tables={"units": units}),
            c.Content("groups", lang, c.Msg("section.groups"), tables={"groups_a": empty, "groups_b": no_columns})]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_rows_written_by_hand_are_what_openpyxl_writes(tmp_path, lang):
    sections = _awkward_content(lang)
    path = write_xlsx(sections, tmp_path / "x.xlsx", lang)
    assert path.read_bytes() == _openpyxl_workbook(sections, lang)
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert [ws.cell(row=r, column=1).value for r in (2, 3, 4, 5)] == [None, "  spaces around ", "#N/A", "=1+1"]
    assert ws.cell(row=5, column=1).data_type == "s" and ws.cell(row=5, column=1).quotePrefix


def test_report_workbook_is_what_openpyxl_writes(ds, tmp_path):
    for lang in ("vi", "en"):
        sections = ProvinceReport(ds, "bac-kan", "2024-07", lang=lang).sections()
        path = write_xlsx(sections, tmp_path / f"{lang}.xlsx", lang)
        assert path.read_bytes() == _openpyxl_workbook(sections, lang)


def test_text_a_sheet_cannot_hold_is_refused(tmp_path):
    from openpyxl.utils.exceptions import IllegalCharacterError

    bad = [c.Content("units", "vi", c.Msg("section.units"), tables={"units": pd.DataFrame({"unit": ["a\x0bb"]})})]
    with pytest.raises(IllegalCharacterError):
        write_xlsx(bad, tmp_path / "x.xlsx", "vi")
    with pytest.raises(IllegalCharacterError):
        _openpyxl_workbook(bad, "vi")
    assert not (tmp_path / "x.xlsx").exists()


def _reference_csv(sections, lang: str) -> dict[str, bytes]:
    """The CSV files printed value by value (the reference for write_csv)."""
    from analysis.render import NUMERIC_KINDS, cell_text, column_spec, header
    from analysis.workbook import export_tables, neutralise

    def missing(v):
        return v is None or (not isinstance(v, str) and pd.isna(v))

    out = {}
    for name, _, df in export_tables(sections):
        cols = list(df.columns)
        specs = [column_spec(df, col) for col in cols]
        columns = []
        for col, (kind, dec, _) in zip(cols, specs):
            values = df[col].tolist()
            if kind in NUMERIC_KINDS:
                columns.append(["" if missing(v) else neutralise(v) if isinstance(v, str) else
                                str(int(v)) if kind == "int" else repr(float(v)).removesuffix(".0") for v in values])
            else:
                columns.append(["" if missing(v) else neutralise(cell_text(v, kind, dec, lang)) for v in values])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([header(col, lang, unit) for col, (_, _, unit) in zip(cols, specs)])
        w.writerows(zip(*columns))
        out[f"{name}.csv"] = buf.getvalue().encode("utf-8-sig")
    return out


@pytest.mark.parametrize("fresh", [False, True])
def test_csv_files_are_the_values_printed_one_by_one(tmp_path, fresh):
    sections = _awkward_content("vi")
    out = write_csv(sections, tmp_path / "csv", "vi", fresh=fresh)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == _reference_csv(sections, "vi")
