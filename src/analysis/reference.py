"""Controlled vocabularies shipped with the package: groups, bands, levels, indicators."""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from .config import REFERENCE_DIR

__all__ = ["groups", "bands", "levels", "indicator_catalog", "band_aliases", "GROUP_CODES",
           "SIX_GROUPS", "FIVE_GROUPS"]

SIX_GROUPS = ("CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH")
FIVE_GROUPS = ("CKMB", "TDGQ", "DVTT", "MDHL", "MDSH")
GROUP_CODES = SIX_GROUPS + ("DVTT", "TOTAL")


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / name, dtype=str, keep_default_na=False, encoding="utf-8")


@lru_cache(maxsize=None)
def groups() -> pd.DataFrame:
    """Group codes with Vietnamese/English names, maxima, and the view they belong to."""
    df = _read("groups.csv")
    df["max_points"] = df["max_points"].astype(float)
    return df.set_index("group")


@lru_cache(maxsize=None)
def bands() -> pd.DataFrame:
    """Classification bands with their cut points (lower inclusive, upper exclusive)."""
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
    """Unit levels (province, department, district, commune)."""
    return _read("levels.csv").set_index("level")


@lru_cache(maxsize=None)
def indicator_catalog() -> pd.DataFrame:
    """Indicator codes with their group, allowed measures and share set."""
    df = _read("indicators.csv")
    df["measures"] = df["measures"].str.split("|")
    return df.set_index("indicator")
