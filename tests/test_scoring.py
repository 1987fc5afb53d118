"""Scoring engine: totals, bands, ranks, changes, views and recomputed points, checked against
values computed by hand in the tests and against every band, rank and change the seeds print."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.errors import DataError, ParameterError
from analysis.scheme import load_scheme
from analysis.scoring import (band_of, change_against_previous, competition_rank, five_from_six,
                              half_unit, recompute_group_points, recompute_wide, rank_units,
                              score_table, six_from_five, total_from_groups, block_codes)

SCHEME = load_scheme("766-2025")

# Phú Tân, Phụ lục 1 of report 865/BC-VP (shared/seeds/002_…): week-1 total, April total,
# printed change and printed band, in the table's order (STT 1-18).
PHU_TAN = [
    ("phu-hung", 89.21, 77.38, 11.83, "Tốt"), ("phu-binh", 89.12, 88.97, 0.15, "Tốt"),
    ("tan-hoa", 89.04, 89.06, -0.02, "Tốt"), ("phu-thanh", 89.04, 88.75, 0.29, "Tốt"),
    ("phu-hiep", 88.82, 86.78, 2.04, "Tốt"), ("hiep-xuong", 88.72, 83.66, 5.06, "Tốt"),
    ("phu-my", 88.62, 81.75, 6.87, "Tốt"), ("phu-xuan", 88.42, 89.15, -0.73, "Tốt"),
    ("phu-tho", 86.01, 80.21, 5.8, "Tốt"), ("tan-trung", 84.24, 81.16, 3.08, "Tốt"),
    ("phu-thanh-2", 83.96, 80.26, 3.7, "Tốt"), ("phu-an", 82.18, 77.84, 4.34, "Tốt"),
    ("cho-vam", 81.78, 80.76, 1.02, "Tốt"), ("phu-lam", 81.09, 81.09, 0.0, "Tốt"),
    ("long-hoa", 80.79, 81.78, -0.99, "Tốt"), ("hoa-lac", 75.17, 81.99, -6.82, "Khá"),
    ("binh-thanh-dong", 74.81, 79.56, -4.75, "Khá"), ("phu-long", 55.87, 82.29, -26.42, "Trung bình"),
]


def band_by_hand(x: float) -> str:
    if x >= 90:
        return "Xuất sắc"
    if x >= 80:
        return "Tốt"
    if x >= 70:
        return "Khá"
    if x >= 50:
        return "Trung bình"
    return "Yếu"


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DATA_DIR)


# --- Phú Tân by hand -------------------------------------------------------------------------

def test_phu_tan_band_order_and_change_by_hand(ds):
    week = pd.DataFrame({"unit_id": [f"an-giang/huyen-phu-tan/{u}" for u, *_ in PHU_TAN],
                         "period_id": "2024-05-w1", "value": [w for _, w, *_ in PHU_TAN]})
    april = week.assign(period_id="2024-04", value=[a for _, _, a, *_ in PHU_TAN])
    both = pd.concat([week, april], ignore_index=True)
    # bands: the printed band is the band of the printed total
    hand_bands = [band_by_hand(w) for _, w, *_ in PHU_TAN]
    assert hand_bands == [b for *_, b in PHU_TAN]
    assert band_of(week["value"]).tolist() == hand_bands
    # order: competition rank, the two 89.04 share rank 3, the next is 5
    hand_rank = [1 + sum(o > w for _, o, *_ in PHU_TAN) for _, w, *_ in PHU_TAN]
    assert hand_rank == [1, 2, 3, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
    assert competition_rank(week, by=["period_id"])["rank"].tolist() == hand_rank
    # change against April (Period.previous() of a week snapshot is the month before)
    hand_change = [round(w - a, 2) for _, w, a, *_ in PHU_TAN]
    assert hand_change == [c for *_, c, _ in PHU_TAN]
    out = change_against_previous(both).iloc[: len(PHU_TAN)]
    assert out["previous_period_id"].unique().tolist() == ["2024-04"]
    assert np.allclose(out["change"], hand_change, atol=1e-9)
    # and the published data say the same
    pub = ds.scores
    pub = pub[(pub.source_id == "phutan-2024-05-w1") & (pub.period_id == "2024-05-w1") & (pub.rank_block == "commune")]
    assert pub["unit_id"].tolist() == week["unit_id"].tolist()
    assert pub["band"].tolist() == hand_bands
    assert np.allclose(pub["change"].astype(float), hand_change)
    assert pub["rank"].tolist() == list(range(1, 19))   # the table breaks the 89.04 tie (STT)


# --- every band, rank and change printed in the seeds ------------------------------------------

def test_every_published_band_matches_its_score(ds):
    rows = ds.scores[ds.scores["band"].notna() & ds.scores["value"].notna()]
    assert len(rows) >= 47
    for period, part in rows.groupby("period_id"):
        scheme = load_scheme(period=period)
        assert band_of(part["value"], scheme).astype(object).tolist() == part["band"].tolist(), period


def test_every_published_rank_in_a_complete_table(ds):
    block = ["source_id", "section", "period_id", "group", "rank_block"]
    s = ds.scores[ds.scores["value"].notna()].rename(columns={"rank": "printed", "rank_of": "printed_of"})
    s = s.assign(rank_block=s["rank_block"].fillna(""))
    out = competition_rank(s, by=block)
    ranked = out[out["printed"].notna()]
    complete = ranked[ranked.groupby(block)["value"].transform("size") == ranked["printed_of"]]
    # the tables that list their whole block: Na Rì 17 communes, Sa Đéc 9 (twice), Phú Tân 18
    assert len(complete) == 17 + 9 + 9 + 18
    assert (complete["rank_of"] == complete["printed_of"]).all()
    tie = complete.groupby(block + ["value"])["value"].transform("size")
    engine, printed = complete["rank"].astype(int), complete["printed"].astype(int)
    # equal where the score is not tied; inside the tie's span (rank … rank + ties - 1) where it is
    assert (printed[tie == 1] == engine[tie == 1]).all()
    assert ((printed >= engine) & (printed <= engine + tie - 1)).all()
    assert (tie > 1).sum() == 2   # Phú Tân's two 89.04


def test_every_published_change_with_both_periods(ds):
    totals = ds.scores[(ds.scores["group"] == "TOTAL")]
    out = change_against_previous(totals, ds.periods, by=["source_id", "section", "unit_id", "group"])
    both = out[out["change"].notna() & totals["change"].notna()]
    assert len(both) == 19   # Phú Tân: 18 communes and the district, week 1 vs April
    printed = totals.loc[both.index, "change"]
    tol = half_unit(totals.loc[both.index, "decimals"]) * 2 + 0.005
    assert (np.abs(both["change"] - printed) <= tol).all()


# --- totals and views --------------------------------------------------------------------------

def test_total_from_groups_by_hand():
    groups = ["CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH"]
    sa_dec = pd.DataFrame({"unit_id": "sa-dec", "period_id": "2022-11", "group": groups,
                           "value": [0.0, 12.3, 6.7, 2.3, 9.7, 5.8], "decimals": 1})
    out = total_from_groups(sa_dec)
    assert out["total"].item() == pytest.approx(0 + 12.3 + 6.7 + 2.3 + 9.7 + 5.8)
    assert out["view"].item() == "six" and out["tolerance"].item() == pytest.approx(6 * 0.05)
    five = pd.DataFrame({"unit_id": "quang-phong", "period_id": "2024-07",
                         "group": ["CKMB", "TDGQ", "DVTT", "MDHL", "MDSH", "TOTAL"],
                         "value": [18, 20, 13.99, 20, 17.5, 89.49], "decimals": [0, 0, 2, 0, 1, 2]})
    out = total_from_groups(five)
    assert out["total"].item() == pytest.approx(89.49) and out["view"].item() == "five"
    assert out["tolerance"].item() == pytest.approx(3 * 0.5 + 0.005 + 0.05)
    partial = sa_dec[sa_dec.group != "MDSH"]
    out = total_from_groups(partial)
    assert np.isnan(out["total"].item()) and not out["complete"].item()
    assert out["missing"].item() == "MDSH"


def test_views_convert_where_possible():
    six = pd.DataFrame({"unit_id": "u", "period_id": "2024-07", "group": ["CKMB", "ONLINE", "TTTT"],
                        "value": [14.6, 6.6, 8.0], "decimals": [1, 1, 0]})
    out = five_from_six(six).set_index("group")
    assert out.loc["DVTT", "value"] == pytest.approx(14.6) and out.loc["DVTT", "decimals"] == 1
    assert set(out.index) == {"CKMB", "DVTT"}
    five = pd.DataFrame({"unit_id": ["a", "b", "c"], "period_id": "2024-07", "group": "DVTT",
                         "value": [13.99, 0.0, 22.0]})
    out = six_from_five(five)
    a = out[out.unit_id == "a"]
    assert a["value"].isna().all() and a["note"].str.contains("cannot be split").all()
    assert out[out.unit_id == "b"]["value"].tolist() == [0.0, 0.0]
    assert out[out.unit_id == "c"].set_index("group")["value"].to_dict() == {"ONLINE": 12.0, "TTTT": 10.0}


# --- ranks in the 766 blocks -------------------------------------------------------------------

def test_rank_units_blocks():
    units = pd.DataFrame({
        "unit_id": ["p1", "p2", "p1/d", "p1/d/c1", "p1/d/c2", "p1/e", "p1/e/c3", "p1/s1", "p1/s2"],
        "level": ["province", "province", "district", "commune", "commune", "district", "commune",
                  "department", "department"],
        "parent_id": [None, None, "p1", "p1/d", "p1/d", "p1", "p1/e", "p1", "p1"],
        "province_id": ["p1", "p2"] + ["p1"] * 7})
    df = pd.DataFrame({"unit_id": units["unit_id"], "period_id": "2024-07",
                       "value": [80.0, 85.0, 70.0, 60.0, 75.0, 90.0, 65.0, 50.0, 95.0]})
    out = rank_units(df, units).set_index("unit_id")
    assert out.loc[["p1", "p2"], "rank"].tolist() == [2, 1]                   # provinces among provinces
    assert out.loc[["p1/d", "p1/e"], "rank"].tolist() == [2, 1]              # districts in the province
    assert out.loc[["p1/d/c1", "p1/d/c2", "p1/e/c3"], "rank"].tolist() == [3, 1, 2]   # communes in the province
    assert out.loc[["p1/s1", "p1/s2"], "rank"].tolist() == [2, 1]
    assert out.loc["p1/d/c1", "rank_of"] == 3
    within = rank_units(df, units, communes_within="parent").set_index("unit_id")
    assert within.loc[["p1/d/c1", "p1/d/c2", "p1/e/c3"], "rank"].tolist() == [2, 1, 1]
    with pytest.raises(DataError, match="share"):
        rank_units(pd.concat([df, df]), units)
    with pytest.raises(ParameterError):
        rank_units(df, units, communes_within="district")


def test_change_needs_one_row_per_period():
    df = pd.DataFrame({"unit_id": ["u", "u"], "period_id": ["2024-07", "2024-07"], "value": [1.0, 2.0]})
    with pytest.raises(DataError, match="share"):
        change_against_previous(df)


def test_change_only_where_both_periods_exist():
    df = pd.DataFrame({"unit_id": ["u", "u", "v"], "period_id": ["2024-Q2", "2024-Q1", "2024-Q2"],
                       "value": [80.0, 75.5, 60.0]})
    out = change_against_previous(df)
    assert out["change"].tolist()[0] == pytest.approx(4.5)
    assert np.isnan(out["change"].tolist()[1]) and np.isnan(out["change"].tolist()[2])
    assert out["previous_period_id"].tolist() == ["2024-Q1", "2023-Q4", "2024-Q1"]


# --- recomputation -----------------------------------------------------------------------------

def test_recompute_by_hand():
    def rec(**rates):
        return {g: r.iloc[0] for g, r in recompute_wide(pd.DataFrame([rates]), SCHEME).items()}

    assert rec(on_time_rate=90.76)["TDGQ"]["recomputed"] == pytest.approx(20 * 0.9076)
    # MDHL: dossier satisfaction reaches full marks at 90%, complaint satisfaction at 100%
    r = rec(pakn_on_time_rate=50.0, satisfaction_pakn_rate=91.35, satisfaction_dossier_rate=45.0)["MDHL"]
    assert r["recomputed"] == pytest.approx(6 * 0.5 + 6 * 0.9135 + 6 * 45 / 90)
    # no complaints: both complaint sub-indicators score 6
    r = rec(pakn_received=0.0, satisfaction_dossier_rate=90.0)["MDHL"]
    assert r["complete"] and r["recomputed"] == pytest.approx(18)
    # TTTT = 6A + min(2, 2.5B) + 2.5C with C unknown: bounds only
    r = rec(payment_dossiers_online=50.0, payment_procedures_online=40.0)["TTTT"]
    assert not r["complete"] and np.isnan(r["recomputed"])
    assert r["lower"] == pytest.approx(3 + 1) and r["upper"] == pytest.approx(3 + 1 + 2.5)
    assert "C_procedures_with_fee_dossiers" in r["missing"]
    r = rec(payment_dossiers_online=100.0, payment_procedures_online=100.0)["TTTT"]
    assert r["upper"] == pytest.approx(10)   # 6 + 2 + 2.5 capped at 10
    # CKMB complete: Tuyên Quang 07/2024 rates give 13.23 (printed 13.2)
    r = rec(procedures_published_on_time=60.55, procedures_updated_on_time=41.72,
            procedures_published_full=100.0, dossiers_synced=98.83)["CKMB"]
    assert r["recomputed"] == pytest.approx(6 * 0.6055 + 4 * 0.4172 + 2 + 6 * 0.9883)
    # ONLINE: the split is not established, so any rate leaves 0-12
    r = rec(online_submission_rate=59.81)["ONLINE"]
    assert (r["lower"], r["upper"], r["rule_status"]) == (0, 12, "unknown")


def test_recompute_against_published_seeds(ds):
    out = recompute_group_points(ds.indicators, scores=ds.scores)
    tdgq = out[(out.group == "TDGQ") & out.published.notna()].set_index(["unit_id", "section"])
    nari = tdgq.loc[("bac-kan/huyen-na-ri", "I.2 (đoạn văn)")]
    assert nari["recomputed"] == pytest.approx(18.152) and nari["published"] == 17.3
    sa_dec = tdgq.loc["dong-thap/thanh-pho-sa-dec"]
    assert sa_dec["recomputed"].tolist() == pytest.approx([12.308, 12.308])
    assert sorted(sa_dec["published"]) == [10.6, 12.3]
    assert (out.loc[out.status == "partial", "recomputed"].isna()).all()
    assert set(out["scheme_version"]) == {"766-2022"}


# --- property-based invariants -----------------------------------------------------------------

MAXES = {"CKMB": 18, "TDGQ": 20, "ONLINE": 12, "TTTT": 10, "MDHL": 18, "MDSH": 22}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*[st.floats(0, m) for m in MAXES.values()]), min_size=1, max_size=20))
def test_totals_stay_within_0_100(rows):
    df = pd.DataFrame([{"unit_id": f"u{i}", "period_id": "2026-01", "group": g, "value": v}
                       for i, r in enumerate(rows) for g, v in zip(MAXES, r)])
    total = total_from_groups(df)["total"]
    assert ((total >= 0) & (total <= 100 + 1e-9)).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=2, max_size=50))
def test_bands_are_monotone_in_the_score(scores):
    x = np.sort(np.asarray(scores))
    codes = band_of(pd.Series(x)).cat.codes.to_numpy()
    assert (codes >= 0).all() and (np.diff(codes) >= 0).all()
    for a, b in zip(x, codes):
        assert SCHEME.band_names[b] == band_by_hand(a)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from([50.0, 70.5, 70.5, 88.0, 90.0]) | st.floats(0, 100)),
                min_size=1, max_size=30))
def test_ranks_are_consistent_under_ties(rows):
    df = pd.DataFrame(rows, columns=["block", "value"])
    out = competition_rank(df, by=["block"])
    for i, (b, v) in enumerate(rows):
        same = [w for c, w in rows if c == b]
        assert out["rank"].iloc[i] == 1 + sum(w > v for w in same)
        assert out["rank_of"].iloc[i] == len(same)
    for (b, v), ranks in out.groupby(["block", "value"])["rank"]:
        assert ranks.nunique() == 1   # equal scores, equal ranks


RATE_CODES = sorted({c for g in SCHEME.groups.values() for s in g.subs for c in s.indicators})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=len(RATE_CODES), max_size=len(RATE_CODES)),
       st.sampled_from(["766-2022", "766-2025"]))
def test_recomputed_points_stay_within_0_max(rates, version):
    scheme = load_scheme(version)
    frame = pd.DataFrame([{c: (np.nan if r is None else r) for c, r in zip(RATE_CODES, rates)}])
    for group, res in recompute_wide(frame, scheme).items():
        top = scheme.max_points(group)
        row = res.iloc[0]
        assert -1e-9 <= row["lower"] <= row["upper"] <= top + 1e-9
        if row["complete"]:
            assert 0 <= row["recomputed"] <= top + 1e-9


def test_score_table_matches_a_sheet_scored_by_hand():
    sheet = pd.DataFrame({
        "unit_id": ["p/a", "p/b", "p/c", "p/a", "q"], "period_id": ["2026-02"] * 3 + ["2026-01", "2026-02"],
        "level": ["commune"] * 4 + ["province"], "province_id": ["p"] * 4 + ["q"],
        "CKMB": 18.0, "TDGQ": [20.0, 19.0, 20.0, 20.0, 20.0], "ONLINE": 12.0, "TTTT": 10.0,
        "MDHL": 18.0, "MDSH": [12.0, 13.0, 12.0, 2.0, 22.0]})
    out = score_table(sheet, SCHEME)
    assert out["total"].tolist() == [90.0, 90.0, 90.0, 80.0, 100.0]
    assert out["band"].astype(object).tolist() == ["Xuất sắc"] * 3 + ["Tốt", "Xuất sắc"]
    assert out["rank"].tolist() == [1, 1, 1, 1, 1] and out["rank_of"].tolist() == [3, 3, 3, 1, 1]
    assert out["change"].iloc[0] == pytest.approx(10.0) and out["change"].iloc[1:].isna().all()


# --- the fast paths (direct-address tables, dense renumbering) agree with plain Python ----------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), st.integers(0, 3), st.sampled_from("xyz")),
                min_size=1, max_size=40),
       st.integers(0, 200_000))
def test_block_codes_group_equal_keys_only(rows, spare):
    df = pd.DataFrame(rows, columns=["s", "i", "t"])
    # the same columns as categoricals with many unused categories: the key's range then outgrows
    # the rows and is renumbered (densely, or by hashing when the range is too wide for that)
    wide = pd.DataFrame({"s": pd.Categorical(df["s"], categories=["a", "b", "c"] + [f"s{k}" for k in range(spare)]),
                         "i": df["i"], "t": pd.Categorical(df["t"], categories=[f"t{k}" for k in range(spare)] + list("xyz"))})
    keys = [tuple("∅" if v is None else v for v in r) for r in rows]
    for frame in (df, wide):
        codes = block_codes(frame, ["s", "i", "t"])
        assert (codes >= 0).all() and codes.max() <= 2 * len(rows) + 4096
        for a in range(len(rows)):
            for b in range(len(rows)):
                assert (codes[a] == codes[b]) == (keys[a] == keys[b])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.sampled_from(["2026-01", "2026-02", "2026-03"]),
                          st.one_of(st.none(), st.floats(0, 100))), min_size=1, max_size=12,
                unique_by=lambda r: (r[0], r[1])),
       st.integers(0, 100_000))
def test_change_against_previous_matches_a_dictionary(rows, spare):
    df = pd.DataFrame(rows, columns=["unit_id", "period_id", "value"]).astype({"value": float})
    value = {(u, p): v for u, p, v in rows}
    previous = {"2026-02": "2026-01", "2026-03": "2026-02", "2026-01": "2025-12"}
    expected = [value.get((u, previous[p])) for u, p, _ in rows]
    expected = [np.nan if e is None else e for e in expected]
    # unit ids as categoricals with many unused categories: keys too wide for a direct-address table
    cat = df.assign(unit_id=pd.Categorical(df["unit_id"], categories=[f"z{k}" for k in range(spare)] + ["u1", "u2", "u3"]))
    for frame in (df, cat):
        out = change_against_previous(frame)
        np.testing.assert_array_equal(out["previous_value"].to_numpy(), np.asarray(expected, dtype=float))
        assert out["previous_period_id"].tolist() == [previous[p] for _, p, _ in rows]
