"""Synthetic data: seeded, labelled synthetic everywhere, shaped like data/, realistic ceilings
and correlations, and consistent with the scoring engine."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.audit import audit
from analysis.dataset import validate_table
from analysis.errors import ParameterError
from analysis.schema import TABLE_COLUMNS
from analysis.scoring import score_table
from analysis.synthetic import SHEET_RATES, national, score_sheet

REAL_PROVINCES = ("Hà Nội", "Hồ Chí Minh", "Bắc Kạn", "Đồng Tháp", "An Giang", "Tuyên Quang", "Gia Lai",
                  "Đà Nẵng", "Cần Thơ", "Hải Phòng", "Thái Nguyên", "Lào Cai")


@pytest.fixture(scope="module")
def nat():
    return national(seed=0, months=12)


def test_national_shape(nat):
    levels = nat.units["level"].value_counts().to_dict()
    assert levels == {"province": 34, "department": 34 * 15, "commune": 3300}
    assert nat.periods["period_id"].tolist() == [f"2026-{m:02d}" for m in range(1, 13)] + ["2026"]
    assert len(nat.scores) == (34 + 510 + 3300) * 12 * 7
    assert set(nat.scores["group"]) == {"CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH", "TOTAL"}
    for name, df in nat.tables().items():
        assert list(df.columns) == [c.name for c in TABLE_COLUMNS[name]], name


def test_national_tables_pass_validation(nat):
    refs = {}
    for table in ("units", "periods", "sources", "unit_aliases", "scores", "indicators"):
        df = nat.table(table)
        validate_table(df, table, refs=refs)
        if table == "units":
            refs["unit_id"] = set(df["unit_id"])
        elif table == "periods":
            refs["period_id"] = set(df["period_id"])
        elif table == "sources":
            refs["source_id"] = set(df["source_id"])
            refs["clean_sources"] = set(df.loc[~df["as_published"], "source_id"])


def test_everything_is_labelled_synthetic(nat):
    assert nat.synthetic is True
    assert all(df.attrs.get("synthetic") for df in nat.tables().values())
    assert set(nat.sources["kind"]) == {"synthetic"}
    assert nat.sources["source_id"].str.startswith("synthetic-").all()
    assert nat.scores["source_id"].str.startswith("synthetic-").all()
    assert nat.units["unit_id"].str.startswith("synthetic-").all()
    assert nat.units["name"].str.contains("Giả lập").all()
    names = " ".join(nat.units["name"])
    assert not any(p in names for p in REAL_PROVINCES)
    sheet = score_sheet(1_000, seed=2)
    assert sheet["synthetic"].all() and sheet.attrs["synthetic"]
    assert sheet["source_id"].astype(str).str.startswith("synthetic-").all()


def test_seeded():
    a, b, c = score_sheet(3_000, seed=5), score_sheet(3_000, seed=5), score_sheet(3_000, seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a["TOTAL"].equals(c["TOTAL"])
    assert national(seed=1, months=1).scores.equals(national(seed=1, months=1).scores)


def test_ceilings_and_correlations(nat):
    wide = nat.scores.pivot_table(index=["unit_id", "period_id"], columns="group", values="value")
    rates = nat.indicators.pivot_table(index=["unit_id", "period_id"], columns="indicator", values="value")
    both = wide.join(rates, how="inner")
    assert (wide["TDGQ"] == 20).mean() > 0.3          # many units at 20/20 timeliness
    assert (wide["MDHL"] == 18).mean() > 0.2          # many at 18/18 satisfaction
    for g, top in {"CKMB": 18, "TDGQ": 20, "ONLINE": 12, "TTTT": 10, "MDHL": 18, "MDSH": 22}.items():
        assert wide[g].between(0, top).all()
    assert wide["TOTAL"].between(0, 100).all()
    r = both.corr(method="spearman")
    assert r.loc["online_submission_rate", "ONLINE"] > 0.5
    assert 0.05 < r.loc["online_submission_rate", "MDHL"] < 0.5     # mild
    assert r.loc["online_payment_rate", "TTTT"] > 0.5
    # transparency is inherited from the province: little variation inside a province
    ck = nat.scores[nat.scores["group"] == "CKMB"].merge(nat.units[["unit_id", "province_id"]], on="unit_id")
    within = ck.groupby(["province_id", "period_id"])["value"].std().mean()
    between = ck.groupby(["province_id", "period_id"])["value"].mean().std()
    assert within < between / 2


def test_national_is_consistent_with_the_audit():
    # the generator gives communes their province's CKMB, as the portal does: the audit states
    # it (info "inherited") and finds nothing else
    f = audit(national(seed=4, months=2))
    assert set(f["check"]) <= {"inherited"} and (f["severity"] == "info").all()


def test_sheet_scores_like_the_engine():
    sheet = score_sheet(20_000, seed=7)
    assert len(sheet) == 20_000
    assert set(SHEET_RATES) <= set(sheet.columns)
    out = score_table(sheet)
    # the generator's own totals (from unrounded groups) are within the groups' rounding
    assert (np.abs(out["total"] - sheet["TOTAL"]) <= 6 * 0.05 + 0.005 + 1e-9).all()
    # bands, ranks and changes printed by the generator follow from its printed totals
    printed = sheet.assign(CKMB=0.0, TDGQ=0.0, ONLINE=0.0, TTTT=0.0, MDHL=0.0, MDSH=sheet["TOTAL"])
    again = score_table(printed)
    assert (again["band"].astype(str).to_numpy() == sheet["TOTAL_band"].astype(str).to_numpy()).all()
    assert (again["rank"].to_numpy(dtype=float) == sheet["TOTAL_rank"].to_numpy()).all()
    assert (again["rank_of"].to_numpy(dtype=float) == sheet["TOTAL_rank_of"].to_numpy()).all()
    ch = sheet["TOTAL_change"].to_numpy()
    assert np.allclose(again["change"].to_numpy(), ch, equal_nan=True, atol=1e-9)


def test_bad_parameters():
    with pytest.raises(ParameterError):
        score_sheet(10, months=1)          # fewer units than provinces
    with pytest.raises(ParameterError):
        score_sheet(1_000, months=13)
    with pytest.raises(ParameterError):
        national(months=0)
