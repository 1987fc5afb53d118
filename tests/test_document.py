"""The Word draft of the monthly report (Decree 30/2020/NĐ-CP layout): header block with the
issuing body and the national motto, number and place–date line, title, numbered sections,
tables with the headline figures, figures as images, recipients and signature blocks."""
from __future__ import annotations

import docx
import pytest

from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.report import ProvinceReport


@pytest.fixture(scope="module")
def drafts(tmp_path_factory):
    ds = load_dataset(DATA_DIR)
    out = {}
    for lang in ("vi", "en"):
        d = tmp_path_factory.mktemp(f"docx-{lang}")
        out[lang] = docx.Document(ProvinceReport(ds, "bac-kan", "2024-07", lang=lang).export(d, ("docx",))["docx"])
    return out


def cell_text(cell) -> str:
    return "\n".join(p.text for p in cell.paragraphs).strip()


def test_header_block_and_title(drafts):
    d = drafts["vi"]
    head = d.tables[0]
    left, right = cell_text(head.cell(0, 0)), cell_text(head.cell(0, 1))
    assert left.startswith("ỦY BAN NHÂN DÂN\nTỈNH BẮC KẠN")
    assert head.cell(0, 0).paragraphs[0].text == "ỦY BAN NHÂN DÂN"  # no empty first line
    assert right.startswith("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc")
    assert cell_text(head.cell(1, 0)).startswith("Số: …/BC-")
    assert cell_text(head.cell(1, 1)) == "Bắc Kạn, ngày …  tháng 8 năm 2024"
    motto = head.cell(0, 1).paragraphs[1].runs[0]
    assert motto.bold
    texts = [p.text for p in d.paragraphs]
    assert "BÁO CÁO" in texts
    assert any(t.startswith("Kết quả Bộ chỉ số") and t.endswith("(Chỉ số 766) tháng 7/2024") for t in texts)


def test_numbered_sections_tables_and_figures(drafts):
    d = drafts["vi"]
    texts = [p.text for p in d.paragraphs]
    for n, title in (("I", "KẾT QUẢ CHUNG"), ("II", "ĐIỂM CÁC NHÓM CHỈ SỐ"), ("V", "KIỂM TRA SỐ LIỆU ĐÃ CÔNG BỐ"),
                     ("VII", "KIẾN NGHỊ")):
        assert f"{n}. {title}" in texts
    assert any("82,88/100 điểm" in t and "8/63" in t for t in texts)  # the headline figures
    headline = d.tables[1]
    assert [c.text for c in headline.rows[0].cells][:3] == ["Đơn vị", "Tổng điểm", "Xếp loại"]
    assert headline.cell(1, 1).text == "82,88"
    assert headline.cell(1, 1).paragraphs[0].alignment == 2  # numbers right-aligned
    assert len(d.inline_shapes) >= 3  # trend, ranking, correlation as PNG images
    assert any(t.startswith("Hình 1. ") for t in texts)


def test_recipients_and_signature(drafts):
    foot = drafts["vi"].tables[-1]
    rec, sig = cell_text(foot.cell(0, 0)), cell_text(foot.cell(0, 1))
    assert rec.startswith("Nơi nhận:") and "- Lưu: VT." in rec
    assert sig.startswith("TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH")


def test_english_draft(drafts):
    d = drafts["en"]
    head = d.tables[0]
    assert cell_text(head.cell(0, 1)).startswith("SOCIALIST REPUBLIC OF VIET NAM\nIndependence - Freedom - Happiness")
    texts = [p.text for p in d.paragraphs]
    assert "I. Headline" in texts and "REPORT" in texts
    assert any("82.88/100 points" in t for t in texts)
