"""Content fingerprints of data slices: what a report reads, hashed so unchanged input is skipped."""
from __future__ import annotations

import hashlib

__all__ = ["sha", "frame_bytes", "province_slice_hash", "compare_slice_hash", "data_facts_from"]


def sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def frame_bytes(df) -> bytes:
    import pandas as pd

    if df.empty:
        return b"empty:" + ",".join(df.columns).encode()
    return pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy().tobytes()


def province_slice_hash(ds, province: str) -> str:
    """Hash of what a province report reads: every row of the sources that have a row about the
    province (a printed table is audited whole), the province's units, and those sources and
    periods. A change anywhere else leaves it unchanged."""
    from .views import descendants

    inside = set(descendants(ds.units, province, include_self=True)["unit_id"])
    ids = set(ds.scores.loc[ds.scores["unit_id"].isin(inside), "source_id"])
    ids |= set(ds.indicators.loc[ds.indicators["unit_id"].isin(inside), "source_id"])
    sources = ds.sources.loc[ds.sources["area_unit_id"].isin(inside) | ds.sources["source_id"].isin(ids)]
    ids |= set(sources["source_id"])
    scores = ds.scores.loc[ds.scores["source_id"].isin(ids)]
    indicators = ds.indicators.loc[ds.indicators["source_id"].isin(ids)]
    used = set(scores["period_id"]) | set(indicators["period_id"]) | set(sources["period_id"])
    return sha(frame_bytes(ds.units.loc[ds.units["unit_id"].isin(inside)]), frame_bytes(sources),
               frame_bytes(scores), frame_bytes(indicators),
               frame_bytes(ds.periods.loc[ds.periods["period_id"].isin(used)]))


def compare_slice_hash(ds) -> str:
    """Hash of what comparison reports read: province rows, commune totals, units, periods, sources."""
    prov = set(ds.units.loc[ds.units["level"] == "province", "unit_id"])
    communes = set(ds.units.loc[ds.units["level"] == "commune", "unit_id"])
    s = ds.scores
    rows = s.loc[s["unit_id"].isin(prov) | (s["unit_id"].isin(communes) & (s["group"] == "TOTAL"))]
    return sha(frame_bytes(rows), frame_bytes(ds.units), frame_bytes(ds.periods), frame_bytes(ds.sources))




def data_facts_from(ds) -> dict:
    """What planning a build needs, computed once per data version: the province-periods to
    report on, the periods to compare, and the fingerprint of each report's data slice."""
    from .views import comparison_periods, report_periods

    pairs = report_periods(ds)
    provinces = sorted(set(pairs["province_id"]))
    periods = comparison_periods(ds)
    return {"report_periods": [list(p) for p in pairs.itertuples(index=False)],
            "comparison_periods": periods,
            "province_hashes": {p: province_slice_hash(ds, p) for p in provinces},
            "compare_hash": compare_slice_hash(ds) if periods else ""}
