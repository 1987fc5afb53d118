"""Per-unit views of the long published tables: one value per unit for a quantity and period."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .errors import ParameterError
from .selection import preferred

__all__ = ["descendants", "area_units", "unit_values", "wide_values", "report_periods",
           "comparison_periods", "headline_record", "national_average", "group_table",
           "sub_indicator_table", "province_level_only", "province_ranking"]


def descendants(units: pd.DataFrame, area_id: str, *, include_self: bool = False) -> pd.DataFrame:
    """Units below ``area_id`` in the hierarchy (all levels), in units.csv order.

    Examples
    --------
    >>> u = pd.DataFrame({"unit_id": ["p", "p/d", "p/d/c"], "parent_id": [None, "p", "p/d"]})
    >>> list(descendants(u, "p")["unit_id"])
    ['p/d', 'p/d/c']
    """
    ids = units["unit_id"].to_numpy(dtype=object).tolist()
    parents = units["parent_id"].to_numpy(dtype=object).tolist()
    keep = {area_id}
    changed = True
    while changed:   # add the units whose parent is kept, until nothing is added
        grown = keep | {u for u, p in zip(ids, parents) if p in keep}
        changed = grown != keep
        keep = grown
    if not include_self:
        keep.discard(area_id)
    return units.loc[np.fromiter((u in keep for u in ids), dtype=bool, count=len(ids))]


def area_units(ds, area_id: str, *, level: str | None = None, include_self: bool = False) -> pd.DataFrame:
    """Units of an area (a province or district), optionally of one level."""
    if not (ds.units["unit_id"] == area_id).any():
        raise ParameterError(f"unknown unit '{area_id}'")
    out = descendants(ds.units, area_id, include_self=include_self)
    return out if level is None else out.loc[out["level"] == level]


def unit_values(ds, *, table: str, code: str, period: str, measure: str = "percent",
                units=None, column: str = "value") -> pd.DataFrame:
    """One published value per unit for a group (``table='scores'``) or an indicator.

    When several sources or sections print the same unit's value, the one chosen by the source
    preference rule (:mod:`analysis.selection`) is used and ``conflict`` says whether the others
    differ beyond printed precision (the audit lists them as findings).

    Returns
    -------
    DataFrame
        Columns ``unit_id, value, source_id, section, n_values, conflict``.
    """
    df = ds.scores if table == "scores" else ds.indicators
    field = "group" if table == "scores" else "indicator"
    df = df.loc[df["period_id"] == period]   # the period first: the other tests run on its rows only
    mask = (df[field] == code) & df[column].notna()
    if table == "indicators":
        mask &= df["measure"] == measure
        mask &= df["category"].isna()
    if units is not None:
        mask &= df["unit_id"].isin(set(units))
    cols = ["unit_id", column, "source_id", "section"] + (["decimals"] if "decimals" in df.columns else [])
    sub = df.loc[mask, cols].rename(columns={column: "value"})
    if sub.empty:
        return pd.DataFrame(columns=["unit_id", "value", "source_id", "section", "n_values", "conflict"])
    best = preferred(ds, table, sub, key=["unit_id"])
    out = best[["unit_id", "value", "source_id", "section"]].assign(
        n_values=best["n_sources"].to_numpy(), conflict=best["conflict"].to_numpy())
    order = pd.unique(sub["unit_id"])
    return out.set_index("unit_id").reindex(order).reset_index()


def wide_values(ds, specs: dict[str, tuple], *, period: str, units) -> pd.DataFrame:
    """A unit × quantity table: ``specs`` maps a column name to ``(table, code[, measure])``.

    Examples
    --------
    >>> from analysis.dataset import load_dataset
    >>> from analysis.config import DATA_DIR
    >>> ds = load_dataset(DATA_DIR)
    >>> communes = area_units(ds, "bac-kan/huyen-na-ri", level="commune")["unit_id"]
    >>> t = wide_values(ds, {"online": ("indicators", "online_submission_rate")}, period="2024-07",
    ...                 units=communes)
    >>> len(t), float(t.loc["bac-kan/huyen-na-ri/xa-van-vu", "online"])
    (17, 20.7)
    """
    units = list(units)
    # One selection per table and measure for all its codes: the rule chooses per unit and code
    # (what unit_values does code by code), so the values are the same.
    batches: dict = {}
    for name, spec in specs.items():
        measure = spec[2] if len(spec) > 2 else "percent"
        batches.setdefault((spec[0], measure), []).append((name, spec[1]))
    chosen = {}
    wanted = set(units)
    for (table, measure), items in batches.items():
        df = ds.scores if table == "scores" else ds.indicators
        field = "group" if table == "scores" else "indicator"
        df = df.loc[df["period_id"] == period]   # the period first: the other tests run on its rows only
        mask = df[field].isin({code for _, code in items}) & df["value"].notna()
        if table == "indicators":
            mask &= (df["measure"] == measure) & df["category"].isna()
        mask &= df["unit_id"].isin(wanted)
        cols = [field, "unit_id", "value", "source_id", "section"] + (["decimals"] if "decimals" in df.columns else [])
        best = preferred(ds, table, df.loc[mask, cols], key=[field, "unit_id"])
        by_code: dict = {}   # code -> {unit: value}; one row per code and unit (the rule's choice)
        for code, unit, value in zip(best[field].to_numpy(dtype=object).tolist(),
                                     best["unit_id"].to_numpy(dtype=object).tolist(),
                                     best["value"].to_numpy(dtype=float).tolist()):
            by_code.setdefault(code, {})[unit] = value
        for name, code in items:
            chosen[name] = by_code.get(code, {})
    nan = float("nan")
    return pd.DataFrame({name: np.array([chosen[name].get(u, nan) for u in units], dtype=float) for name in specs},
                        index=pd.Index(units, name="unit_id"))


def report_periods(ds, province: str | None = None) -> pd.DataFrame:
    """The province-periods to report on: every (province, period) that a source covers.

    Returns
    -------
    DataFrame
        Columns ``province_id, period_id`` sorted, one row each.
    """
    units = ds.units.set_index("unit_id")
    area = ds.sources["area_unit_id"]
    inside = area.map(units["level"]) != "country"  # country-wide files feed the comparisons
    out = pd.DataFrame({"province_id": area[inside].map(units["province_id"]),
                        "period_id": ds.sources.loc[inside, "period_id"]})
    # Every province with its own province-level record in a country-wide file (total, groups,
    # rank, change) gets a province-level report: for the newest such snapshot of each period
    # kind and year (a ytd series of daily crawls would otherwise give one report per day), and
    # for every snapshot where a country-wide file also gives the province's sub-indicators.
    wide = set(ds.sources.loc[~inside, "source_id"])
    s = ds.scores
    prov = set(units.index[units["level"] == "province"])
    rec = s.loc[s["source_id"].isin(wide) & (s["group"] == "TOTAL") & s["unit_id"].isin(prov)
                & s["value"].notna(), ["unit_id", "period_id"]].drop_duplicates()
    if len(rec):
        per = ds.periods.set_index("period_id")
        rec = rec.assign(kind=rec["period_id"].map(per["kind"]),
                         year=rec["period_id"].map(per["start_date"]).dt.year,
                         end=rec["period_id"].map(per["end_date"]))
        newest = rec.groupby(["kind", "year"])["end"].transform("max")
        ind = ds.indicators
        detailed = pd.MultiIndex.from_frame(
            ind.loc[ind["source_id"].isin(wide), ["unit_id", "period_id"]].drop_duplicates())
        with_detail = pd.MultiIndex.from_frame(rec[["unit_id", "period_id"]]).isin(detailed)
        rec = rec.loc[(rec["end"] == newest).to_numpy() | with_detail]
        out = pd.concat([out, pd.DataFrame({"province_id": rec["unit_id"].to_numpy(),
                                            "period_id": rec["period_id"].to_numpy()})])
    out = out.drop_duplicates()
    if province is not None:
        out = out.loc[out["province_id"] == province]
    return out.sort_values(["province_id", "period_id"]).reset_index(drop=True)


def comparison_periods(ds) -> list[str]:
    """Periods for which at least two provinces have a province-level total (value or rank)."""
    prov_ids = set(ds.units.loc[ds.units["level"] == "province", "unit_id"])
    tot = ds.scores.loc[(ds.scores["group"] == "TOTAL") & ds.scores["unit_id"].isin(prov_ids)]
    counts = tot.groupby("period_id")["unit_id"].nunique()
    return sorted(counts.index[counts >= 2])


# --- report data selections (derive layer; the report's content functions call these) ----------

def headline_record(ds, unit: str, period: str) -> dict:
    """The area's own record for one period: total, rank, band and change, each from the first
    source (in the order of :mod:`analysis.selection`) that gives it, with that source named.

    Returns
    -------
    dict
        ``total, rank, rank_of, rank_block, band, change`` and ``<field>_source`` /
        ``<field>_section`` for each; a field no source gives is None.
    """
    from .selection import preferred_fields

    s = ds.scores
    s = s.loc[s["period_id"] == period]
    rows = s.loc[(s["unit_id"] == unit) & (s["group"] == "TOTAL")]
    got = preferred_fields(ds, rows, fields=("value", "rank", "change", "band"))
    out: dict = {}
    for field, name in (("value", "total"), ("rank", "rank"), ("change", "change"), ("band", "band")):
        value, sid, sec = got.get(field, (None, None, None))
        out[name] = value
        out[f"{name}_source"], out[f"{name}_section"] = sid, sec
    if out["rank"] is not None:
        r = rows.loc[(rows["source_id"] == out["rank_source"]) & (rows["section"] == out["rank_section"])].iloc[0]
        out["rank"] = int(r["rank"])
        out["rank_of"] = None if pd.isna(r["rank_of"]) else int(r["rank_of"])
        out["rank_block"] = r["rank_block"] if isinstance(r["rank_block"], str) else None
    else:
        out["rank_of"] = out["rank_block"] = None
    return out


def national_average(ds, period: str) -> pd.Series:
    """Per group: the plain mean of the provinces' preferred group points for the period; TOTAL
    from the country unit's own record when there is one (the portal's national overview), else
    the mean of the provinces' totals. Empty unless every ranked province has a total (a complete
    list such as the 34 of a provinces file).

    Examples
    --------
    >>> from analysis.dataset import load_dataset
    >>> from analysis.config import DATA_DIR
    >>> national_average(load_dataset(DATA_DIR), "2024-07").empty
    True
    """
    from .selection import preferred

    prov = set(ds.units.loc[ds.units["level"] == "province", "unit_id"])
    s = ds.scores
    s = s.loc[s["period_id"] == period]
    rows = s.loc[s["unit_id"].isin(prov)]
    best = preferred(ds, "scores", rows)
    # a national average needs every province: a complete ranked list (34 of 34), not the few
    # provinces that some reports happen to cover
    ranked = preferred(ds, "scores", rows.loc[rows["group"] == "TOTAL"], column="rank")
    of = pd.to_numeric(ranked["rank_of"], errors="coerce").max() if len(ranked) else float("nan")
    n = best.loc[best["group"] == "TOTAL", "unit_id"].nunique()
    if n < 2 or pd.isna(of) or n < of:
        return pd.Series(dtype=float)
    out = best.groupby("group")["value"].mean()
    country = set(ds.units.loc[ds.units["level"] == "country", "unit_id"])
    own = preferred(ds, "scores", s.loc[s["unit_id"].isin(country) & (s["group"] == "TOTAL")])
    if len(own):
        out["TOTAL"] = float(own["value"].iloc[0])
    return out


def group_table(ds, unit: str, period: str) -> pd.DataFrame:
    """One row per group of a unit and period: the preferred value, its maximum, the national
    average, the change and which source it comes from (alternatives go to the audit).

    Returns
    -------
    DataFrame
        Columns ``group, value, max_points, share, national_average, change, source_id,
        section, n_sources, conflict``, in the portal's group order.
    """
    from .reference import GROUP_CODES, groups
    from .selection import preferred

    s = ds.scores
    s = s.loc[s["period_id"] == period]
    rows = s.loc[(s["unit_id"] == unit) & (s["group"] != "TOTAL")]
    best = preferred(ds, "scores", rows)
    g = groups()
    nat = national_average(ds, period)
    order = {c: i for i, c in enumerate(GROUP_CODES)}
    best = best.assign(_o=best["group"].map(order)).sort_values("_o", kind="stable")
    maxima = best["group"].map(g["max_points"]).astype(float)
    return pd.DataFrame({
        "group": best["group"].to_numpy(), "value": best["value"].to_numpy(dtype=float),
        "max_points": maxima.to_numpy(), "share": (100 * best["value"] / maxima).to_numpy(dtype=float),
        "national_average": best["group"].map(nat).to_numpy(dtype=float) if len(nat) else float("nan"),
        "change": best["change"].to_numpy(dtype=float), "source_id": best["source_id"].to_numpy(),
        "section": best["section"].to_numpy(), "n_sources": best["n_sources"].to_numpy(),
        "conflict": best["conflict"].to_numpy()})


def sub_indicator_table(ds, unit: str, period: str) -> pd.DataFrame:
    """One row per sub-indicator of a unit and period, with numerator, denominator, rate, points
    and maximum as columns. A rate the source leaves undefined (0/0, null/null) is missing, with
    the reason from the row's note in ``missing_reason``.

    Returns
    -------
    DataFrame
        Columns ``indicator, group, numerator, denominator, rate, points, max_points,
        missing_reason`` (the note's text), ``missing_kind`` (``no_cases`` for 0/0,
        ``not_measured`` for null/null), ``missing_case`` (``no complaints``, ``no dossiers``,
        ``no procedures``, ``not measured`` …), ``quality`` (a dataQualityStatus), ``source_id``.
    """
    from .reference import indicator_catalog
    from .scheme import load_scheme
    from .selection import preferred

    ind = ds.indicators
    ind = ind.loc[ind["period_id"] == period]
    rows = ind.loc[(ind["unit_id"] == unit) & ind["category"].isna()]
    cols = ["indicator", "group", "numerator", "denominator", "rate", "points", "max_points",
            "missing_reason", "missing_kind", "missing_case", "quality", "source_id"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    best = preferred(ds, "indicators", rows)
    cat = indicator_catalog()
    try:
        scheme = load_scheme(period=period)
        sub_max = {c: s.points for g in scheme.groups.values() for s in g.subs for c in s.indicators}
    except Exception:  # noqa: BLE001 - a period outside every scheme: no maxima
        sub_max = {}
    # one pass over the chosen rows (a few dozen): the first row of each measure per indicator,
    # indicators in the order they first appear (what a groupby would give, without its cost)
    codes = best["indicator"].to_numpy(dtype=object).tolist()
    measures = best["measure"].to_numpy(dtype=object).tolist()
    notes_ = best["note"].to_numpy(dtype=object).tolist()
    values = best["value"].to_numpy(dtype=object).tolist()
    dens = best["denominator"].to_numpy(dtype=object).tolist()
    sources = best["source_id"].to_numpy(dtype=object).tolist()
    rows_of: dict = {}
    for i, code in enumerate(codes):
        if isinstance(code, str) or not pd.isna(code):
            rows_of.setdefault(code, {}).setdefault(measures[i], i)
    out = []
    for code, by in rows_of.items():
        count, pct, pts = by.get("count"), by.get("percent"), by.get("points")
        notes = "; ".join(str(notes_[i]) for i in (count, pct, pts) if i is not None and isinstance(notes_[i], str))
        reason = next((p.split(":", 1)[1].strip() for p in notes.split("; ") if p.startswith("rate missing:")), None)
        kind = None if reason is None else ("not_measured" if reason.startswith("not measured") else "no_cases")
        case = None if reason is None else re.sub(r"\s*\(.*$", "", reason)   # "no complaints", "not measured"
        quality = next((p for p in notes.split("; ") if p.startswith("dataQualityStatus")), None)
        den = dens[count] if count is not None else (dens[pct] if pct is not None else None)
        out.append({"indicator": code, "group": cat.at[code, "group"] if code in cat.index else None,
                    "numerator": None if count is None else float(values[count]),
                    "denominator": None if den is None or pd.isna(den) else float(den),
                    "rate": None if pct is None else float(values[pct]),
                    "points": None if pts is None else float(values[pts]),
                    "max_points": sub_max.get(code), "missing_reason": reason, "missing_kind": kind,
                    "missing_case": case, "quality": quality,
                    "source_id": sources[min(by.values())]})
    return pd.DataFrame(out, columns=cols)


def province_level_only(ds, province: str, period: str) -> bool:
    """True when the province has a province-level record for the period but no unit below it
    has a total (the 33 provinces of a provinces file with no unit lists)."""
    inside = descendants(ds.units, province)["unit_id"]
    s = ds.scores
    here = s.loc[(s["period_id"] == period) & (s["group"] == "TOTAL")]
    return bool((here["unit_id"] == province).any() and not here["unit_id"].isin(set(inside)).any())


def province_ranking(ds, period: str) -> pd.DataFrame:
    """Every province's preferred total and rank for a period (the place among the provinces).

    Returns
    -------
    DataFrame
        Columns ``unit_id, name, value, rank, rank_of``, best first.
    """
    from .selection import preferred

    prov = ds.units.loc[ds.units["level"] == "province"].set_index("unit_id")
    s = ds.scores
    rows = s.loc[(s["period_id"] == period) & (s["group"] == "TOTAL") & s["unit_id"].isin(prov.index)]
    best = preferred(ds, "scores", rows)
    ranks = preferred(ds, "scores", rows, column="rank").set_index("unit_id")
    out = pd.DataFrame({"unit_id": best["unit_id"].to_numpy(),
                        "name": best["unit_id"].map(prov["name"]).to_numpy(),
                        "value": best["value"].to_numpy(dtype=float)})
    out["rank"] = out["unit_id"].map(ranks["rank"]).astype("Int64")
    out["rank_of"] = out["unit_id"].map(ranks["rank_of"]).astype("Int64")
    return out.sort_values(["value", "name"], ascending=[False, True], kind="stable").reset_index(drop=True)
