"""Controlled vocabularies shipped with the package: groups, bands, levels, indicators, audit
checks, recommendation rules and report columns. Code reads these facts; it does not restate them."""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from .config import REFERENCE_DIR

__all__ = ["groups", "bands", "levels", "indicator_catalog", "band_aliases", "checks",
           "recommendation_rules", "columns", "group_order", "GROUP_CODES", "SIX_GROUPS", "FIVE_GROUPS"]


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / name, dtype=str, keep_default_na=False, encoding="utf-8")


@lru_cache(maxsize=None)
def groups() -> pd.DataFrame:
    """Group codes in report order, with Vietnamese/English long and short names, maxima, the
    view they belong to (``six``, ``five``, ``both``) and the portal's codes for them."""
    df = _read("groups.csv")
    df["max_points"] = df["max_points"].astype(float)
    return df.set_index("group")


def group_order(view: str | None = None) -> tuple[str, ...]:
    """Group codes in report order (TOTAL excluded); ``view`` ``"six"`` or ``"five"`` keeps one view.

    >>> group_order("five")
    ('CKMB', 'TDGQ', 'DVTT', 'MDHL', 'MDSH')
    """
    g = groups().drop(index="TOTAL")
    if view is not None:
        g = g.loc[g["view"].isin(["both", view])]
    return tuple(g.index)


@lru_cache(maxsize=None)
def bands() -> pd.DataFrame:
    """Classification bands with their cut points (lower inclusive, upper exclusive) and colours."""
    df = _read("bands.csv")
    df[["lower", "upper"]] = df[["lower", "upper"]].astype(float)
    return df


@lru_cache(maxsize=None)
def band_aliases() -> dict[str, str]:
    """Every printed spelling of a band (``TB``, ``TỐT``) mapped to its canonical name."""
    out = {}
    for row in bands().itertuples():
        out[row.band] = row.band
        for alias in filter(None, row.aliases.split("|")):
            out[alias] = row.band
    return out


@lru_cache(maxsize=None)
def levels() -> pd.DataFrame:
    """Unit levels (province, department, district, commune) with their names, the noun a count
    of them takes (``15 xã``) and the name of a ranking block."""
    return _read("levels.csv").set_index("level")


@lru_cache(maxsize=None)
def indicator_catalog() -> pd.DataFrame:
    """Indicator codes with their group, allowed measures and share set."""
    df = _read("indicators.csv")
    df["measures"] = df["measures"].str.split("|")
    return df.set_index("indicator")


@lru_cache(maxsize=None)
def checks() -> pd.DataFrame:
    """Audit checks in report order, with a plain-language name in Vietnamese and English."""
    df = _read("checks.csv")
    df["order"] = df["order"].astype(int)
    return df.sort_values("order").set_index("check")


@lru_cache(maxsize=None)
def recommendation_rules() -> pd.DataFrame:
    """Recommendation rules in priority order: a group below a share of its maximum, or an
    indicator against a threshold (``lt``, ``gt``, ``eq``)."""
    df = _read("recommendation_rules.csv")
    df["threshold"] = df["threshold"].astype(float)
    df["priority"] = df["priority"].astype(int)
    return df.sort_values("priority").set_index("rule")


@lru_cache(maxsize=None)
def columns() -> pd.DataFrame:
    """Report-table columns: how each is shown (``kind``), its printed decimals (empty: as
    many as the value needs, up to 2) and its unit (``points``, ``percent``)."""
    return _read("columns.csv").set_index("column")


SIX_GROUPS = group_order("six")
FIVE_GROUPS = group_order("five")
GROUP_CODES = SIX_GROUPS + tuple(g for g in groups().index if g not in SIX_GROUPS)
