"""Which value a report uses when several sources give the same figure: one rule, held as data.

Several sources can print the same unit × period × group (a commune catalog and the communes
list of the same crawl; the provinces file and a province's own overview; a detail file and a
list file). ``data/`` keeps every one of them with its provenance. The value a report, the
statistics and the recommendations use is chosen by one rule:

1. the **source preference** of the row (``reference/source_preference.csv``: lower priority
   first; matched on the source's ``kind``, the portal layout recorded in the source's note, and
   the section; the first matching line wins);
2. then the **newer extraction** (``sources.data_as_of``, later first);
3. then the order of the rows in the table (the document's own order), which keeps the choice
   deterministic.

Equal values (equal at the coarser printed precision) are not a contradiction; unequal values
are listed by :func:`source_conflicts` and reported by the audit (check ``source_conflict``).
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from .config import REFERENCE_DIR

__all__ = ["source_preference", "row_priority", "rank_rows", "preferred", "preferred_fields",
           "source_conflicts", "source_layout", "SCORE_KEY", "INDICATOR_KEY"]

SCORE_KEY = ["unit_id", "period_id", "group"]
INDICATOR_KEY = ["unit_id", "period_id", "indicator", "measure", "category"]
_LAYOUT = re.compile(r"\blayout ([a-z-]+)")


@lru_cache(maxsize=None)
def source_preference() -> pd.DataFrame:
    """The preference table (``priority, kind, layout, section, reason``), in file order.

    Examples
    --------
    >>> int(source_preference().iloc[0]["priority"])
    10
    """
    df = pd.read_csv(REFERENCE_DIR / "source_preference.csv", dtype=str, keep_default_na=False,
                     encoding="utf-8")
    df["priority"] = df["priority"].astype(int)
    return df


def source_layout(sources: pd.DataFrame) -> pd.Series:
    """The portal layout of each source (from its note, ``layout unit-list``), '' when none.

    Examples
    --------
    >>> s = pd.DataFrame({"source_id": ["a", "b"], "note": ["layout unit-list; x", None]})
    >>> source_layout(s).tolist()
    ['unit-list', '']
    """
    notes = sources["note"]
    layout = [(m.group(1) if (m := _LAYOUT.search(str(note))) else "") if present else ""
              for note, present in zip(notes.to_numpy(dtype=object).tolist(), notes.notna().to_numpy().tolist())]
    return pd.Series(np.array(layout, dtype=object), index=sources["source_id"].to_numpy())


def _match(pattern: str, value: str) -> bool:
    return pattern == "*" or pattern == value or (pattern.endswith("*") and value.startswith(pattern[:-1]))


def row_priority(rows: pd.DataFrame, sources: pd.DataFrame) -> pd.DataFrame:
    """Priority, reason and extraction date of each row (columns ``source_id`` and ``section``).

    Returns
    -------
    DataFrame
        Aligned with ``rows``: ``priority`` (int), ``preference`` (the reason), ``as_of``.
    """
    priority, preference, as_of = _priorities(rows, sources)
    return pd.DataFrame({"priority": priority, "preference": preference, "as_of": as_of}, index=rows.index)


def _priorities(rows: pd.DataFrame, sources: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`row_priority` as arrays (``int64``, ``object``, ``datetime64[ns]``): a report asks
    this a few dozen times, of up to all its province's rows, where each pandas step or Python
    step per row costs more than the work."""
    facts = _source_facts(sources)
    # Python works once per distinct (source, section) pair and once per distinct source, never
    # per row: the rows' pairs as integer codes (NaN is a value of its own, as str() made it).
    sid_codes, sid_values = pd.factorize(rows["source_id"].to_numpy(dtype=object), use_na_sentinel=False)
    sec_codes, sec_values = pd.factorize(rows["section"].to_numpy(dtype=object), use_na_sentinel=False)
    width = max(len(sec_values), 1)
    pairs, at = np.unique(sid_codes.astype(np.int64) * width + sec_codes, return_inverse=True)
    sid_list, sec_list = sid_values.tolist(), sec_values.tolist()
    hits = []
    for pair in pairs.tolist():
        sid, section = sid_list[pair // width], sec_list[pair % width]
        kind, lay = facts["kind"].get(sid, ""), facts["layout"].get(sid, "")
        line = (kind, lay, str(section))
        if line not in facts["lines"]:
            hit = None
            for r in source_preference().itertuples():
                if _match(r.kind, kind) and _match(r.layout, lay) and _match(r.section, str(section)):
                    hit = (r.priority, r.reason)
                    break
            facts["lines"][line] = hit or (99, "no line of the source preference table matches")
        hits.append(facts["lines"][line])
    priority = np.array([h[0] for h in hits], dtype=np.int64)[at]
    reasons = np.empty(len(hits), dtype=object)
    reasons[:] = [h[1] for h in hits]
    preference = reasons[at]
    if facts["as_of"] is None:
        as_of = np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]")
    elif facts["as_of_ns"] is not None:   # unique source ids: one date per id, NaT when unknown
        get, nat = facts["as_of_ns"].get, np.iinfo(np.int64).min
        as_of = np.array([get(sid, nat) for sid in sid_list], dtype=np.int64)[sid_codes].view("datetime64[ns]")
    else:
        as_of = pd.to_datetime(rows["source_id"].map(facts["as_of"])).to_numpy(dtype="datetime64[ns]")
    return priority, preference, as_of


# What row_priority needs of the last few source tables it saw: each source's kind, layout and
# extraction date, and the preference line of each (kind, layout, section). A report ranks rows
# of one source table a few dozen times; this is read once per table. An entry is used only for
# the same table object with the same content (a fingerprint of the columns read).
_SOURCE_FACTS: list = []
_SOURCE_COLUMNS = ("source_id", "kind", "note", "data_as_of")


def _source_facts(sources: pd.DataFrame) -> dict:
    cols = [c for c in _SOURCE_COLUMNS if c in sources.columns]
    # the content read, as plain values (cheap to take and to compare; a NaN read twice is the same object)
    fingerprint = (len(sources), tuple(cols), tuple(tuple(sources[c].to_numpy().tolist()) for c in cols))
    for table, fp, facts in _SOURCE_FACTS:
        if table is sources and fp == fingerprint:
            return facts
    src = sources.set_index("source_id")
    layout = source_layout(sources)
    as_of = src["data_as_of"] if "data_as_of" in src.columns else None
    as_of_ns = None
    if as_of is not None and as_of.index.is_unique:
        stamps = pd.to_datetime(as_of).to_numpy(dtype="datetime64[ns]").view(np.int64)
        as_of_ns = dict(zip(as_of.index.tolist(), stamps.tolist()))
    sids = sources["source_id"].to_numpy(dtype=object).tolist()
    facts = {"kind": {sid: str(kind) for sid, kind in zip(sids, sources["kind"].to_numpy(dtype=object).tolist())},
             "layout": {sid: str(lay) for sid, lay in zip(layout.index.tolist(), layout.to_numpy().tolist())},
             "as_of": as_of, "as_of_ns": as_of_ns, "lines": {}}
    _SOURCE_FACTS.insert(0, (sources, fingerprint, facts))
    del _SOURCE_FACTS[4:]
    return facts


def rank_rows(rows: pd.DataFrame, sources: pd.DataFrame) -> pd.DataFrame:
    """``rows`` sorted by the rule (priority, newer extraction, table order), with the columns
    ``priority``, ``preference`` and ``as_of`` added."""
    if rows.empty:
        return rows.assign(priority=pd.Series(dtype=int), preference=pd.Series(dtype=object),
                           as_of=pd.Series(dtype="datetime64[ns]"))
    if rows.index.is_unique:   # the same order and columns, on arrays
        priority, preference, as_of = _priorities(rows, sources)
        order = _rule_order(priority, as_of)
        return rows.iloc[order].assign(priority=priority[order], preference=preference[order], as_of=as_of[order])
    pr = row_priority(rows, sources)
    out = rows.join(pr)
    out["_pos"] = np.arange(len(out))
    out["_asof"] = out["as_of"].fillna(pd.Timestamp.min)
    out = out.sort_values(["priority", "_asof", "_pos"], ascending=[True, False, True], kind="stable")
    return out.drop(columns=["_pos", "_asof"])


def _key(table: str) -> list[str]:
    return SCORE_KEY if table == "scores" else INDICATOR_KEY


def preferred(ds, table: str = "scores", rows: pd.DataFrame | None = None, *, column: str = "value",
              key: list[str] | None = None) -> pd.DataFrame:
    """One row per figure: the value a report uses, with how many sources give it.

    Parameters
    ----------
    ds : Dataset
        For ``sources`` (kind, layout note, extraction date).
    table : {'scores', 'indicators'}
    rows : DataFrame, optional
        A subset of that table (default: all of it). Rows whose ``column`` is missing are not
        candidates.
    column : str
        The field that must be present (``value``, ``rank``, ``change``).
    key : list of str, optional
        What one figure is (default: unit × period × group, or × indicator × measure × category).

    Returns
    -------
    DataFrame
        The chosen rows (original columns plus ``priority``, ``preference``, ``as_of``,
        ``n_sources`` = rows giving the figure, ``conflict`` = they differ beyond printed
        precision, ``alternatives`` = the other sources' values as text), in the order of
        the input.

    Examples
    --------
    >>> from analysis.dataset import load_dataset
    >>> from analysis.config import DATA_DIR
    >>> ds = load_dataset(DATA_DIR)
    >>> p = preferred(ds, rows=ds.scores.loc[ds.scores["group"] == "TOTAL"])
    >>> bool(p.duplicated(["unit_id", "period_id", "group"]).any())
    False
    """
    df = getattr(ds, table) if rows is None else rows
    key = list(key or _key(table))
    df = df.loc[df[column].notna()]
    if df.empty:
        return df.assign(priority=pd.Series(dtype=int), preference=pd.Series(dtype=object),
                         as_of=pd.Series(dtype="datetime64[ns]"), n_sources=pd.Series(dtype=int),
                         conflict=pd.Series(dtype=bool), alternatives=pd.Series(dtype=object))
    # The rule's order and the choice, on arrays: a report asks this a few dozen times of a few
    # hundred rows, where each pandas step would cost more than the work (same result as
    # rank_rows, then the first row of each key in that order).
    priority, preference, as_of = _priorities(df, ds.sources)
    order = _rule_order(priority, as_of)
    k = _key_codes(df, key)[order]                     # each row's figure, in the rule's order
    codes, first_at, counts = np.unique(k, return_index=True, return_counts=True)
    chosen = order[first_at]                           # positions in df of the chosen rows
    conflict = _conflicts(df, column, order, k, codes)
    rest = np.ones(len(k), dtype=bool)
    rest[first_at] = False
    alternatives = None
    if rest.any():  # the other sources' values as text, in the rule's order
        others = df.iloc[order[rest]]
        text = (others["source_id"].astype(str) + " – " + others["section"].astype(str) + ": "
                + others[column].astype(str)).tolist()
        joined: dict = {}
        for code, t in zip(k[rest].tolist(), text):
            joined.setdefault(code, []).append(t)
        alternatives = np.array(["; ".join(joined[c]) if c in joined else np.nan for c in codes.tolist()],
                                dtype=object)
    alternatives = np.full(len(codes), np.nan) if alternatives is None else alternatives
    counts = counts.astype("int64")
    index = df.index
    if index.is_monotonic_increasing and index.is_unique:
        # rows in table order: the chosen rows are already in index order (what sort_index gives)
        by = np.argsort(chosen, kind="stable")
        chosen, counts, conflict, alternatives = chosen[by], counts[by], conflict[by], alternatives[by]
        sort = False
    else:
        sort = True
    out = df.iloc[chosen]
    out = out.assign(priority=priority[chosen], preference=preference[chosen], as_of=as_of[chosen],
                     n_sources=counts, conflict=conflict, alternatives=alternatives)
    return out.sort_index() if sort else out


def _rule_order(priority: np.ndarray, as_of: np.ndarray) -> np.ndarray:
    """Positions of the rows in the rule's order: priority, then newer extraction (none last),
    then table order."""
    stamps = as_of.astype("datetime64[ns]").view(np.int64)
    missing = np.isnat(as_of)
    newer = np.where(missing, np.iinfo(np.int64).max, -stamps)
    return np.lexsort((np.arange(len(priority)), newer, priority))


def _key_codes(df: pd.DataFrame, key: list[str]) -> np.ndarray:
    """One integer per row naming its key (missing key fields count as equal, as '')."""
    combined = np.zeros(len(df), dtype=np.int64)
    for name in key:
        col = df[name]
        filled = col.to_numpy(dtype=object, na_value="") if col.hasnans else col.to_numpy(dtype=object)
        codes, uniques = pd.factorize(filled)
        combined = combined * (len(uniques) + 1) + codes
        combined = pd.factorize(combined)[0].astype(np.int64)
    return combined


def _conflicts(df: pd.DataFrame, column: str, order: np.ndarray, k: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per key code (``codes``, sorted): do the values differ beyond the coarser printed
    precision? (:func:`_conflicting` on arrays.)"""
    v = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)[order]
    if np.isnan(v).all():  # text columns (band): compare as text
        nunique = pd.Series(df[column].to_numpy()[order]).groupby(k).nunique()
        return (nunique.reindex(codes) > 1).to_numpy(dtype=bool)
    if "decimals" in df.columns and column == "value":
        dec = df["decimals"].fillna(6).astype(float).to_numpy()[order]
    else:
        dec = np.full(len(v), 6.0)
    half = 0.5 * 10.0 ** -dec
    by = np.argsort(k, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(k[by]) != 0])
    with np.errstate(invalid="ignore"):
        high = np.fmax.reduceat(v[by], starts)
        low = np.fmin.reduceat(v[by], starts)
        spread = high - low
        return np.nan_to_num(spread > 2 * np.maximum.reduceat(half[by], starts) + 1e-9, nan=False).astype(bool)


def _conflicting(ranked: pd.DataFrame, column: str) -> pd.Series:
    """Per key code: do the values differ beyond the coarser printed precision?"""
    v = pd.to_numeric(ranked[column], errors="coerce")
    if v.isna().all():   # text columns (band): compare as text
        return ranked.groupby("_k")[column].nunique() > 1
    dec = ranked["decimals"] if "decimals" in ranked.columns and column == "value" else pd.Series(np.nan, index=ranked.index)
    half = 0.5 * 10.0 ** -dec.fillna(6).astype(float)
    g = pd.DataFrame({"_k": ranked["_k"], "v": v, "h": half}).groupby("_k")
    spread = g["v"].max() - g["v"].min()
    return spread > 2 * g["h"].max() + 1e-9


def preferred_fields(ds, rows: pd.DataFrame, fields=("value", "rank", "change", "band")) -> dict:
    """For one figure (rows of one unit × period × group): each field from the first source, in
    the order of the rule, that gives it, and which source that is.

    Returns
    -------
    dict
        ``{field: (value, source_id, section)}``; a field no source gives is absent.
    """
    out = {}
    if rows.empty:
        return out
    ranked = rank_rows(rows, ds.sources)
    for f in fields:
        if f not in ranked.columns:
            continue
        have = ranked.loc[ranked[f].notna()]
        if len(have):
            r = have.iloc[0]
            out[f] = (r[f], r["source_id"], r["section"])
    return out


def source_conflicts(ds, table: str = "scores") -> pd.DataFrame:
    """Figures that two sources (or two sections) give with unequal values.

    Returns
    -------
    DataFrame
        One row per figure with a conflict: the key, the chosen row's ``value``, ``source_id``,
        ``section``, and every other value in ``alternatives``.
    """
    p = preferred(ds, table)
    return p.loc[p["conflict"]].reset_index(drop=True)
