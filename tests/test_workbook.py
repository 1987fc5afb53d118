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
