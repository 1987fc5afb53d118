"""Per-unit views of the long published tables: one value per unit for a quantity and period."""
from __future__ import annotations

import pandas as pd

from .errors import ParameterError

__all__ = ["descendants", "area_units", "unit_values", "wide_values", "report_periods",
           "comparison_periods"]


def descendants(units: pd.DataFrame, area_id: str, *, include_self: bool = False) -> pd.DataFrame:
    """Units below ``area_id`` in the hierarchy (all levels), in units.csv order.

    Examples
    --------
    >>> u = pd.DataFrame({"unit_id": ["p", "p/d", "p/d/c"], "parent_id": [None, "p", "p/d"]})
    >>> list(descendants(u, "p")["unit_id"])
    ['p/d', 'p/d/c']
    """
    keep = {area_id}
    parents = units.set_index("unit_id")["parent_id"]
    changed = True
    while changed:
        grown = keep | set(parents.index[parents.isin(keep)])
        changed = grown != keep
        keep = grown
    mask = units["unit_id"].isin(keep)
    if not include_self:
        mask &= units["unit_id"] != area_id
    return units.loc[mask]


def area_units(ds, area_id: str, *, level: str | None = None, include_self: bool = False) -> pd.DataFrame:
    """Units of an area (a province or district), optionally of one level."""
    if area_id not in set(ds.units["unit_id"]):
        raise ParameterError(f"unknown unit '{area_id}'")
    out = descendants(ds.units, area_id, include_self=include_self)
    return out if level is None else out.loc[out["level"] == level]


def unit_values(ds, *, table: str, code: str, period: str, measure: str = "percent",
                units=None, column: str = "value") -> pd.DataFrame:
    """One published value per unit for a group (``table='scores'``) or an indicator.

    When several sections print the same unit's value, the first in file order is used and the
    others are reported in the ``conflict`` column (the audit lists them as findings).

    Returns
    -------
    DataFrame
        Columns ``unit_id, value, source_id, section, n_values, conflict``.
    """
    df = ds.scores if table == "scores" else ds.indicators
    field = "group" if table == "scores" else "indicator"
    mask = (df[field] == code) & (df["period_id"] == period) & df[column].notna()
    if table == "indicators":
        mask &= df["measure"] == measure
        mask &= df["category"].isna()
    if units is not None:
        mask &= df["unit_id"].isin(set(units))
    sub = df.loc[mask, ["unit_id", column, "source_id", "section"]].rename(columns={column: "value"})
    if sub.empty:
        return pd.DataFrame(columns=["unit_id", "value", "source_id", "section", "n_values", "conflict"])
    first = sub.groupby("unit_id", sort=False).first()
    spread = sub.groupby("unit_id", sort=False)["value"].agg(["nunique", "size"])
    first["n_values"] = spread["size"]
    first["conflict"] = spread["nunique"] > 1
    return first.reset_index()


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
    out = pd.DataFrame(index=pd.Index(units, name="unit_id"))
    for name, spec in specs.items():
        table, code = spec[0], spec[1]
        measure = spec[2] if len(spec) > 2 else "percent"
        vals = unit_values(ds, table=table, code=code, period=period, measure=measure, units=units)
        out[name] = vals.set_index("unit_id")["value"].reindex(out.index).astype(float)
    return out


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
                        "period_id": ds.sources.loc[inside, "period_id"]}).drop_duplicates()
    if province is not None:
        out = out.loc[out["province_id"] == province]
    return out.sort_values(["province_id", "period_id"]).reset_index(drop=True)


def comparison_periods(ds) -> list[str]:
    """Periods for which at least two provinces have a province-level total (value or rank)."""
    prov_ids = set(ds.units.loc[ds.units["level"] == "province", "unit_id"])
    tot = ds.scores.loc[(ds.scores["group"] == "TOTAL") & ds.scores["unit_id"].isin(prov_ids)]
    counts = tot.groupby("period_id")["unit_id"].nunique()
    return sorted(counts.index[counts >= 2])
