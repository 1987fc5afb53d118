"""Reports on imported portal data: the real JSON under ../shared/data/portal is imported into a
scratch data directory (never into data/), then the build makes a 34-province comparison for each
snapshot date and a Gia Lai report with its communes, departments and a commune-level correlation."""
from __future__ import annotations

import re

import pytest

from analysis.build import plan_jobs, run_batch
from analysis.config import SHARED_DIR
from analysis.dataset import load_dataset
from analysis.importers.command import run_import
from analysis.report import ComparisonReport

PORTAL = SHARED_DIR / "data" / "portal"
# the whole portal-extra folder: crawler files and raw service-results responses (raw/)
EXTRA = SHARED_DIR / "data" / "portal-extra"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not PORTAL.is_dir(), reason=f"portal mirrors not found at {PORTAL} "
                                 "(../shared is beside the clone in CI)")]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    data = tmp_path_factory.mktemp("portal-data")
    run_import([PORTAL] + ([EXTRA] if EXTRA.is_dir() else []), data)
    return data


def test_plan_has_comparisons_and_gia_lai(scratch, tmp_path):
    keys = {j.key for j in plan_jobs(scratch, out_dir=tmp_path)}
    assert {"compare/2026-ytd-09-26", "compare/2026-ytd-09-30"} <= keys
    assert {"gia-lai/2026-ytd-09-24", "gia-lai/2026-ytd-10-02"} <= keys
    # the monthly raw service results of Gia Lai (portal-extra raw/)
    assert {"gia-lai/2026-02", "gia-lai/2026-03"} <= keys


@pytest.mark.parametrize("period", ["2026-ytd-09-26", "2026-ytd-09-30"])
def test_comparison_covers_34_provinces(scratch, period):
    table = ComparisonReport(load_dataset(scratch), period).province_table()
    assert len(table) == 34 and table["value"].notna().all()
    assert sorted(table["rank"].astype(int)) == list(range(1, 35))


def test_trend_keeps_one_kind_of_period_up_to_the_report(scratch):
    """Gia Lai has two months and five year-to-date snapshots: a month report's trend shows the
    months, a snapshot report's the snapshots, and each names what it left out. A period that
    ends after the report's is in no part of it (the data has it; the report of that period did
    not)."""
    from analysis.render import resolve

    from analysis.report import ProvinceReport

    month = ProvinceReport.load("gia-lai", "2026-03", "en", scratch)
    assert month.trend_table()["period_id"].tolist() == ["2026-02", "2026-03"]
    assert month.trend_other_periods() == []  # the snapshots are of September and October
    assert ProvinceReport.load("gia-lai", "2026-02", "en", scratch).trend_table()["period_id"].tolist() == ["2026-02"]
    ytd = ProvinceReport.load("gia-lai", "2026-ytd-10-02", "en", scratch)
    assert ytd.trend_table()["period_id"].tolist() == ["2026-ytd-09-24", "2026-ytd-09-26", "2026-ytd-09-27",
                                                       "2026-ytd-09-30", "2026-ytd-10-02"]
    assert ytd.trend_other_periods() == ["2026-02", "2026-03"]
    notes = [resolve(p.text, "en") for p in ytd.trend().parts if getattr(p, "style", "") == "note"]
    assert notes and "2 periods of another kind" in notes[0] and "February 2026; March 2026" in notes[0]
    early = ProvinceReport.load("gia-lai", "2026-ytd-09-26", "vi", scratch)
    assert early.trend_table()["period_id"].tolist() == ["2026-ytd-09-24", "2026-ytd-09-26"]


def test_comparison_trends_stop_at_the_reports_period(scratch, monkeypatch):
    """The comparison of 26/09 draws each province's totals up to 26/09, not the 30/09 snapshot
    the data also has; on 30/09 every province has two snapshots to draw."""
    import analysis.figures
    from analysis.periods import parse_period

    drawn = {}
    real = analysis.figures.trend

    def spy(series, *a, **kw):
        drawn.setdefault(kw.get("unit_label"), []).extend(series["period_id"])
        return real(series, *a, **kw)

    monkeypatch.setattr(analysis.figures, "trend", spy)
    ds = load_dataset(scratch)
    early = ComparisonReport(ds, "2026-ytd-09-26").trends().figures
    assert drawn and all(parse_period(p).end <= parse_period("2026-ytd-09-26").end for ps in drawn.values() for p in ps)
    late = ComparisonReport(ds, "2026-ytd-09-30").trends().figures
    assert "trend_gia-lai" in early and len(early) < len(late) == 34


def test_a_reports_audit_stops_at_its_period(scratch, tmp_path, monkeypatch):
    """Gia Lai's reports share one audit of all its data in a build, and each lists only the
    findings of periods up to its own: the February report has none of March or September."""
    from analysis.periods import parse_period
    from analysis.report import SHARED_RESULTS_ENV, ProvinceReport

    monkeypatch.setenv(SHARED_RESULTS_ENV, str(tmp_path))
    ds = load_dataset(scratch)
    seen = {}
    for period in ("2026-02", "2026-03", "2026-ytd-09-24", "2026-ytd-10-02"):
        f = ProvinceReport(ds, "gia-lai", period).findings
        end = parse_period(period).end
        assert all(parse_period(p).end <= end for p in f["period_id"].dropna())
        seen[period] = set(f["period_id"].dropna())
    assert len(list(tmp_path.glob("*.pickle"))) == 1  # one audit for the four reports
    assert seen["2026-02"] == {"2026-02"} and seen["2026-03"] == {"2026-02", "2026-03"}
    assert "2026-ytd-10-02" in seen["2026-ytd-10-02"] and seen["2026-03"] < seen["2026-ytd-10-02"]


def test_every_offered_report_builds(scratch, tmp_path):
    """ALL province-periods and comparisons that `build --list` offers build (not a sample):
    the 34 provinces of the newest provinces snapshot, Gia Lai for every snapshot, the comparisons."""
    # HTML only: the workbook and CSV exports are the same code for every report and are tested on
    # the seed data (test_build); writing them for ~80 reports would only cost time on CI's 2 cores
    jobs = plan_jobs(scratch, out_dir=tmp_path, formats=("html",))
    keys = {j.key for j in jobs}
    assert {f"{p}/2026-ytd-09-30" for p in ("ha-noi", "gia-lai", "quang-ninh", "ho-chi-minh")} <= keys
    assert sum(k.endswith("/2026-ytd-09-30") and not k.startswith("compare/") for k in keys) == 34
    results = run_batch(jobs, out_dir=tmp_path, workers=2, progress=False)
    failed = {r.key: r.error for r in results if r.status != "built"}
    assert not failed, failed
    html = (tmp_path / "ha-noi" / "2026-ytd-09-26.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", html)
    assert "xếp hạng 33/34" in text and "Trung bình cả nước" in text and "Vị trí của thành phố Hà Nội" in text
    assert "Tử số" in text and "Mẫu số" in text   # its sub-indicators from the province details
    # the monthly raw results say plainly, at the top, that their values look disturbed
    for month, n in (("2026-02", 127), ("2026-03", 114)):
        html = (tmp_path / "gia-lai" / f"{month}.html").read_text(encoding="utf-8")
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
        assert f"Lưu ý về chất lượng số liệu: {n}/149 đơn vị có tổng điểm đúng bằng 16" in text
        assert text.index("Lưu ý về chất lượng số liệu") < text.index("Kết quả các đơn vị")
    html = (tmp_path / "gia-lai" / "2026-ytd-10-02.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", html)
    assert "tỉnh Gia Lai: 135 đơn vị cấp xã" in text
    assert "tỉnh Gia Lai: 14 sở, ban, ngành" in text
    assert re.search(r"Trên 135 xã, phường, thị trấn, hệ số Spearman .* r = -?\d,\d\d", text)
    compare = (tmp_path / "compare" / "2026-ytd-09-30.html").read_text(encoding="utf-8")
    assert compare.count("<tr>") >= 34 + 1
