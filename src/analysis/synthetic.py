"""Seeded synthetic 766 data (never real): unit-period score sheets of any size and a national dataset."""
from __future__ import annotations

import calendar
from pathlib import Path

import numpy as np
import pandas as pd

from .dataset import Dataset, empty_table
from .errors import ParameterError
from .reference import SIX_GROUPS, bands as reference_bands, groups as reference_groups
from .schema import TABLE_COLUMNS

__all__ = ["score_sheet", "national", "SYNTHETIC_PREFIX", "SHEET_RATES", "N_PROVINCES",
           "DEPARTMENTS_PER_PROVINCE", "N_COMMUNES"]

SYNTHETIC_PREFIX = "synthetic-"
N_PROVINCES = 34
DEPARTMENTS_PER_PROVINCE = 15
N_COMMUNES = 3300
# Indicator rates carried by a synthetic sheet (percent, 2 decimals), scored by the scheme's rules.
SHEET_RATES = ("on_time_rate", "online_submission_rate", "online_payment_rate", "payment_procedures_online",
               "pakn_on_time_rate", "satisfaction_pakn_rate", "satisfaction_dossier_rate",
               "e_results_rate", "digitised_dossiers_rate", "reuse_rate")
_CKMB_RATES = ("procedures_published_on_time", "procedures_updated_on_time", "procedures_published_full",
               "dossiers_synced")
_GROUPS = SIX_GROUPS  # the vocabulary lives in reference/ (groups.csv, bands.csv)
_MAX = {g: float(m) for g, m in reference_groups()["max_points"].items() if g in _GROUPS + ("TOTAL",)}
_BANDS = tuple((r.band, float(r.lower)) for r in reference_bands().sort_values("lower").itertuples())
_SECTION = {"province": "synthetic: tổng hợp tỉnh", "department": "synthetic: bảng cấp sở",
            "commune": "synthetic: bảng cấp xã"}


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _rate(rng, mean_logit, spread, n, ceiling_logit=None):
    """Rates in percent: logit-normal around ``mean_logit``; with a ceiling share at exactly 100."""
    r = 100.0 * _logistic(mean_logit + spread * rng.standard_normal(n))
    if ceiling_logit is not None:
        r = np.where(rng.random(n) < _logistic(ceiling_logit), 100.0, r)
    return np.round(r, 2)


def _units(n_units: int, rng, *, n_dep: int | None = None) -> dict:
    """Unit structure: 34 provinces, ``n_dep`` departments (default: up to 15 per province, at
    most a tenth of the units), the rest communes."""
    if n_units < N_PROVINCES:
        raise ParameterError(f"a synthetic table needs at least {N_PROVINCES} units (one per province), got {n_units}")
    if n_dep is None:
        n_dep = min(DEPARTMENTS_PER_PROVINCE * N_PROVINCES, max(0, (n_units - N_PROVINCES) // 10))
    n_com = n_units - N_PROVINCES - n_dep
    # communes are spread unevenly over the provinces (some provinces are much larger)
    weights = rng.gamma(4.0, 1.0, N_PROVINCES)
    com_prov = rng.choice(N_PROVINCES, size=n_com, p=weights / weights.sum()) if n_com else np.zeros(0, int)
    com_prov = np.sort(com_prov)
    dep_prov = np.repeat(np.arange(N_PROVINCES), -(-n_dep // N_PROVINCES))[:n_dep]
    level = np.r_[np.repeat("province", N_PROVINCES), np.repeat("department", n_dep), np.repeat("commune", n_com)]
    province = np.r_[np.arange(N_PROVINCES), dep_prov, com_prov].astype(np.int64)
    # running number of a unit inside its province and level
    frame = pd.DataFrame({"level": level, "province": province})
    number = frame.groupby(["level", "province"], sort=False).cumcount().to_numpy() + 1
    return {"level": level, "province": province, "number": number}


def _unit_ids(u: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit_id, province_id, name) as object arrays; ids are slugs, names say 'Giả lập'."""
    prov = pd.Series(u["province"] + 1).map("{:02d}".format)
    pid = SYNTHETIC_PREFIX + "province-" + prov
    num = pd.Series(u["number"])
    level = pd.Series(u["level"])
    dep = pid + "/department-" + num.map("{:02d}".format)
    com = pid + "/commune-" + num.map("{:04d}".format)
    uid = pid.where(level == "province", dep.where(level == "department", com))
    name = ("tỉnh Giả lập " + prov).where(
        level == "province", ("Sở Giả lập " + prov + "-" + num.map("{:02d}".format)).where(
            level == "department", ("xã Giả lập " + prov + "-" + num.map("{:04d}".format))))
    return uid.to_numpy(dtype=object), pid.to_numpy(dtype=object), name.to_numpy(dtype=object)


def _draw(u: dict, months: int, rng) -> dict:
    """Rates and group points for every unit × month (unit-major order), vectorised."""
    n_units = len(u["level"])
    n = n_units * months
    prov_effect = rng.standard_normal(N_PROVINCES)
    unit_effect = rng.standard_normal(n_units)
    level = u["level"]
    is_dep = (level == "department").astype(float)
    unit_idx = np.repeat(np.arange(n_units), months)
    month = np.tile(np.arange(months), n_units)
    q = (0.5 * prov_effect[u["province"]][unit_idx] + 0.7 * unit_effect[unit_idx]
         + 0.35 * rng.standard_normal(n) + 0.04 * month)
    online_latent = 0.7 * q + 0.7 * rng.standard_normal(n_units)[unit_idx] + 0.3 * rng.standard_normal(n)
    r = {}
    r["on_time_rate"] = _rate(rng, 2.6 + 0.8 * q, 0.9, n, ceiling_logit=0.4 + 0.9 * q + 0.8 * is_dep[unit_idx])
    r["online_submission_rate"] = _rate(rng, 0.4 + 1.1 * online_latent, 0.5, n)
    r["procedures_online_full"] = _rate(rng, 0.6 + 0.5 * q, 0.6, n)
    # online payment follows online use; TTTT follows it through A
    r["online_payment_rate"] = _rate(rng, 0.2 + 0.9 * online_latent + 0.3 * q, 0.6, n, ceiling_logit=-2.5 + q)
    r["payment_procedures_online"] = _rate(rng, 0.3 + 0.6 * online_latent, 0.6, n)
    c_share = _rate(rng, 1.5 + 0.4 * q, 0.6, n)
    # satisfaction: many units at the ceiling; mildly higher where online use is higher
    r["pakn_on_time_rate"] = _rate(rng, 2.0 + 0.5 * q, 0.8, n, ceiling_logit=1.6 + 0.6 * q)
    r["satisfaction_pakn_rate"] = _rate(rng, 2.2 + 0.5 * q + 0.2 * online_latent, 0.8, n, ceiling_logit=1.0 + 0.5 * q)
    r["satisfaction_dossier_rate"] = _rate(rng, 2.4 + 0.5 * q + 0.25 * online_latent, 0.7, n,
                                           ceiling_logit=0.9 + 0.5 * q)
    r["e_results_rate"] = _rate(rng, 1.0 + 0.7 * q, 0.7, n)
    r["digitised_dossiers_rate"] = _rate(rng, 1.2 + 0.7 * q, 0.7, n)
    r["reuse_rate"] = _rate(rng, -1.5 + 0.9 * q, 1.0, n, ceiling_logit=-2.5)
    # transparency is set for the province and inherited by its units, with a few exceptions
    prov_month = u["province"][unit_idx] * months + month
    ck = {}
    for code, mean in zip(_CKMB_RATES, (0.6, 0.2, 3.0, 3.5)):
        pm = _rate(rng, mean + 0.5 * prov_effect.repeat(months), 0.7, N_PROVINCES * months)
        ck[code] = pm[prov_month]
    own = rng.random(n) < 0.05
    ck["procedures_published_on_time"] = np.where(own, np.round(ck["procedures_published_on_time"] * 0.8, 2),
                                                  ck["procedures_published_on_time"])

    def score(points, rate, target=100.0):
        return points * np.minimum(1.0, rate / target)

    pts = {
        "CKMB": score(6, ck["procedures_published_on_time"]) + score(4, ck["procedures_updated_on_time"])
        + score(2, ck["procedures_published_full"]) + score(6, ck["dossiers_synced"]),
        "TDGQ": score(20, r["on_time_rate"]),
        # the ONLINE split is unknown to the scheme; the generator uses its own (synthetic) one
        "ONLINE": score(6, r["online_submission_rate"], 50.0) + score(6, r["procedures_online_full"], 80.0),
        "TTTT": np.minimum(10.0, score(6, r["online_payment_rate"]) + score(2, r["payment_procedures_online"], 80.0)
                           + score(2.5, c_share)),
        "MDHL": score(6, r["pakn_on_time_rate"]) + score(6, r["satisfaction_pakn_rate"])
        + score(6, r["satisfaction_dossier_rate"], 90.0),
        "MDSH": score(6, r["e_results_rate"]) + score(4, r["digitised_dossiers_rate"])
        + score(2, r["reuse_rate"], 80.0) + 10.0 * _logistic(1.0 + 0.8 * q + 0.5 * rng.standard_normal(n)),
    }
    total = sum(pts.values())
    return {"rates": r, "ckmb_rates": ck, "points": pts, "total": total, "unit_idx": unit_idx, "month": month}


def _band_codes(total: np.ndarray) -> np.ndarray:
    lows = np.array([b[1] for b in _BANDS])
    return np.searchsorted(lows, total, side="right") - 1


def _competition(codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((-values, codes))
    vs, cs = values[order], codes[order]
    pos = np.arange(len(values))
    new_block = np.r_[True, cs[1:] != cs[:-1]]
    new_value = new_block | np.r_[True, vs[1:] != vs[:-1]]
    block_start = np.maximum.accumulate(np.where(new_block, pos, 0))
    run_start = np.maximum.accumulate(np.where(new_value, pos, 0))
    rank = np.empty(len(values))
    rank[order] = run_start - block_start + 1
    return rank, np.bincount(codes)[codes].astype(float)


def _published(u: dict, d: dict, months: int, n_rows: int | None = None):
    """Printed figures: groups to 0.1, totals to 0.01 (from unrounded groups, as the portal
    does), bands and ranks from the printed totals, change against the previous month.
    Only the first ``n_rows`` unit-months are published (and ranked)."""
    keep = slice(0, n_rows)
    printed = {g: np.round(d["points"][g][keep], 1) for g in _GROUPS}
    total = np.round(d["total"][keep], 2)
    unit_idx, month = d["unit_idx"][keep], d["month"][keep]
    level = u["level"][unit_idx]
    level_code = np.select([level == "province", level == "department"], [0, 1], 2)
    area = np.where(level_code == 0, -1, u["province"][unit_idx])
    block = (month * 3 + level_code) * (N_PROVINCES + 1) + (area + 1)
    rank, rank_of = _competition(block.astype(np.int64), total)
    prev = np.r_[np.nan, total[:-1]]
    change = np.where(month > 0, np.round(total - prev, 2), np.nan)
    return printed, total, rank, rank_of, change


def score_sheet(n_rows: int, *, seed: int = 0, months: int = 12, year: int = 2026,
                error_rate: float = 0.0, rates: bool = True) -> pd.DataFrame:
    """A synthetic wide sheet of published scores: one row per unit × month (``n_rows`` rows).

    Units are 34 synthetic provinces, up to 15 departments each and communes; every unit has a
    row for each of ``months`` months of ``year``. Groups are printed to 0.1 and totals to 0.01,
    with bands, competition ranks (provinces among provinces; departments and communes inside
    their province) and changes against the previous month, plus the sub-indicator rates the
    points come from. Everything is labelled synthetic: ``source_id`` starts with
    ``synthetic-``, a ``synthetic`` column is True and ``df.attrs["synthetic"]`` is True.

    Parameters
    ----------
    n_rows : int
        Number of unit-period rows (at least 34 × months).
    seed : int
        Seed of the generator (same seed, same table).
    months : int
        Months per unit (1–12).
    year : int
    error_rate : float
        Share of rows given one deliberate misprint (total, a value above its maximum, a
        change or a band), so that an audit has something to find.
    rates : bool
        Include the indicator-rate columns (``on_time_rate`` …).

    Returns
    -------
    DataFrame
        Key columns as categoricals (``source_id, section, unit_id, period_id, level,
        province_id``), group columns ``CKMB`` … ``MDSH``, ``TOTAL``, their ``_decimals`` and
        ``_max_stated``, ``TOTAL_rank``, ``TOTAL_rank_of``, ``TOTAL_rank_block``, ``TOTAL_band``,
        ``TOTAL_change``, the rates, and ``synthetic``.

    Examples
    --------
    >>> df = score_sheet(1000, seed=1)
    >>> len(df), bool(df["synthetic"].all()), df["source_id"].iloc[0]
    (1000, True, 'synthetic-province-01-2026')
    """
    if not 1 <= months <= 12:
        raise ParameterError(f"months must be within 1–12, got {months}")
    if not 0 <= error_rate <= 1:
        raise ParameterError(f"error_rate must be within 0–1, got {error_rate}")
    rng = np.random.default_rng(seed)
    n_units = -(-int(n_rows) // months)
    u = _units(n_units, rng)
    d = _draw(u, months, rng)
    keep = slice(0, int(n_rows))
    printed, total, rank, rank_of, change = _published(u, d, months, int(n_rows))
    unit_idx, month = d["unit_idx"][keep], d["month"][keep]
    uid, pid, _ = _unit_ids(u)
    level_cat = pd.Categorical.from_codes(
        np.select([u["level"] == "province", u["level"] == "department"], [0, 1], 2)[unit_idx],
        categories=["province", "department", "commune"])
    periods = [f"{year}-{m + 1:02d}" for m in range(months)]
    prov_ids = [f"{SYNTHETIC_PREFIX}province-{p + 1:02d}" for p in range(N_PROVINCES)]
    prov_code = u["province"][unit_idx]
    sheet = pd.DataFrame({
        "source_id": pd.Categorical.from_codes(prov_code, categories=[f"{p}-{year}" for p in prov_ids]),
        "section": pd.Categorical.from_codes(month * 3 + level_cat.codes, categories=[
            f"{_SECTION[lv]} tháng {m + 1:02d}/{year}" for m in range(months) for lv in ("province", "department", "commune")]),
        "unit_id": pd.Categorical.from_codes(unit_idx, categories=uid),
        "period_id": pd.Categorical.from_codes(month, categories=periods),
        "level": level_cat,
        "province_id": pd.Categorical.from_codes(prov_code, categories=prov_ids),
    })
    for g in _GROUPS:
        sheet[g] = printed[g]
    sheet["TOTAL"] = total
    for g in _GROUPS:
        sheet[f"{g}_decimals"] = 1.0
        sheet[f"{g}_max_stated"] = _MAX[g]
    sheet["TOTAL_decimals"] = 2.0
    sheet["TOTAL_rank"] = rank
    sheet["TOTAL_rank_of"] = rank_of
    sheet["TOTAL_rank_block"] = level_cat
    sheet["TOTAL_band"] = pd.Categorical.from_codes(_band_codes(total), categories=[b[0] for b in _BANDS])
    sheet["TOTAL_change"] = change
    if rates:
        for code in SHEET_RATES:
            sheet[code] = d["rates"][code][keep]
    if error_rate > 0:
        _misprint(sheet, rng, error_rate)
    sheet["synthetic"] = True
    sheet.attrs["synthetic"] = True
    return sheet


def _misprint(sheet: pd.DataFrame, rng, rate: float) -> None:
    """Give a share of rows one deliberate misprint of a kind the audit checks."""
    n = len(sheet)
    hit = np.flatnonzero(rng.random(n) < rate)
    kind = rng.integers(0, 4, hit.size)
    t = sheet["TOTAL"].to_numpy(copy=True)
    t[hit[kind == 0]] = np.round(np.clip(t[hit[kind == 0]] + rng.choice([-3.0, 2.5], (kind == 0).sum()), 0, 100), 2)
    sheet["TOTAL"] = t
    m = sheet["MDHL"].to_numpy(copy=True)
    m[hit[kind == 1]] = 20.0
    sheet["MDHL"] = m
    c = sheet["TOTAL_change"].to_numpy(copy=True)
    c[hit[kind == 2]] = np.round(c[hit[kind == 2]] + 1.5, 2)
    sheet["TOTAL_change"] = c
    codes = sheet["TOTAL_band"].cat.codes.to_numpy(copy=True)
    sel = hit[kind == 3]
    codes[sel] = np.where(codes[sel] >= 4, 3, codes[sel] + 1)
    sheet["TOTAL_band"] = pd.Categorical.from_codes(codes, categories=sheet["TOTAL_band"].cat.categories)


def _frame(table: str, data: dict) -> pd.DataFrame:
    """A typed table with the columns of ``table`` (missing columns empty)."""
    n = len(next(iter(data.values())))
    template = empty_table(table)
    out = {}
    for col in TABLE_COLUMNS[table]:
        if col.name in data:
            out[col.name] = data[col.name]
        elif col.type == "bool":
            out[col.name] = np.zeros(n, dtype=bool)
        elif col.type == "date":
            out[col.name] = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
        else:
            out[col.name] = pd.Series([None] * n, dtype=template[col.name].dtype)
    df = pd.DataFrame(out)
    for col in TABLE_COLUMNS[table]:
        if col.type == "str":
            df[col.name] = df[col.name].astype("str")
        elif col.type == "int":
            df[col.name] = df[col.name].astype("Int64")
        elif col.type == "float":
            df[col.name] = df[col.name].astype("float64")
    df.attrs["synthetic"] = True
    return df


def national(seed: int = 0, months: int = 12, *, year: int = 2026) -> Dataset:
    """A synthetic national dataset in the shape of ``data/``: 34 provinces, 15 departments per
    province, about 3,300 communes, ``months`` months of ``year``.

    Distributions have ceilings (many units at 20/20 timeliness and 18/18 satisfaction) and
    correlated indicators (online submission with ONLINE points and mildly with satisfaction;
    online payment with TTTT). Each province has one synthetic source (``kind = synthetic``,
    ``source_id`` ``synthetic-province-NN-YYYY``) holding its province, department and commune
    tables for every month; rates are printed in the same source. Names say "Giả lập"
    (simulated); no real province is named.

    Returns
    -------
    Dataset
        Tables with the columns of ``data/*.csv`` that pass ``analysis.dataset.validate_table``;
        ``dataset.synthetic`` is True, as is ``attrs["synthetic"]`` of every table.

    Examples
    --------
    >>> ds = national(seed=0, months=1)
    >>> ds.units["level"].value_counts().to_dict()
    {'commune': 3300, 'department': 510, 'province': 34}
    >>> set(ds.sources["kind"])
    {'synthetic'}
    """
    if not 1 <= months <= 12:
        raise ParameterError(f"months must be within 1–12, got {months}")
    rng = np.random.default_rng(seed)
    n_units = N_PROVINCES * (1 + DEPARTMENTS_PER_PROVINCE) + N_COMMUNES
    u = _units(n_units, rng, n_dep=N_PROVINCES * DEPARTMENTS_PER_PROVINCE)
    d = _draw(u, months, rng)
    printed, total, rank, rank_of, change = _published(u, d, months)
    uid, pid, name = _unit_ids(u)
    level = u["level"]
    is_prov = level == "province"
    unit_type = np.where(is_prov, "tỉnh", np.where(level == "department", "sở", "xã"))
    units = _frame("units", {
        "unit_id": pd.Series(uid, dtype="str"), "name": pd.Series(name, dtype="str"),
        "unit_type": pd.Series(unit_type, dtype="str"), "level": pd.Series(level, dtype="str"),
        "parent_id": pd.Series(np.where(is_prov, None, pid), dtype="str"),
        "province_id": pd.Series(pid, dtype="str"),
        "note": pd.Series(["synthetic unit (not real)"] * n_units, dtype="str")})
    period_ids = [f"{year}-{m + 1:02d}" for m in range(months)]
    starts = [pd.Timestamp(year, m + 1, 1) for m in range(months)]
    ends = [pd.Timestamp(year, m + 1, calendar.monthrange(year, m + 1)[1]) for m in range(months)]
    periods = _frame("periods", {
        "period_id": pd.Series(period_ids + [str(year)], dtype="str"),
        "kind": pd.Series(["month"] * months + ["year"], dtype="str"),
        "start_date": pd.Series(starts + [pd.Timestamp(year, 1, 1)], dtype="datetime64[ns]"),
        "end_date": pd.Series(ends + [pd.Timestamp(year, 12, 31)], dtype="datetime64[ns]"),
        "label_vi": pd.Series([f"Tháng {m + 1}/{year}" for m in range(months)] + [f"Năm {year}"], dtype="str")})
    # one synthetic "monthly report" per province and month, like the offices' real reports
    prov_ids = uid[is_prov]
    n_src = N_PROVINCES * months
    src_ids = np.array([f"{p}-{pid}" for p in prov_ids for pid in period_ids], dtype=object)
    sources = _frame("sources", {
        "source_id": pd.Series(src_ids, dtype="str"), "kind": pd.Series(["synthetic"] * n_src, dtype="str"),
        "issuer": pd.Series(["analysis.synthetic (generated, not a real office)"] * n_src, dtype="str"),
        "title": pd.Series([f"Dữ liệu giả lập Bộ chỉ số 766 tháng {m + 1}/{year} – {n} (synthetic, seed {seed})"
                            for n in name[is_prov] for m in range(months)], dtype="str"),
        "area_unit_id": pd.Series(np.repeat(prov_ids, months), dtype="str"),
        "period_id": pd.Series(period_ids * N_PROVINCES, dtype="str"),
        "as_published": np.zeros(n_src, dtype=bool),
        "origin": pd.Series([f"analysis.synthetic.national(seed={seed}, months={months})"] * n_src, dtype="str"),
        "note": pd.Series(["SYNTHETIC: generated data, never shown as real"] * n_src, dtype="str")})
    unit_idx, month = d["unit_idx"], d["month"]
    n = len(unit_idx)
    row_level = level[unit_idx]
    section = pd.Series(np.char.add(np.char.add(
        pd.Series(row_level).map(_SECTION).to_numpy(dtype=str), " tháng "),
        np.char.add(np.char.zfill((month + 1).astype(str), 2), f"/{year}")))
    src = src_ids[u["province"][unit_idx] * months + month]
    per = np.asarray(period_ids, dtype=object)[month]
    groups = list(_GROUPS) + ["TOTAL"]
    k = len(groups)
    values = np.column_stack([printed[g] for g in _GROUPS] + [total]).ravel()
    is_total = np.tile(np.array(groups) == "TOTAL", n)
    band_names = np.array([b[0] for b in _BANDS], dtype=object)
    scores = _frame("scores", {
        "source_id": pd.Series(np.repeat(src, k), dtype="str"),
        "section": pd.Series(np.repeat(section.to_numpy(dtype=object), k), dtype="str"),
        "unit_id": pd.Series(np.repeat(uid[unit_idx], k), dtype="str"),
        "period_id": pd.Series(np.repeat(per, k), dtype="str"),
        "group": pd.Series(np.tile(np.array(groups, dtype=object), n), dtype="str"),
        "value": values,
        "max_stated": np.tile(np.array([_MAX[g] for g in groups]), n),
        "decimals": pd.array(np.tile([1] * len(_GROUPS) + [2], n), dtype="Int64"),
        "rank": pd.array(np.where(is_total, np.repeat(rank, k), np.nan), dtype="Float64").astype("Int64"),
        "rank_of": pd.array(np.where(is_total, np.repeat(rank_of, k), np.nan), dtype="Float64").astype("Int64"),
        "rank_block": pd.Series(np.where(is_total, np.repeat(row_level, k), None), dtype="str"),
        "band": pd.Series(np.where(is_total, band_names[_band_codes(np.repeat(total, k))], None), dtype="str"),
        "change": np.where(is_total, np.repeat(change, k), np.nan),
        "marked": np.zeros(n * k, dtype=bool),
    })
    codes = list(SHEET_RATES)
    rate_values = np.column_stack([d["rates"][c] for c in codes]).ravel()
    m = len(codes)
    ind_section = pd.Series(np.char.add(np.char.add("synthetic: chỉ số thành phần tháng ",
                                                    np.char.zfill((month + 1).astype(str), 2)), f"/{year}"))
    frames = [{
        "source_id": np.repeat(src, m), "section": np.repeat(ind_section.to_numpy(dtype=object), m),
        "unit_id": np.repeat(uid[unit_idx], m), "period_id": np.repeat(per, m),
        "indicator": np.tile(np.array(codes, dtype=object), n), "value": rate_values}]
    # the complement of the online share, and transparency rates printed for provinces only
    frames.append({"source_id": src, "section": ind_section.to_numpy(dtype=object), "unit_id": uid[unit_idx],
                   "period_id": per, "indicator": np.full(n, "offline_submission_rate", dtype=object),
                   "value": np.round(100.0 - d["rates"]["online_submission_rate"], 2)})
    prov_rows = np.flatnonzero(is_prov[unit_idx])
    for code in _CKMB_RATES:
        frames.append({"source_id": src[prov_rows], "section": ind_section.to_numpy(dtype=object)[prov_rows],
                       "unit_id": uid[unit_idx][prov_rows], "period_id": per[prov_rows],
                       "indicator": np.full(prov_rows.size, code, dtype=object),
                       "value": d["ckmb_rates"][code][prov_rows]})
    ind = {key: np.concatenate([f[key] for f in frames]) for key in frames[0]}
    total_rows = len(ind["value"])
    indicators = _frame("indicators", {
        **{key: pd.Series(ind[key], dtype="str") for key in ("source_id", "section", "unit_id", "period_id", "indicator")},
        "measure": pd.Series(["percent"] * total_rows, dtype="str"),
        "value": ind["value"].astype(float),
        "decimals": pd.array(np.full(total_rows, 2), dtype="Int64"),
        "marked": np.zeros(total_rows, dtype=bool)})
    aliases = empty_table("unit_aliases")
    aliases.attrs["synthetic"] = True
    ds = Dataset(data_dir=Path("<synthetic>"), sources=sources, units=units, unit_aliases=aliases,
                 periods=periods, scores=scores, indicators=indicators, file_hashes={})
    ds.synthetic = True
    return ds
