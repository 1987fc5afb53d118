"""Report sections on the seed data: what the seed reports hold is shown, every number comes from
data, missing sections say so in one line, and bad parameters are refused."""
from __future__ import annotations

import re
import unicodedata

import pytest

from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.errors import ParameterError
from analysis.report import ComparisonReport, ProvinceReport, comparison_periods, validate_parameters


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DATA_DIR)


@pytest.fixture(scope="module")
def backan(ds):
    return ProvinceReport(ds, "bac-kan", "2024-07")


def text_of(section) -> str:
    return re.sub(r"<[^>]+>", " ", section.html)


def test_headline_states_total_band_rank_and_change(backan):
    text = text_of(backan.headline())
    assert "82,88/100" in text and "8/63" in text and "Tốt" in text
    # the change against June is computed from the two published totals (82.88 - 76.94)
    assert "tăng 5,94 điểm so với Tháng 6/2024 (tính từ số liệu)" in text
    assert "87,15/100" in text and "2/8" in text  # the district of the Na Rì report


def test_trend_is_the_january_july_series(backan):
    section = backan.trend()
    series = section.tables["trend"]
    assert list(series["period_id"]) == [f"2024-0{m}" for m in range(1, 8)]
    assert list(series["rank"]) == [31, 26, 21, 17, 33, 16, 8]
    assert "<img" in section.html


def test_na_ri_communes_ranked_with_bands(backan):
    section = backan.units()
    (table,) = [t for k, t in section.tables.items() if k.endswith("huyen-na-ri")]
    assert len(table) == 17
    assert list(table["unit"])[:3] == ["UBND xã Quang Phong", "UBND thị trấn Yên Lạc", "UBND xã Dương Sơn"]
    assert list(table["total"]) == sorted(table["total"], reverse=True)
    assert set(table["band"]) == {"Tốt", "Khá"}
    assert (table["band"] == table["band_calc"]).all()
    assert "<img" in section.html


def test_group_scores_against_maxima(backan):
    text = text_of(backan.groups())
    for value in ("14,1", "19,5", "7,9", "8,2", "14,4", "18"):
        assert value in text


def test_indicator_tables(backan):
    tables = backan.indicator_tables()
    assert len(tables["online_submission_rate"]) == 17
    assert len(tables["online_payment_rate"]) == 17
    overdue = tables["overdue_dossiers"].set_index("unit")["value"]
    assert overdue.to_dict() == {"UBND huyện Na Rì": 69, "UBND xã Sơn Thành": 3, "UBND xã Văn Lang": 2,
                                 "UBND xã Kim Hỷ": 1, "UBND xã Trần Phú": 1}
    assert len(tables["e_certified_copies"]) == 17


def test_missing_sections_say_so_in_one_line(ds):
    tq = ProvinceReport(ds, "tuyen-quang", "2024-07")
    units = text_of(tq.units())
    assert "Không có bảng kết quả theo đơn vị cho kỳ này." in units
    assert "Không có số liệu “Hồ sơ nộp trực tuyến” theo đơn vị cho kỳ này." in text_of(tq.indicators())
    assert "Dữ liệu chưa trả lời được câu hỏi" in text_of(tq.correlations())


def test_audit_section_lists_findings_with_sources(ds):
    sadec = ProvinceReport(ds, "dong-thap", "2022-11")
    findings = sadec.audit().tables["audit"]
    assert len(findings) > 0
    assert set(findings["source_id"]) == {"sadec-2022-11"}


def test_recommendations_name_units_like_the_seed(ds):
    phutan = ProvinceReport(ds, "an-giang", "2024-05-w1")
    items = phutan.recommendation_list()
    transparency = next(i for i in items if "công khai" in i)
    for name in ("Phú Long", "Bình Thạnh Đông", "Hòa Lạc", "Chợ Vàm", "Long Hòa"):
        assert name in transparency
    assert any(i.startswith("Phú Thọ:") and "dịch vụ công trực tuyến" in i for i in items)
    assert any(i.startswith("Phú Long:") and "đúng hạn" in i for i in items)


def test_correlation_section_for_na_ri(backan):
    section = backan.correlations()
    assert "r = 0,24" in text_of(section)
    assert "<img" in section.html


def test_every_section_is_nfc_vietnamese(backan):
    for name in ("title", "headline", "groups", "units", "indicators", "audit", "correlations", "recommendations"):
        html = getattr(backan, name)().html
        assert unicodedata.is_normalized("NFC", html), name


def test_english_variant(ds):
    r = ProvinceReport(ds, "bac-kan", "2024-07", lang="en")
    assert "766 Index report – tỉnh Bắc Kạn – July 2024" in text_of(r.title())
    assert "82.88/100 points" in text_of(r.headline())


def test_provenance_names_parameters_hashes_code_and_packages(backan, ds):
    text = text_of(backan.provenance())
    assert "bac-kan" in text and "2024-07" in text
    for digest in ds.file_hashes.values():
        assert digest in text
    assert re.search(r"[0-9a-f]{40}|unknown", text)
    assert "pandas" in text and "statsmodels" in text


@pytest.mark.parametrize("province, period, lang, words", [
    ("ha-noi", "2024-07", "vi", "unknown province 'ha-noi'; provinces with data: an-giang, bac-kan"),
    ("bac-kan", "2024-08", "vi", "periods with data: 2024-07"),
    ("bac-kan", "07/2024", "vi", "allowed forms"),
    ("bac-kan", "2024-07", "fr", "choose one of: vi, en"),
])
def test_bad_parameters(ds, province, period, lang, words):
    with pytest.raises(ParameterError, match=re.escape(words)):
        validate_parameters(ds, province, period, lang)


def test_comparison_report(ds):
    assert comparison_periods(ds) == ["2024-06", "2024-07"]
    c = ComparisonReport(ds, "2024-07")
    table = c.province_table()
    assert list(table["province"]) == ["tỉnh Bắc Kạn", "tỉnh Tuyên Quang"]
    assert "<img" in c.trends().html
    with pytest.raises(ParameterError, match="periods to compare: 2024-06, 2024-07"):
        ComparisonReport(ds, "2022-11")
