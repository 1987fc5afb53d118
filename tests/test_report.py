"""Report content on the seed data: what the seed reports hold is shown, every number comes from
data, missing sections say so in one line, audit findings and recommendations read as plain
language, and bad parameters are refused. Content is checked as tables and facts; the HTML of
every section gets one smoke test."""
from __future__ import annotations

import re
import unicodedata

import pandas as pd
import pytest

from analysis import content as c
from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.errors import ParameterError
from analysis.render import layout, resolve
from analysis.report import ComparisonReport, ProvinceReport, comparison_periods, validate_parameters

SECTIONS = ("title", "headline", "groups", "units", "indicators", "audit", "correlations", "recommendations",
            "provenance")


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DATA_DIR)


@pytest.fixture(scope="module")
def backan(ds):
    return ProvinceReport(ds, "bac-kan", "2024-07")


@pytest.fixture(scope="module")
def backan_en(ds):
    return ProvinceReport(ds, "bac-kan", "2024-07", lang="en")


def html_of(section) -> str:
    return section._repr_html_()


def text_of(section) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_of(section)))


def lines_of(section) -> list[str]:
    """The sentences and list items of a section, in its language."""
    out = []
    for block in layout(section, images="none"):
        if block["kind"] == "text":
            out.append(block["text"])
        elif block["kind"] == "items":
            out.extend(block["items"])
    return out


def test_headline_states_total_band_rank_and_change(backan):
    text = text_of(backan.headline())
    assert "82,88/100" in text and "8/63" in text and "Tốt" in text
    # the change against June is computed from the two published totals (82.88 - 76.94)
    assert "tăng 5,94 điểm so với Tháng 6/2024 (tính từ số liệu)" in text
    assert "87,15/100" in text and "2/8" in text  # the district of the Na Rì report
    facts = backan.headline().facts
    assert facts["total"] == 82.88 and facts["rank"] == 8 and facts["rank_of"] == 63


def test_trend_is_the_january_july_series(backan):
    section = backan.trend()
    series = section.tables["trend"]
    assert list(series["period"]) == [f"2024-0{m}" for m in range(1, 8)]
    assert list(series["rank"]) == [31, 26, 21, 17, 33, 16, 8]
    assert "<svg" in html_of(section)


def test_na_ri_communes_ranked_with_bands(backan):
    section = backan.units()
    (table,) = [t for k, t in section.tables.items() if k.endswith("huyen-na-ri")]
    assert len(table) == 17
    assert list(table["unit"])[:3] == ["UBND xã Quang Phong", "UBND thị trấn Yên Lạc", "UBND xã Dương Sơn"]
    assert list(table["total"]) == sorted(table["total"], reverse=True)
    assert set(table["band"]) == {"Tốt", "Khá"}
    assert (table["band"] == table["band_calc"]).all()
    assert "<svg" in html_of(section)


def test_group_scores_against_maxima(backan):
    table = backan.groups().tables["groups_bac-kan"].set_index("group")
    assert table["points"].to_dict() == {"CKMB": 14.1, "TDGQ": 19.5, "ONLINE": 7.9, "TTTT": 8.2, "MDSH": 14.4,
                                         "MDHL": 18.0}
    assert table.at["CKMB", "max"] == 18 and table.at["CKMB", "share"] == pytest.approx(100 * 14.1 / 18)
    text = text_of(backan.groups())
    for value in ("14,1", "19,5", "7,9", "8,2", "14,4", "78,3"):
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
    assert "Không có bảng kết quả theo đơn vị cho kỳ này." in lines_of(tq.units())
    assert "Không có số liệu “Hồ sơ nộp trực tuyến” theo đơn vị cho kỳ này." in lines_of(tq.indicators())
    assert "Dữ liệu chưa trả lời được câu hỏi" in text_of(tq.correlations())


def test_audit_findings_are_grouped_by_check_in_plain_language(backan, backan_en):
    """The 15 Na Rì communes printed with MDHL 20 of 18 make one line, not 15 rows."""
    lines = lines_of(backan.audit())
    above = [x for x in lines if "vượt mức tối đa" in x]
    assert len(above) == 1
    assert above[0].startswith("15 xã: điểm vượt mức tối đa – ghi 20, kỳ vọng 18 (lỗi): UBND xã Quang Phong")
    assert above[0].endswith("và 7 đơn vị khác")
    # 19 unit findings and one about the Na Rì table itself: its header prints MDHL out of 20 (max 18)
    assert lines[0] == "20 phát hiện (18 lỗi, 2 cảnh báo), thuộc 5 loại kiểm tra."
    assert any("ghi 87,15, kỳ vọng 79,2" in x for x in lines)  # local notation
    en = lines_of(backan_en.audit())
    assert any(x.startswith("15 communes: points above the maximum – printed 20, expected 18 (error)") for x in en)
    # the full list stays in the tables
    section = backan.audit()
    assert len(section.tables["audit"]) == 20
    assert section.tables["audit_summary"]["units"].sum() == 19


def test_audit_table_keeps_sources(ds):
    sadec = ProvinceReport(ds, "dong-thap", "2022-11")
    findings = sadec.findings
    assert len(findings) > 0
    assert set(findings["source_id"]) == {"sadec-2022-11"}


def test_recommendations_name_units_like_the_seed(ds):
    phutan = ProvinceReport(ds, "an-giang", "2024-05-w1")
    items = lines_of(phutan.recommendations())
    transparency = next(i for i in items if "công khai" in i)
    for name in ("Phú Long", "Bình Thạnh Đông", "Hòa Lạc", "Chợ Vàm", "Long Hòa"):
        assert name in transparency
    assert any(i.startswith("Phú Thọ:") and "dịch vụ công trực tuyến" in i for i in items)
    assert any(i.startswith("Phú Long:") and "đúng hạn" in i for i in items)


def test_recommendations_are_ranked_and_name_at_most_n_units(backan):
    from analysis.report import NAMED_UNITS

    section = backan.recommendations()
    table = section.tables["recommendations"]
    assert list(table["priority"]) == list(range(1, len(table) + 1))
    dvtt = next(x for x in lines_of(section) if "Cung cấp dịch vụ trực tuyến" in x)
    assert dvtt.count("UBND") == NAMED_UNITS and "và 9 đơn vị khác" in dvtt
    # lowest first: Văn Vũ has 4.27 of 22
    assert dvtt.startswith("UBND xã Văn Vũ") and "(4,27/22, 6,83/22" in dvtt
    rules = backan.recommendation_table()["rule"].tolist()
    assert rules == sorted(rules, key=lambda r: ["group_low", "overdue", "on_time", "online_submission",
                                                 "online_payment", "online_service", "transparency"].index(r))


def test_no_recommendation_rests_on_an_inherited_value(ds):
    """Portal child units inherit the province's CKMB points (domain note): a commune whose CKMB
    equals the province's own, from a portal source, is never named for CKMB."""
    units = ds.units
    scores = ds.scores
    prov = "bac-kan"
    communes = units.loc[units["parent_id"] == "bac-kan/huyen-na-ri", "unit_id"].tolist()
    own = scores.loc[(scores["unit_id"] == prov) & (scores["group"] == "CKMB") & (scores["period_id"] == "2024-07"),
                     "value"].iloc[0]
    r = ProvinceReport(ds, prov, "2024-07")
    rows = scores.loc[scores["unit_id"].isin(communes) & (scores["group"] == "CKMB")
                      & (scores["period_id"] == "2024-07")]
    fake_sources = ds.sources.copy()
    fake_sources.loc[fake_sources["source_id"].isin(set(rows["source_id"])), "kind"] = "portal"
    fake_scores = scores.copy()
    hit = fake_scores.index.isin(rows.index[:3])
    fake_scores.loc[hit, "value"] = own  # three communes now carry the province's CKMB, from a portal source
    import dataclasses

    fake = dataclasses.replace(ds, sources=fake_sources, scores=fake_scores) if dataclasses.is_dataclass(ds) else None
    if fake is None:
        pytest.skip("Dataset is not a dataclass")
    r = ProvinceReport(fake, prov, "2024-07")
    assert r._inherited(communes, "CKMB") == set(fake_scores.loc[hit, "unit_id"])
    table = r.recommendation_table()
    ckmb = table.loc[table["target"] == "CKMB"]
    named = set().union(*ckmb["unit_ids"]) if len(ckmb) else set()
    assert not named & set(fake_scores.loc[hit, "unit_id"])
    notes = lines_of(r.recommendations())
    assert any("3 đơn vị thừa hưởng từ tỉnh" in x for x in notes)


def test_correlation_section_for_na_ri(backan):
    section = backan.correlations()
    assert "r = 0,24" in text_of(section)
    assert "<svg" in html_of(section)


@pytest.mark.parametrize("name", SECTIONS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_html_smoke_per_section(ds, name, lang):
    """Every section renders to NFC HTML with its heading, aligned tables and no template residue."""
    r = ProvinceReport(ds, "bac-kan", "2024-07", lang=lang)
    section = getattr(r, name)()
    html = html_of(section)
    assert unicodedata.is_normalized("NFC", html)
    assert f'class="r766 r766-{name}"' in html and f'lang="{lang}"' in html
    assert "{{" not in html and "{%" not in html and "None" not in text_of(section)
    assert ("<h1>" if name == "title" else "<h2>") in html
    if "<table" in html:
        assert "<th" in html and re.search(r'<td class="num">', html) or name == "provenance"
    if name == "title":
        assert "<style>" in html and "@media print" in html


def test_english_variant(backan_en):
    assert "766 Index report – tỉnh Bắc Kạn – July 2024" in text_of(backan_en.title())
    assert "82.88/100 points, band Good" in text_of(backan_en.headline())
    shown = backan_en.groups().frame("groups_bac-kan")
    assert list(shown.columns)[:3] == ["Group", "Points", "Maximum"]
    assert shown.iloc[0, 0] == "Transparency"


def test_notebook_objects_are_reusable(backan):
    section = backan.units()
    assert repr(section).startswith("<Content units:")
    frame = section.frame("units_bac-kan/huyen-na-ri")
    assert "Tổng điểm" in frame.columns and "Xếp loại" in frame.columns
    assert "Tốt" in set(frame["Xếp loại"])
    assert section.styler("units_bac-kan/huyen-na-ri").to_html().count("<tr>") >= 18
    import matplotlib.figure

    assert all(isinstance(f, matplotlib.figure.Figure) for f in section.figures.values())


def test_provenance_names_parameters_scheme_hashes_code_and_packages(backan, ds):
    section = backan.provenance()
    text = text_of(section)
    assert "bac-kan" in text and "2024-07" in text
    for digest in ds.file_hashes.values():
        assert digest in text
    assert re.search(r"[0-9a-f]{40}|unknown", text)
    assert "pandas" in text and "statsmodels" in text and "babel" in text
    assert "766-2022" in text  # the scheme valid for July 2024
    assert backan.title().facts["scheme"] == "766-2022"


def test_user_scheme_is_stated_with_its_hash(ds, tmp_path):
    import hashlib

    path = tmp_path / "mine.toml"
    path.write_text("", encoding="utf-8")
    r = ProvinceReport(ds, "bac-kan", "2024-07", scheme=str(path))
    facts = r.title().facts
    assert facts["scheme_file"] == str(path)
    assert facts["scheme_file_sha256"] == hashlib.sha256(b"").hexdigest()
    assert "mine.toml" in text_of(r.title())


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
    cmp_ = ComparisonReport(ds, "2024-07")
    table = cmp_.province_table()
    assert list(table["province"]) == ["tỉnh Bắc Kạn", "tỉnh Tuyên Quang"]
    assert "<svg" in html_of(cmp_.trends())
    with pytest.raises(ParameterError, match="periods to compare: 2024-06, 2024-07"):
        ComparisonReport(ds, "2022-11")


def test_resolve_typed_values():
    assert resolve(c.Units(tuple("ABCDEFG"), 3), "vi") == "A, B, C và 4 đơn vị khác"
    assert resolve(c.Units(tuple("ABCD"), 3), "en") == "A, B, C and 1 other unit"
    assert resolve(c.Count(1, "commune"), "en") == "1 commune"
    assert resolve(c.Count(15, "commune"), "vi") == "15 xã"
    assert resolve(c.Num(float("nan")), "vi") == "–"
    assert resolve(c.Num(12.5, None, "%"), "vi") == "12,5%"
    assert resolve(c.Period("2024-Q3"), "vi") == "Quý 3/2024"
    assert pd.isna(float("nan"))


def test_a_build_shares_a_provinces_audit_between_its_reports(ds, tmp_path, monkeypatch):
    """In a build, the findings of a province (the same for each of its reports: every period,
    both languages) are computed by its first report and read back by the others."""
    import analysis.audit
    from analysis.report import SHARED_RESULTS_ENV

    alone = ProvinceReport(ds, "bac-kan", "2024-07", lang="en").findings
    monkeypatch.setenv(SHARED_RESULTS_ENV, str(tmp_path))
    first = ProvinceReport(ds, "bac-kan", "2024-07").findings
    assert len(list(tmp_path.glob("*.pickle"))) == 1
    with monkeypatch.context() as m:
        m.setattr(analysis.audit, "audit", lambda *a, **k: pytest.fail("the audit ran again"))
        again = ProvinceReport(ds, "bac-kan", "2024-07", lang="en").findings
        with pytest.raises(pytest.fail.Exception):  # another province is computed, not read
            ProvinceReport(ds, "an-giang", "2024-05-w1").findings
    pd.testing.assert_frame_equal(first, alone)
    pd.testing.assert_frame_equal(again, alone)
    next(tmp_path.glob("*.pickle")).write_bytes(b"torn")  # unreadable: computed again
    pd.testing.assert_frame_equal(ProvinceReport(ds, "bac-kan", "2024-07").findings, alone)


def test_unit_tables_leave_out_a_group_no_unit_of_the_block_has(ds):
    # a group printed without any value for the block's communes gets no column (as a pivot of
    # the chosen rows gave); a unit without a value of a group that others have shows it missing
    import copy

    import numpy as np

    changed = copy.copy(ds)
    sc = ds.scores.copy()
    communes = set(ProvinceReport(ds, "bac-kan", "2024-07")._unit_tables["bac-kan/huyen-na-ri"]["unit_id"])
    in_block = sc["unit_id"].isin(communes) & (sc["period_id"] == "2024-07")
    sc.loc[in_block & (sc["group"] == "CKMB"), "value"] = np.nan
    one = sorted(communes)[0]
    sc.loc[in_block & (sc["group"] == "TDGQ") & (sc["unit_id"] == one), "value"] = np.nan
    changed.scores = sc
    table = ProvinceReport(changed, "bac-kan", "2024-07")._unit_tables["bac-kan/huyen-na-ri"]
    assert "CKMB" not in table.columns
    tdgq = table.set_index("unit_id")["TDGQ"]
    assert np.isnan(tdgq[one]) and tdgq.drop(one).notna().all()
