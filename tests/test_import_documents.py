"""Report-document importer: the five seed texts reproduce the curated per-unit tables of data/;
hand-made markdown and .docx fixtures cover what is not in the seeds (unknown headers, unknown
units, ambiguous numbers, merged header cells, underlined runs, tables cut by a page break)."""
from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from analysis.config import DATA_DIR, SHARED_DIR
from analysis.dataset import load_dataset
from analysis.errors import DataError
from analysis.importers.documents import (HEADER_RULES, assemble_tables, import_document,
                                          text_items)

SEEDS = SHARED_DIR / "seeds"
FIXTURES = Path(__file__).parent / "fixtures" / "documents"
MINIMAL = Path(__file__).parent / "fixtures" / "minimal"

SCORE_FIELDS = ["value", "max_stated", "decimals", "rank", "rank_of", "rank_block", "band", "change", "marked"]
INDICATOR_FIELDS = ["value", "denominator", "decimals", "block", "marked"]

# This module checks the tables of the seeds row by row; the running text (headlines, lists,
# news prose) is checked figure by figure in tests/test_import_prose.py. Table sections are
# those whose name has 'bảng' or starts with 'Phụ lục'.
#
# Differences between the import and the curated table rows, with the reason. None remain: the
# two tables cut by a page break in Na Rì (the rate table after row 8, the classification table
# after row 7, the e-certification table after row 10 with a stray empty cell) are joined again,
# and every value, rank, band, change, mark, maximum and decimals count agrees.
KNOWN_DIFFERENCES: dict[str, dict] = {
    "000": {}, "001": {}, "002": {}, "003": {}, "004": {},
}


@pytest.fixture(scope="module")
def curated():
    return load_dataset(DATA_DIR)


def _norm(v):
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    return None if pd.isna(v) else v


def _rows(df: pd.DataFrame, key: list[str], fields: list[str]) -> Counter:
    """Multiset of (key, fields): two tables of one report may hold the same unit twice."""
    return Counter((tuple(_norm(r[k]) for k in key), tuple(_norm(r[f]) for f in fields))
                   for r in df.to_dict("records"))


def _is_table(section: pd.Series) -> pd.Series:
    return section.str.contains("bảng") | section.str.startswith("Phụ lục")


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"seed reports not found at {SEEDS}")
@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_seed_tables_reproduce_curated_data(curated, prefix):
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    result = import_document(path, dataset=curated)  # source found by the file's SHA-256
    # what is not read is only text: the tables are read in full
    assert not [u for u in result.uninterpreted if u.startswith("table")]
    sid = result.source_id
    assert curated.sources.set_index("source_id").loc[sid, "origin"] == f"shared/seeds/{path.name}"
    found = {}
    for table, key, fields in [
        ("scores", ["unit_id", "period_id", "group"], SCORE_FIELDS),
        ("indicators", ["unit_id", "period_id", "indicator", "measure", "category"], INDICATOR_FIELDS),
    ]:
        data = curated.table(table)
        expected = _rows(data[(data["source_id"] == sid) & _is_table(data["section"])], key, fields)
        mine = result.tables[table]
        got = _rows(mine[_is_table(mine["section"])], key, fields)
        found[table] = {"missing": sorted(map(str, expected - got)), "extra": sorted(map(str, got - expected))}
        found[table] = {k: v for k, v in found[table].items() if v}
    found = {k: v for k, v in found.items() if v}
    assert found == KNOWN_DIFFERENCES[prefix]


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"seed reports not found at {SEEDS}")
def test_seed_row_counts(curated):
    """Independent counts from the seed texts: Na Rì 17 communes × 6 scores, Phú Tân 19 rows ×
    (2 totals + 7 rates), Sa Đéc 3 × 9 scores."""
    counts = {}
    for path in sorted(SEEDS.glob("*.txt")):
        r = import_document(path, dataset=curated)
        s, i = r.tables["scores"], r.tables["indicators"]
        counts[path.name[:3]] = (int(_is_table(s["section"]).sum()), int(_is_table(i["section"]).sum()))
    assert counts == {"000": (17 * 6, 5 + 17 + 17 + 2 * 17), "001": (27, 9 + 10 + 2 * 10 + 2 * 9),
                      "002": (19 * 2, 19 * 7), "003": (0, 0), "004": (0, 0)}


@pytest.fixture
def minimal():
    return load_dataset(MINIMAL)


def test_markdown_fixture_reads_what_it_can_and_lists_the_rest(minimal):
    r = import_document(FIXTURES / "thu-2024-07.md", dataset=minimal)  # provenance from the sidecar
    assert r.source_id == "thu-2024-07-md"
    src = r.tables["sources"].iloc[0]
    assert src["kind"] == "synthetic" and src["area_unit_id"] == "tinh-mau/huyen-thu" and len(src["sha256"]) == 64
    problems = "\n".join(r.uninterpreted)
    assert "header 'ghi chú nội bộ' not recognised" in problems
    assert "'Xuất xắc' under 'xếp loại' is not a band" in problems
    assert "unit 'UBND xã Không Có Thật' is not in units.csv" in problems
    assert "does not say which rate it holds" in problems and "BẢNG SỐ LIỆU BỔ SUNG" in problems
    assert "'1.001' not read" in problems and "ambiguous" in problems
    assert len(r.uninterpreted) == 5
    assert r.tables["scores"].set_index(["unit_id", "group"]).loc[("tinh-mau/huyen-thu", "TOTAL"), "value"] == 80.15
    an_hoa, liem_thuy = "tinh-mau/huyen-thu/xa-an-hoa", "tinh-mau/huyen-thu/xa-liem-thuy"
    s = r.tables["scores"].set_index(["unit_id", "group"])
    # by hand from the fixture text
    assert s.loc[(an_hoa, "TOTAL"), ["value", "change", "band", "rank", "rank_of"]].tolist() == [89.49, 1.5, "Tốt", 1, 3]
    assert s.loc[(liem_thuy, "TOTAL"), ["value", "change", "rank"]].tolist() == [86.82, -1.5, 2]
    assert pd.isna(s.loc[(liem_thuy, "TOTAL"), "band"])  # 'Xuất xắc' is listed, not guessed
    assert s.loc[(an_hoa, "TDGQ"), ["value", "max_stated", "decimals"]].tolist() == [16.3, 20, 1]
    i = r.tables["indicators"].set_index(["unit_id", "indicator"])
    assert i.loc[(an_hoa, "online_submission_rate"), ["value", "marked"]].tolist() == [87.1, True]
    assert i.loc[(liem_thuy, "online_submission_rate"), "value"] == 84.1  # after a page break, stray cell
    assert i.loc[(liem_thuy, "on_time_rate"), "value"] == 51.53
    assert (an_hoa, "on_time_rate") not in i.index  # '1.001' as a rate is ambiguous
    assert i.loc[(an_hoa, "e_certified_copies"), "value"] == 1001  # '1.001' as a count is not
    assert i.loc[(an_hoa, "e_cert_units_deployed"), ["value", "denominator", "block"]].tolist() == [1, 1, "commune"]
    assert pd.isna(i.loc[("tinh-mau/huyen-thu", "e_cert_units_deployed"), "block"])  # 3/5: which units?
    assert "I.1 bảng KẾT QUẢ XẾP LOẠI CẤP XÃ" in set(r.tables["scores"]["section"])


def build_docx(path: Path) -> Path:
    """A small report: a two-row header with merged cells, an underlined total, and the table
    cut in two by a page break (two Word tables with an empty paragraph between)."""
    import docx

    d = docx.Document()
    d.add_paragraph("II. Kết quả đánh giá, xếp loại")
    d.add_paragraph("KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI CẤP XÃ")
    t = d.add_table(rows=3, cols=6)
    for c in (0, 1, 2, 3):
        t.cell(0, c).merge(t.cell(1, c))
    t.cell(0, 4).merge(t.cell(0, 5))
    cells = {(0, 0): "STT", (0, 1): "Tên cơ quan/đơn vị",
             (0, 2): "Chỉ số công khai minh bạch (Tổng điểm 18)",
             (0, 3): "Chỉ số mức độ hài lòng (Tổng điểm 18)",
             (0, 4): "Tổng hợp xếp loại (Tổng điểm 100)", (1, 4): "Tổng điểm", (1, 5): "Xếp loại",
             (2, 0): "1", (2, 1): "UBND xã An Hoà", (2, 2): "18", (2, 3): "20", (2, 5): "Tốt"}
    for (r, c), text in cells.items():
        t.cell(r, c).text = text
    t.cell(2, 4).paragraphs[0].add_run("89,49").underline = True
    d.add_paragraph("")
    t2 = d.add_table(rows=1, cols=6)
    for c, text in enumerate(["2", "UBND xã Liên Thủy", "17,5", "16,2", "86,82", "Tốt"]):
        t2.cell(0, c).text = text
    d.add_paragraph("III. Kiến nghị")
    d.save(str(path))
    return path


def test_docx_with_merged_headers_and_a_page_break(minimal, tmp_path):
    path = build_docx(tmp_path / "bao-cao.docx")
    source = {"source_id": "thu-docx", "kind": "synthetic", "issuer": "UBND huyện Thử",
              "title": "Báo cáo mẫu (.docx) cho kiểm thử", "area_unit_id": "tinh-mau/huyen-thu",
              "period_id": "2024-07"}
    r = import_document(path, dataset=minimal, source=source)
    assert r.uninterpreted == []
    s = r.tables["scores"].set_index(["unit_id", "group"])
    an_hoa, liem_thuy = "tinh-mau/huyen-thu/xa-an-hoa", "tinh-mau/huyen-thu/xa-liem-thuy"
    assert s.loc[(an_hoa, "TOTAL"), ["value", "max_stated", "band", "marked", "rank", "rank_of", "rank_block"]].tolist() \
        == [89.49, 100, "Tốt", True, 1, 2, "commune"]
    assert s.loc[(an_hoa, "MDHL"), ["value", "max_stated"]].tolist() == [20, 18]  # kept above its maximum
    assert s.loc[(liem_thuy, "CKMB"), ["value", "decimals", "marked"]].tolist() == [17.5, 1, False]
    assert s.loc[(liem_thuy, "TOTAL"), "rank"] == 2
    assert set(r.tables["scores"]["section"]) == {"II bảng KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI CẤP XÃ"}
    assert r.tables["sources"].loc[0, "source_id"] == "thu-docx"


def test_page_break_joins_only_rows_without_a_header():
    text = "TỶ LỆ THANH TOÁN TRỰC TUYẾN\nSTT\tĐơn vị\tTỷ lệ (%)\n1\tA\t50\n\n2\tB\t40\n\nSTT\tĐơn vị\tTổng điểm\n1\tA\t80"
    tables = assemble_tables(text_items(text))
    assert [len(t.rows) for t in tables] == [3, 2]
    assert tables[0].caption == "TỶ LỆ THANH TOÁN TRỰC TUYẾN"


@pytest.mark.parametrize("label, role, target", [
    ("tên cơ quan/đơn vị", "unit", None), ("tên cơ quan, đơn vị", "unit", None),
    ("mã định danh", "code", None), ("xếp loại", "band", None), ("tăng giảm", "change", None),
    ("điểm tổng hợp / điểm (tăng/giảm)", "change", None),
    ("tổng điểm", "score", "TOTAL"), ("điểm đánh giá", "score", "TOTAL"),
    ("tổng hợp xếp loại (tổng điểm 100) / tổng điểm", "score", "TOTAL"),
    ("chỉ số dịch vụ trực tuyến (tổng điểm 22)", "score", "DVTT"),
    ("chỉ số số hóa hồ sơ (tổng điểm 22)", "score", "MDSH"),
    ("tiền độ giải quyết (%)", "indicator", "on_time_rate"),
    ("tỷ lệ đúng hạn", "indicator", "on_time_rate"),
    ("số hóa hồ sơ (80%) / tái sử dụng (%)", "indicator", "reuse_rate"),
    ("tổng số hồ xử lý quá hạn", "indicator", "overdue_dossiers"),
    ("đã triển khai", "indicator", "e_cert_units_deployed"),
    ("số lượng hồ sơ hoàn thành", "indicator", "e_certified_copies"),
])
def test_header_rules(label, role, target):
    import re

    spec = next(spec for pattern, spec in HEADER_RULES if re.search(pattern, label))
    assert spec["role"] == role
    assert target is None or target in (spec.get("group"), spec.get("indicator"))


def test_provenance_is_drafted_and_a_sidecar_overrides_it(minimal, tmp_path):
    f = tmp_path / "report.md"
    shutil.copy(FIXTURES / "thu-2024-07.md", f)
    r = import_document(f, dataset=minimal)  # no sidecar: drafted from the document
    src = r.tables["sources"].iloc[0]
    assert (src["doc_number"], src["area_unit_id"], src["period_id"], src["kind"]) == \
        ("12/BC-UBND", "tinh-mau/huyen-thu", "2024-07", "document")
    assert src["issuer"] == "ỦY BAN NHÂN DÂN HUYỆN THỬ"
    (tmp_path / "report.md.source.json").write_text(
        json.dumps({"source_id": "x-override", "period_id": "2024-06"}), encoding="utf-8")
    r = import_document(f, dataset=minimal)
    src = r.tables["sources"].iloc[0]
    assert (src["source_id"], src["period_id"], src["doc_number"]) == ("x-override", "2024-06", "12/BC-UBND")
    assert any("overrides the draft for: source_id, period_id" in n for n in r.notes)


def test_no_provenance_is_an_error(minimal, tmp_path):
    f = tmp_path / "report.md"
    f.write_text("| Đơn vị | Tổng điểm |\n|---|---|\n| xã An Hoà | 80 |\n", encoding="utf-8")
    with pytest.raises(DataError, match="cannot tell which unit this document reports on.*area_unit_id"):
        import_document(f, dataset=minimal)
    (tmp_path / "report.md.source.json").write_text(json.dumps({"area_unit_id": "tinh-mau/huyen-thu"}),
                                                   encoding="utf-8")
    with pytest.raises(DataError, match="cannot tell which period.*period_id"):
        import_document(f, dataset=minimal)


@pytest.mark.parametrize("name, content, words", [
    ("table.csv", "a,b\n", "not a report document"),
    ("report.pdf", "%PDF-1.4", "not a report document"),
    ("report.txt", b"B\xe1o c\xe1o", "not UTF-8"),
    ("report.docx", "plain text, not a Word file", "not a readable .docx"),
])
def test_wrong_kind_of_file(minimal, tmp_path, name, content, words):
    f = tmp_path / name
    f.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    source = {"source_id": "x", "issuer": "x", "title": "x", "area_unit_id": "tinh-mau", "period_id": "2024-07"}
    with pytest.raises(DataError, match=words):
        import_document(f, dataset=minimal, source=source)
