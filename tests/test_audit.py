"""Audit of published reports: the contradictions the seeds really contain, each check on a
perturbed copy of the seeds, rounding tolerances, and no reliance on names."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis.audit import CHECKS, FINDING_COLUMNS, SEVERITIES, audit, audit_sheet, summarise
from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.synthetic import score_sheet

NARI_TABLE = "II bảng KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI CẤP XÃ"
SA_DEC = "dong-thap/thanh-pho-sa-dec"


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DATA_DIR)


@pytest.fixture(scope="module")
def findings(ds):
    return audit(ds)


def only(findings, **where):
    mask = np.ones(len(findings), dtype=bool)
    for column, value in where.items():
        mask &= (findings[column] == value).to_numpy()
    return findings[mask]


def test_columns_and_vocabulary(findings):
    assert tuple(findings.columns) == FINDING_COLUMNS
    assert set(findings["severity"]) <= set(SEVERITIES)
    assert set(findings["check"]) <= set(CHECKS)
    # every finding names its source table
    assert findings["source_id"].notna().all() and findings["section"].notna().all()
    assert (findings["message"].str.len() > 20).all()


def test_na_ri_satisfaction_above_the_column_maximum(findings):
    above = only(findings, check="above_max", source_id="nari-2024-07", section=NARI_TABLE)
    # 15 of the 17 communes print 20 under the header "Tổng điểm 18" (Kim Hỷ 17.9, Lương Thượng 14.7)
    assert len(above) == 15
    assert (above["published"] == 20).all() and (above["expected"] == 18).all()
    assert above["message"].str.startswith("MDHL").all()
    assert above["severity"].eq("error").all()
    header = only(findings, check="header_max", source_id="nari-2024-07")
    assert len(header) == 1
    row = header.iloc[0]
    assert (row["section"], row["published"], row["expected"]) == (NARI_TABLE, 20, 18)
    assert "15 of 17" in row["message"] and pd.isna(row["unit_id"])


def test_sa_dec_prints_two_timeliness_scores_for_the_city(findings):
    cross = only(findings, check="cross_section", source_id="sadec-2022-11", unit_id=SA_DEC)
    tdgq = cross[cross["message"].str.startswith("TDGQ")]
    assert len(tdgq) == 1
    row = tdgq.iloc[0]
    assert (row["published"], row["expected"]) == (10.6, 12.3)
    assert row["section"] == "II.2.1 (đoạn văn)" and "I.1 (đoạn văn)" in row["message"]
    mdsh = cross[cross["message"].str.startswith("MDSH")].iloc[0]
    assert (mdsh["published"], mdsh["expected"], mdsh["section"]) == (6.4, 5.8, "II.6.2 (đoạn văn)")


@pytest.mark.parametrize("source, unit, total, groups, tolerance", [
    # printed groups, added up here by hand; tolerance: half a unit of each printed decimal
    ("nari-2024-07", "bac-kan/huyen-na-ri", 87.15, [14.6, 17.3, 6.6, 8, 17.8, 14.9], 5 * 0.05 + 0.5 + 0.005),
    ("backan-2024-07", "bac-kan", 82.88, [14.1, 19.5, 7.9, 8.2, 18, 14.4], 5 * 0.05 + 0.5 + 0.005),
    ("sadec-2022-11", SA_DEC, 37.5, [0.0, 12.3, 6.7, 2.3, 9.7, 5.8], 6 * 0.05 + 0.05),
])
def test_totals_that_do_not_add_up(findings, source, unit, total, groups, tolerance):
    rows = only(findings, check="total_vs_groups", source_id=source, unit_id=unit)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["published"] == total
    assert row["expected"] == pytest.approx(sum(groups))
    assert row["tolerance"] == pytest.approx(tolerance)
    assert abs(total - sum(groups)) > tolerance


def test_consistent_totals_are_not_flagged(findings):
    # Tuyên Quang: 81.77 printed, groups add up to 81.8 (within rounding); the 17 + 18 commune rows
    flagged = only(findings, check="total_vs_groups")
    assert set(flagged["unit_id"]) == {"bac-kan/huyen-na-ri", "bac-kan", SA_DEC}


def test_recomputed_timeliness(findings):
    rec = only(findings, check="recomputed_points")
    nari = only(rec, unit_id="bac-kan/huyen-na-ri").iloc[0]
    assert nari["published"] == 17.3 and nari["expected"] == pytest.approx(20 * 0.9076)
    assert nari["severity"] == "warning"   # the 2022-2025 rule is inferred
    city = only(rec, unit_id=SA_DEC).iloc[0]
    assert (city["section"], city["published"]) == ("II.2.1 (đoạn văn)", 10.6)
    assert city["expected"] == pytest.approx(20 * 0.6154)
    # Sa Đéc's ward table (rate, points as printed): flagged where 20 × rate is further from the
    # printed points than their rounding (0.05) plus the rate's (20 × 0.005% = 0.001)
    wards = {"phuong-an-hoa": (81.65, 16.3), "phuong-2": (72.58, 14.5), "xa-tan-phu-dong": (69.92, 13.8),
             "phuong-4": (66.3, 13.3), "xa-tan-khanh-dong": (60, 12), "xa-tan-quy-tay": (53.17, 10.7),
             "phuong-3": (51.53, 10.4), "phuong-1": (46.68, 9.5), "phuong-tan-quy-dong": (41.46, 7.9)}
    by_hand = {w for w, (rate, pts) in wards.items() if abs(20 * rate / 100 - pts) > 0.05 + 0.011}
    assert by_hand == {"xa-tan-phu-dong", "xa-tan-quy-tay", "phuong-3", "phuong-1", "phuong-tan-quy-dong"}
    flagged = {u.rsplit("/", 1)[1] for u in rec["unit_id"] if u.startswith(SA_DEC + "/")}
    assert flagged == by_hand


def test_bounds_from_partial_recomputation(findings):
    bounds = only(findings, check="recomputed_bounds")
    # Lương Thượng prints DVTT 17.31 with 0% online payment: ONLINE ≤ 12 and TTTT ≤ 6·0 + 2 + 2.5
    lt = only(bounds, unit_id="bac-kan/huyen-na-ri/xa-luong-thuong").iloc[0]
    assert lt["published"] == 17.31 and lt["expected"] == pytest.approx(12 + 4.5)
    assert "DVTT" in lt["message"]


def test_no_false_alarms_on_consistent_figures(findings):
    quiet = {"band", "change", "share_sum", "share_from_counts", "parts_sum", "units_by_band",
             "block_extreme", "total_range", "stated_max", "rank_of"}
    assert not set(findings["check"]) & quiet
    # the only rank remark: Phú Tân's two communes at 89.04 ranked 3 and 4 (a tie at 2 decimals)
    rank = only(findings, check="rank")
    assert len(rank) == 1 and rank.iloc[0]["severity"] == "info"
    assert rank.iloc[0]["unit_id"].endswith("/phu-thanh")


def test_audit_finds_contradictions_from_the_data_alone(ds, findings):
    # renaming every source and section changes nothing but the labels
    src = {s: f"src-{i}" for i, s in enumerate(ds.sources["source_id"])}
    sections = pd.unique(pd.concat([ds.scores["section"], ds.indicators["section"]]))
    sec = {s: f"section {i}" for i, s in enumerate(sections)}
    renamed = dataclasses.replace(
        ds, sources=ds.sources.assign(source_id=ds.sources["source_id"].map(src)),
        scores=ds.scores.assign(source_id=ds.scores["source_id"].map(src), section=ds.scores["section"].map(sec)),
        indicators=ds.indicators.assign(source_id=ds.indicators["source_id"].map(src),
                                        section=ds.indicators["section"].map(sec)))
    again = audit(renamed)
    assert len(again) == len(findings)
    assert again["check"].value_counts().to_dict() == findings["check"].value_counts().to_dict()
    assert set(again["source_id"]) == {src[s] for s in findings["source_id"]}


def test_summary_counts(findings):
    table = summarise(findings)
    assert list(table.columns) == ["source_id", "check", *SEVERITIES]
    assert table[list(SEVERITIES)].to_numpy().sum() == len(findings)


# --- each check on a perturbed copy of the seeds ----------------------------------------------

def perturb(ds, table, where: dict, column, value):
    df = ds.table(table).copy()
    mask = np.ones(len(df), dtype=bool)
    for c, v in where.items():
        mask &= (df[c] == v).to_numpy()
    assert mask.sum() >= 1, where
    df.loc[mask, column] = value
    return dataclasses.replace(ds, **{table: df})


def new_findings(before, after):
    key = ["check", "unit_id", "section", "message"]
    merged = after.merge(before[key].drop_duplicates(), on=key, how="left", indicator=True)
    return merged[merged["_merge"] == "left_only"].drop(columns="_merge")


PHU_LONG = {"source_id": "phutan-2024-05-w1", "unit_id": "an-giang/huyen-phu-tan/phu-long",
            "period_id": "2024-05-w1", "group": "TOTAL"}


@pytest.mark.parametrize("table, where, column, value, check, published, expected, severity", [
    ("scores", PHU_LONG, "change", -20.0, "change", -20.0, -26.42, "error"),
    ("scores", {"unit_id": "bac-kan/huyen-na-ri/xa-van-vu", "group": "TOTAL"}, "band", "Tốt", "band",
     73.97, 80.0, "error"),
    ("scores", {"unit_id": "bac-kan/huyen-na-ri/xa-van-vu", "group": "TOTAL"}, "rank", 3, "rank", 3, 16, "error"),
    ("scores", {"unit_id": "bac-kan/huyen-na-ri/xa-van-vu", "group": "MDSH"}, "max_stated", 25.0, "stated_max",
     25.0, 22.0, "warning"),
    ("indicators", {"unit_id": "bac-kan/huyen-na-ri", "indicator": "overdue_rate"}, "value", 10.24, "share_sum",
     101.0, 100.0, "error"),
    ("indicators", {"unit_id": "tuyen-quang", "indicator": "payment_dossiers_online", "measure": "percent"},
     "value", 65.0, "share_from_counts", 65.0, 100 * 14103 / (14103 + 8259), "error"),
    ("indicators", {"unit_id": SA_DEC, "indicator": "overdue_dossiers", "section": "II.2.1 (đoạn văn)"},
     "value", 1000, "parts_sum", 1000, 1064, "error"),
    ("indicators", {"unit_id": SA_DEC, "indicator": "units_by_band"}, "value", 8, "units_by_band", 8, 9, "error"),
    ("indicators", {"unit_id": SA_DEC, "indicator": "unit_total_max"}, "value", 46.0, "block_extreme",
     46.0, 47.34, "error"),
    ("indicators", {"unit_id": SA_DEC, "indicator": "satisfaction_rate", "section": "II.5.3 (đoạn văn)"},
     "value", 55.0, "cross_section", 55.0, 53.9, "error"),
])
def test_each_check_fires(ds, findings, table, where, column, value, check, published, expected, severity):
    after = audit(perturb(ds, table, where, column, value))
    new = new_findings(findings, after)
    hits = new[(new["check"] == check) & (new["severity"] == severity)]
    assert len(hits) >= 1, new
    hit = hits.iloc[0]
    assert hit["published"] == pytest.approx(published)
    assert hit["expected"] == pytest.approx(expected)
    assert pd.notna(hit["source_id"]) and pd.notna(hit["section"])


def test_rank_of_must_cover_the_rows_listed(ds, findings):
    after = audit(perturb(ds, "scores", {"unit_id": "bac-kan/huyen-na-ri/xa-van-vu", "group": "TOTAL"},
                          "rank_of", 16))
    new = new_findings(findings, after)
    assert set(new["check"]) >= {"rank_of"}
    assert new["message"].str.contains("differs inside one ranked block").any()


def test_band_at_a_cut_point_within_rounding_is_info(ds, findings):
    # 90 printed without decimals may be 89.5: a printed 'Tốt' is then possible
    d = perturb(ds, "scores", {"unit_id": "bac-kan/huyen-na-ri/xa-quang-phong", "group": "TOTAL"}, "value", 90.0)
    d = perturb(d, "scores", {"unit_id": "bac-kan/huyen-na-ri/xa-quang-phong", "group": "TOTAL"}, "decimals", 0)
    new = new_findings(findings, audit(d))
    band = new[new["check"] == "band"].iloc[0]
    assert band["severity"] == "info" and band["expected"] == 90


# --- tolerances on a small sheet ---------------------------------------------------------------

def sheet_with_total(total, decimals=2):
    return pd.DataFrame({"source_id": "s", "section": "I", "unit_id": "u", "period_id": "2026-01",
                         "CKMB": [15.1], "TDGQ": [19.5], "ONLINE": [7.9], "TTTT": [8.2], "MDHL": [17.1],
                         "MDSH": [14.4], **{f"{g}_decimals": [1] for g in ("CKMB", "TDGQ", "ONLINE", "TTTT",
                                                                         "MDHL", "MDSH")},
                         "TOTAL": [total], "TOTAL_decimals": [decimals]})


@pytest.mark.parametrize("total, flagged", [(82.2, False), (82.5, False), (82.51, True), (81.9, False),
                                            (81.89, True)])
def test_total_tolerance_follows_printed_decimals(total, flagged):
    # groups add up to 82.2; six groups to 0.1 allow 0.3, the total to 0.01 another 0.005
    out = audit_sheet(sheet_with_total(total))
    assert (len(out) == 1) == flagged
    if flagged:
        assert out.iloc[0]["tolerance"] == pytest.approx(0.305)


def test_total_outside_0_100():
    out = audit_sheet(sheet_with_total(105.0).assign(MDSH=[35.2], MDSH_max_stated=[22.0]))
    assert {"total_range", "above_max"} <= set(out["check"])


def test_synthetic_sheet_is_clean_and_misprints_are_found():
    clean = score_sheet(5_000, seed=3)
    assert audit_sheet(clean).empty
    dirty = score_sheet(5_000, seed=3, error_rate=0.01)
    found = audit_sheet(dirty)
    assert {"total_vs_groups", "above_max", "change", "band"} <= set(found["check"])
    assert found["source_id"].str.startswith("synthetic-").all()


# --- the vectorised audit against a straightforward row-by-row reference -------------------------

def _half(decimals) -> float:
    return 0.5 * 10.0 ** -(0 if decimals != decimals else int(decimals))


def _decimals_of(x: float) -> float:
    return next((float(d) for d in range(5) if abs(round(x, d) - x) < 1e-9), float("nan"))


def _reference_findings(sheet: pd.DataFrame, scheme) -> set:
    """The score checks that a synthetic sheet's misprints trip, written one row at a time in plain
    Python: (check, unit, period, section, published, expected, severity)."""
    eps = 1e-9
    six = ("CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH")
    rows = sheet.astype(object).where(sheet.notna(), None).to_dict("records")
    lows, names, top = list(scheme.band_lower), list(scheme.band_names), scheme.band_top

    def band(x):
        return max((i for i, lo in enumerate(lows) if x >= lo), default=-1) if 0 <= x <= top else -1

    out = set()

    def add(check, r, published, expected, severity):
        out.add((check, r["unit_id"], r["period_id"], r["section"], round(float(published), 6),
                 round(float(expected), 6), severity))

    for r in rows:
        t = r["TOTAL"]
        if t is not None and all(r[g] is not None for g in six):
            expected = 0.0
            for g in six:
                expected += r[g]
            tol = 0.0
            for g in six:
                tol += _half(r[f"{g}_decimals"] if r[f"{g}_decimals"] is not None else 0)
            tol += _half(r["TOTAL_decimals"] if r["TOTAL_decimals"] is not None else 0)
            if abs(t - expected) > tol + eps:
                add("total_vs_groups", r, t, expected, "error")
        for g in six:
            v, stated = r[g], r[f"{g}_max_stated"]
            limit = scheme.max_points(g) if stated is None else min(stated, scheme.max_points(g))
            if v is not None and v > limit + eps:
                add("above_max", r, v, limit, "error")
        if t is not None and r["TOTAL_band"] is not None:
            printed, implied = names.index(r["TOTAL_band"]), band(t)
            if printed != implied:
                h = _half(r["TOTAL_decimals"])
                lo = lows[printed]
                up = lows[printed + 1] if printed + 1 < len(lows) else top
                ambiguous = band(t - h) == printed or band(t + h) == printed
                add("band", r, t, lo if t < lo else up, "info" if ambiguous else "error")
        if t is not None and t < -eps or t is not None and t > 100 + eps:
            add("total_range", r, t, 0.0 if t < 0 else 100.0, "error")
    # changes: the previous month of the same unit in the same section of the same source
    index = {(r["source_id"], r["section"], r["unit_id"], r["period_id"]): r for r in rows}
    by_source = {}
    for r in rows:
        by_source.setdefault((r["source_id"], r["unit_id"], r["period_id"]), r)
    for r in rows:
        ch, v = r["TOTAL_change"], r["TOTAL"]
        if ch is None or v is None:
            continue
        year, month = map(int, r["period_id"].split("-"))
        prev_id = f"{year - (month == 1)}-{12 if month == 1 else month - 1:02d}"
        p = index.get((r["source_id"], r["section"], r["unit_id"], prev_id))
        if p is None or p["TOTAL"] is None:
            p = by_source.get((r["source_id"], r["unit_id"], prev_id))
        if p is None or p["TOTAL"] is None:
            continue
        expected = v - p["TOTAL"]
        tol = _half(r["TOTAL_decimals"]) + _half(p["TOTAL_decimals"]) + _half(_decimals_of(ch))
        if abs(ch - expected) > tol + eps:
            add("change", r, ch, expected, "error")
    # ranks: competition rank among the scores of the same block of the same section
    blocks = {}
    for r in rows:
        if r["TOTAL"] is not None:
            blocks.setdefault((r["source_id"], r["section"], r["period_id"], r["TOTAL_rank_block"]), []).append(r)
    for members in blocks.values():
        h_max = max(_half(m["TOTAL_decimals"]) for m in members)
        for r in members:
            if r["TOTAL_rank"] is None:
                continue
            x = r["TOTAL"]
            comp = 1 + sum(m["TOTAL"] > x for m in members)
            if r["TOTAL_rank"] == comp:
                continue
            # units the section does not list (it ranks "of" more) could stand anywhere
            unlisted = max(r["TOTAL_rank_of"] - len(members), 0) if r["TOTAL_rank_of"] is not None else 0
            tol = _half(r["TOTAL_decimals"]) + h_max
            lo = 1 + sum(m["TOTAL"] >= x + tol - 1e-6 for m in members)
            hi = sum(m["TOTAL"] > x - tol + 1e-6 for m in members) + unlisted
            if not lo <= r["TOTAL_rank"] <= hi:
                add("rank", r, r["TOTAL_rank"], comp, "error")
            elif not unlisted:   # a tie at the printed precision
                add("rank", r, r["TOTAL_rank"], comp, "info")
    return out


def test_vectorised_score_checks_match_a_row_by_row_reference():
    from analysis.scheme import load_scheme

    scheme = load_scheme("766-2025")
    sheet = score_sheet(4_000, seed=11, error_rate=0.03, rates=False)
    rng = np.random.default_rng(11)
    # missing groups, coarser printed totals (ties within rounding), a unit above 100
    for g in ("ONLINE", "MDSH"):
        v = sheet[g].to_numpy(copy=True)
        v[rng.random(len(sheet)) < 0.01] = np.nan
        sheet[g] = v
    d = sheet["TOTAL_decimals"].to_numpy(copy=True)
    d[rng.random(len(sheet)) < 0.05] = 1
    sheet["TOTAL_decimals"] = d
    sheet.loc[7, "TOTAL"] = 100.5
    found = audit_sheet(sheet, scheme=scheme)
    checks = {"total_vs_groups", "above_max", "band", "change", "rank", "total_range"}
    assert set(found["check"]) == checks   # every kind of misprint is there, and nothing else
    assert set(found["severity"]) == {"error", "info"}   # ties within rounding are info
    got = {(f.check, f.unit_id, f.period_id, f.section, round(f.published, 6), round(f.expected, 6), f.severity)
           for f in found.itertuples()}
    assert got == _reference_findings(sheet, scheme)
    assert len(got) == len(found)


# --- the array paths of audit() against the table operations they replace --------------------

def test_coded_columns_compare_as_pandas_does():
    from analysis.audit import _Coded

    t = pd.DataFrame({"c": pd.array(["a", None, "", "b", "a", "x TEMP y"], dtype="str")})
    coded = _Coded(t)
    assert coded.is_("c", "a").tolist() == (t["c"] == "a").fillna(False).tolist()
    assert coded.is_("c", "absent").tolist() == [False] * 6
    assert coded.isin("c", ["b", "", "absent"]).tolist() == t["c"].isin(["b", ""]).tolist()
    assert coded.contains("c", "TEMP").tolist() == [False, False, False, False, False, True]
    assert coded.present("c", np.array([True, True, False, True, False, False])) == ["a", "b"]
    # grouping codes: a missing value has a code of its own, or the code of "" when blank
    codes, n = coded.key("c")
    assert pd.factorize(codes)[0].tolist() == pd.factorize(t["c"].fillna("<NA>").to_numpy(dtype=object))[0].tolist()
    blank, _ = coded.key("c", blank_is_missing=True)
    assert pd.factorize(blank)[0].tolist() == pd.factorize(t["c"].fillna("").to_numpy(dtype=object))[0].tolist()
    assert codes.max() < n


@pytest.mark.parametrize("table, where, column, value", [
    (None, None, None, None),
    ("scores", {"unit_id": "bac-kan/huyen-na-ri/xa-van-vu", "group": "TDGQ"}, "value", 5.0),
    ("indicators", {"unit_id": "bac-kan/huyen-na-ri", "indicator": "overdue_rate"}, "value", 30.0),
])
def test_recomputation_keys_on_arrays_match_the_recompute_table(ds, table, where, column, value):
    """audit() finds the keys where a recomputation disagrees on arrays; the table of
    recompute_group_points, with the same tests, must give the same keys."""
    from analysis.audit import _disagreeing_keys, _recompute_findings
    from analysis.scoring import recompute_group_points

    d = ds if table is None else perturb(ds, table, where, column, value)
    ind, scores = d.indicators.reset_index(drop=True), d.scores.reset_index(drop=True)
    by = ["source_id", "unit_id", "period_id"]
    got = _disagreeing_keys(ind, scores, None, 2, by)
    table_keys = _recompute_findings(recompute_group_points(ind, scores=scores, explain=False), 2)[by]
    assert len(got) and set(map(tuple, got.to_numpy())) == set(map(tuple, table_keys.to_numpy()))


def test_a_key_with_a_missing_part_goes_through_the_tables(ds, findings):
    from analysis.audit import _disagreeing_keys

    extra = ds.indicators.loc[ds.indicators["measure"] == "percent"].head(1).assign(unit_id=np.nan)
    d = dataclasses.replace(ds, indicators=pd.concat([ds.indicators, extra], ignore_index=True))
    assert _disagreeing_keys(d.indicators, d.scores, None, 2, ["source_id", "unit_id", "period_id"]) is None
    recomputed = ["recomputed_points", "recomputed_bounds"]
    after = audit(d)
    assert len(only(findings, check="recomputed_points"))
    pd.testing.assert_frame_equal(after[after["check"].isin(recomputed)].reset_index(drop=True),
                                  findings[findings["check"].isin(recomputed)].reset_index(drop=True))


def test_a_dataset_without_scores_is_audited_on_its_indicators(tmp_path):
    """A valid data directory may print indicators only: the audit runs (no score check has
    anything to contradict), from Python and from the command line."""
    import shutil
    import subprocess
    import sys

    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    (data / "scores.csv").write_text((DATA_DIR / "scores.csv").read_text(encoding="utf-8").splitlines()[0] + "\n",
                                     encoding="utf-8")
    ds = load_dataset(data)
    assert ds.scores.empty and len(ds.indicators)
    f = audit(ds)
    assert list(f.columns) == list(FINDING_COLUMNS)
    assert audit_sheet(pd.DataFrame(columns=["source_id", "section", "unit_id", "period_id"])).empty
    done = subprocess.run([sys.executable, "-m", "analysis", "audit", "--data", str(data)],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "internal error" not in done.stderr, done.stderr
