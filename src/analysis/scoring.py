"""Scoring engine: totals, bands, competition ranks, changes, views and recomputed group points."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from .errors import DataError, ParameterError
from .periods import parse_period
from .reference import FIVE_GROUPS, SIX_GROUPS
from .scheme import Scheme, load_scheme

__all__ = [
    "KEY", "SCORE_ATTRS", "RECOMPUTE_COLUMNS", "band_of", "band_codes", "as_float", "half_unit", "decimals_of",
    "total_from_groups", "competition_rank", "rank_units", "change_against_previous",
    "previous_period_ids", "five_from_six", "six_from_five", "six_to_five",
    "recompute_group_points", "recompute_wide", "to_sheet", "score_table", "block_codes",
]

# A published figure is identified by where it is printed and what it is about.
KEY = ("source_id", "section", "unit_id", "period_id")
# Per-group attributes of a score row, kept beside the value in a wide sheet as ``GROUP_attr``.
SCORE_ATTRS = ("decimals", "max_stated", "rank", "rank_of", "rank_block", "band", "change")
RECOMPUTE_COLUMNS = ("group", "recomputed", "lower", "upper", "max_points", "complete", "status",
                     "missing", "used", "tolerance", "rule_status", "scheme_version")
_STATUS_ORDER = {"verified": 0, "inferred": 1, "unknown": 2}
_HALF_UNITS = 0.5 * np.power(10.0, -np.arange(10))


def _scheme(scheme: Scheme | None) -> Scheme:
    return scheme if scheme is not None else load_scheme()


@lru_cache(maxsize=1024)
def _scheme_of_period(period_id) -> Scheme:
    """The scheme version valid for a period (versions and their files are cached by
    :mod:`analysis.scheme` already; this spares resolving the same period in every call)."""
    return load_scheme(period=period_id)


def _require(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ParameterError(f"{what}: missing column(s) {', '.join(missing)}; the table has "
                             f"{', '.join(map(str, df.columns))}")


def as_float(values) -> np.ndarray:
    """Values as a float64 array, NaN for missing or non-numeric (no copy when already float64).

    Examples
    --------
    >>> as_float(pd.array([1, None], dtype="Int64")).tolist()
    [1.0, nan]
    """
    if isinstance(values, (pd.Series, pd.Index)):
        dtype = values.dtype
        if dtype == np.float64:
            return values.to_numpy()
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            return values.to_numpy(dtype=float, na_value=np.nan)
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        s = pd.Series(np.asarray(values, dtype=object).ravel())
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def half_unit(decimals, missing: int = 0) -> np.ndarray:
    """Half a unit of the last printed decimal: the largest rounding error of a printed value.

    Parameters
    ----------
    decimals : array-like of int or NaN
        Decimal places printed; NaN means not recorded and counts as ``missing``.
    missing : int
        Decimals assumed when not recorded (0 is the most tolerant).

    Examples
    --------
    >>> half_unit([0, 1, 2, None]).tolist()
    [0.5, 0.05, 0.005, 0.5]
    """
    d = as_float(decimals).ravel()
    if not d.size:
        return np.zeros(0)
    first = d[0]
    if (first == first and float(first).is_integer() and 0 <= first < len(_HALF_UNITS)
            and (d == first).all()):
        return np.full(d.size, _HALF_UNITS[int(first)])   # one precision for the whole column
    nan = np.isnan(d)
    if nan.all():
        return np.full(d.size, 0.5 * 10.0 ** -missing)
    if nan.any():
        d = np.where(nan, missing, d)
    di = d.astype(np.int8)
    if di.min() >= 0 and di.max() < len(_HALF_UNITS) and (di == d).all():
        return _HALF_UNITS[di]   # whole decimals 0-9: a table look-up
    return 0.5 * np.power(10.0, -d)


def _half_units(decimals, missing: int = 0) -> np.ndarray:
    """:func:`half_unit` for arithmetic only: a column printed with one precision gives a
    read-only broadcast of that half unit instead of a new array (no memory to fill)."""
    d = as_float(decimals).ravel()
    if d.size:
        first = d[0]
        if (first == first and float(first).is_integer() and 0 <= first < len(_HALF_UNITS)
                and (d == first).all()):
            return np.broadcast_to(_HALF_UNITS[int(first)], d.shape)
    return half_unit(d, missing)


def decimals_of(values, max_decimals: int = 4) -> np.ndarray:
    """Decimals needed to write each value (``5.8`` → 1, ``-26.42`` → 2, NaN → NaN).

    Used for figures whose printed precision is not recorded (e.g. a printed change); trailing
    zeros cannot be recovered, so the result is a lower bound and tolerances built on it are
    on the safe side.

    Examples
    --------
    >>> decimals_of([5.8, -26.42, 0.0, float("nan")]).tolist()
    [1.0, 2.0, 0.0, nan]
    """
    x = np.asarray(values, dtype=float)
    out = np.full(x.shape, np.nan)
    for d in range(max_decimals, -1, -1):
        exact = np.abs(np.round(x, d) - x) < 1e-9
        out = np.where(exact, d, out)
    return out


def band_codes(scores, scheme: Scheme) -> np.ndarray:
    """Index of each score's band in ``scheme.band_names`` (ascending), -1 for NaN or outside 0–100.

    Examples
    --------
    >>> band_codes([49.99, 50.0, 90.0, float("nan"), 101.0], load_scheme()).tolist()
    [0, 1, 4, -1, -1]
    """
    lows = np.asarray(scheme.band_lower, dtype=float)
    x = as_float(scores).ravel()
    # the number of cut points at or below the score, less one (NaN reaches none)
    idx = np.full(x.shape, -1, dtype=np.intp)
    for low in lows:
        idx += x >= low
    idx[x > scheme.band_top] = -1
    return idx


def band_of(scores, scheme: Scheme | None = None):
    """Band (xếp loại) of each score from the scheme's cut points; lower bound inclusive.

    Parameters
    ----------
    scores : float, array-like or Series
        Totals (0–100).
    scheme : Scheme, optional
        Default: the newest version (the cut points come from ``reference/bands.csv`` unless
        a version or an override replaces them).

    Returns
    -------
    str, float NaN, or Series of an ordered Categorical (``Yếu`` < … < ``Xuất sắc``)
        NaN for NaN input and for scores outside 0–100. A Series keeps the input's index.

    Examples
    --------
    >>> band_of(90.0), band_of(89.99), band_of(50.0), band_of(49.99)
    ('Xuất sắc', 'Tốt', 'Trung bình', 'Yếu')
    >>> band_of([75.17, float("nan")]).tolist()
    ['Khá', nan]
    """
    s = _scheme(scheme)
    scalar = np.ndim(scores) == 0
    codes = band_codes(np.asarray(scores, dtype=float) if scalar else scores, s)
    if scalar:
        return s.band_names[codes[0]] if codes[0] >= 0 else math.nan
    cat = pd.Categorical.from_codes(codes, categories=list(s.band_names), ordered=True)
    index = scores.index if isinstance(scores, pd.Series) else None
    return pd.Series(cat, index=index, name="band")


def block_codes(df: pd.DataFrame, by: Sequence[str]) -> np.ndarray:
    """Integer code of each row's block: rows with equal ``by`` values share a code.

    Codes are non-negative and bounded by about twice the number of rows (not necessarily
    consecutive). Missing values form their own block. With no columns every row is in block 0.

    Examples
    --------
    >>> df = pd.DataFrame({"a": ["x", "y", "x", None], "b": [1, 1, 1, 1]})
    >>> codes = block_codes(df, ["a", "b"])
    >>> bool(codes[0] == codes[2]), len(set(codes.tolist()))
    (True, 3)
    """
    return _combine_codes([df[col] for col in by], len(df))


def _column_codes(s) -> tuple[np.ndarray, int]:
    """(code of each value, number of codes); missing values get a code of their own. A tuple
    ``(codes, number of codes)`` passes through."""
    if isinstance(s, tuple):
        return s
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        codes += 1   # NaN (-1) becomes its own code 0
        return codes, len(s.cat.categories) + 1
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "python":
        # the strings' own object array (no copy): factorizing it gives the same codes, faster
        # than through the string array's methods
        s = s.to_numpy(dtype=object)
    # missing values (code -1) get the code after the others: faster than
    # ``use_na_sentinel=False``, and codes only ever say which rows are equal
    codes, uniques = pd.factorize(s)
    codes = codes.astype(np.int64)
    codes[codes < 0] = len(uniques)
    return codes, len(uniques) + 1


def _combine_codes(columns: Sequence, n: int) -> np.ndarray:
    """Core of :func:`block_codes`: a mixed-radix key over the columns' codes, renumbered when
    its range would outgrow the rows (densely when the range allows it, by hashing otherwise)."""
    if not columns:
        return np.zeros(n, dtype=np.int64)
    dense = _DENSE_SLOTS * n + 4096
    combined, total = _column_codes(columns[0])
    for s in columns[1:]:
        codes, size = _column_codes(s)
        if total * size > dense:   # renumber the key so far (it takes fewer values than its range)
            combined, total = _renumber(combined, total, dense)
        combined = combined * size + codes
        total = total * size
    if total <= 2 * n + 4096:
        return combined   # already small: equal keys share a code, no need to renumber
    return _renumber(combined, total, dense)[0]


def _renumber(codes: np.ndarray, total: int, dense: int) -> tuple[np.ndarray, int]:
    """Consecutive codes for the values taken (in value order when dense, else in order of first
    appearance), and their number."""
    if total <= dense:
        seen = np.zeros(total, dtype=bool)
        seen[codes] = True
        taken = np.flatnonzero(seen)
        new = np.zeros(total, dtype=np.int32 if taken.size < 2 ** 31 else np.int64)
        new[taken] = np.arange(taken.size, dtype=new.dtype)
        return new[codes].astype(np.int64), int(taken.size)
    out, uniques = pd.factorize(codes)
    return out.astype(np.int64), len(uniques)


def _competition(codes: np.ndarray, values: np.ndarray, ascending: bool = False):
    """Competition rank (1, 2, 2, 4) inside blocks; NaN values get no rank."""
    n = len(values)
    if not n:
        return np.full(0, np.nan), np.zeros(0)
    valid = ~np.isnan(values)
    every = bool(valid.all())
    idx = None if every else np.flatnonzero(valid)
    c = codes if every else codes[idx]
    counts = np.bincount(c, minlength=codes.max() + 1)
    rank_of = counts[codes].astype(float)
    m = c.size
    if not m:
        return np.full(n, np.nan), rank_of
    v = values if every else values[idx]
    if not ascending:
        v = -v
    if c.max() < 2 ** 16:
        # two passes beat lexsort: by value (any order among equal values, which share one
        # rank, so the fast unstable sort will do), then a stable radix sort of the 16-bit
        # block codes
        by_value = np.argsort(v)
        order = by_value[np.argsort(c[by_value].astype(np.uint16), kind="stable")]
    else:
        order = np.lexsort((v, c))
    vs, cs = v[order], c[order]
    pos = np.arange(m)
    new_block = np.r_[True, cs[1:] != cs[:-1]]
    new_value = new_block | np.r_[True, vs[1:] != vs[:-1]]
    block_start = np.maximum.accumulate(np.where(new_block, pos, 0))
    run_start = np.maximum.accumulate(np.where(new_value, pos, 0))
    r = np.empty(m)
    r[order] = run_start - block_start + 1
    if every:
        return r, rank_of
    rank = np.full(n, np.nan)
    rank[idx] = r
    return rank, rank_of


def competition_rank(df: pd.DataFrame, by: Sequence[str] = (), score: str = "value", *,
                     ascending: bool = False) -> pd.DataFrame:
    """Rank rows inside blocks with competition ranking (1, 2, 2, 4); report the block size.

    Parameters
    ----------
    df : DataFrame
    by : sequence of str
        Columns that define a block (e.g. ``["period_id", "level", "province_id"]``).
    score : str
        Column ranked; higher is better unless ``ascending``.
    ascending : bool
        Rank the lowest score first.

    Returns
    -------
    DataFrame
        A copy of ``df`` with ``rank`` (Int64; <NA> where the score is missing) and ``rank_of``
        (Int64: the number of scored rows in the block).

    Examples
    --------
    >>> df = pd.DataFrame({"b": ["x"] * 4 + ["y"], "value": [90.0, 85.0, 85.0, 70.0, 60.0]})
    >>> out = competition_rank(df, by=["b"])
    >>> out["rank"].tolist(), out["rank_of"].tolist()
    ([1, 2, 2, 4, 1], [4, 4, 4, 4, 1])
    """
    _require(df, list(by) + [score], "competition_rank")
    values = pd.to_numeric(df[score], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    rank, rank_of = _competition(block_codes(df, by), values, ascending)
    out = df.copy()
    out["rank"] = pd.array(np.where(np.isnan(rank), None, rank), dtype="Int64") if len(df) else pd.array([], dtype="Int64")
    out["rank_of"] = pd.array(rank_of.astype(np.int64), dtype="Int64") if len(df) else pd.array([], dtype="Int64")
    return out


def _check_unique(df: pd.DataFrame, key: list[str], what: str) -> None:
    dup = df.duplicated(subset=key, keep=False)
    if dup.any():
        first = df.loc[dup, key].head(3).astype(str).agg(" / ".join, axis=1).tolist()
        raise DataError(f"{what}: {int(dup.sum())} rows share ({', '.join(key)}), e.g. {'; '.join(first)}; "
                        f"keep one row per key (e.g. one section per source) or add the distinguishing "
                        f"column to `by`")


def rank_units(df: pd.DataFrame, units: pd.DataFrame, *, score: str = "value",
               by: Sequence[str] | None = None, communes_within: str = "province") -> pd.DataFrame:
    """Rank units in the 766 blocks: provinces among provinces; inside a province, departments,
    districts and communes each separately.

    Parameters
    ----------
    df : DataFrame
        One row per unit and block, with ``unit_id`` and ``score``.
    units : DataFrame
        The units table (``unit_id, level, parent_id, province_id``).
    score : str
        Column ranked (higher is better).
    by : sequence of str, optional
        Further block columns; default ``period_id`` and, when present, ``group``.
    communes_within : {"province", "parent"}
        Communes are ranked inside their province (the method) or inside their district
        (what district reports print).

    Returns
    -------
    DataFrame
        ``df`` with ``level``, ``rank_block``, ``block_area``, ``rank`` and ``rank_of``.

    Raises
    ------
    DataError
        A unit missing from ``units``, or two rows for one unit in a block.

    Examples
    --------
    >>> units = pd.DataFrame({"unit_id": ["p", "p/a", "p/b", "p/c"], "level": ["province"] + ["commune"] * 3,
    ...                       "parent_id": [None, "p", "p", "p"], "province_id": ["p"] * 4})
    >>> df = pd.DataFrame({"unit_id": ["p", "p/a", "p/b", "p/c"], "period_id": "2026-01",
    ...                    "value": [80.0, 70.0, 90.0, 70.0]})
    >>> rank_units(df, units)[["unit_id", "rank", "rank_of"]].values.tolist()
    [['p', 1, 1], ['p/a', 2, 3], ['p/b', 1, 3], ['p/c', 2, 3]]
    """
    if communes_within not in ("province", "parent"):
        raise ParameterError(f"communes_within must be 'province' or 'parent', got '{communes_within}'")
    _require(df, ["unit_id", score], "rank_units")
    _require(units, ["unit_id", "level", "parent_id", "province_id"], "rank_units (units)")
    if by is None:
        by = ["period_id"] + (["group"] if "group" in df.columns else [])
    by = [c for c in by if c in df.columns]
    info = units.set_index("unit_id")[["level", "parent_id", "province_id"]]
    unknown = ~df["unit_id"].isin(info.index)
    if unknown.any():
        raise DataError(f"rank_units: unit(s) not in the units table: "
                        f"{', '.join(map(str, df.loc[unknown, 'unit_id'].unique()[:5]))}")
    out = df.drop(columns=[c for c in ("level", "rank_block", "block_area") if c in df.columns])
    level = out["unit_id"].map(info["level"])
    area = out["unit_id"].map(info["province_id"]).astype(object)
    area = area.where(level != "province", "")
    if communes_within == "parent":
        area = area.where(level != "commune", out["unit_id"].map(info["parent_id"]))
    out["level"] = level.to_numpy()
    out["rank_block"] = level.to_numpy()
    out["block_area"] = area.to_numpy()
    _check_unique(out, ["unit_id"] + by, "rank_units")
    return competition_rank(out, by=by + ["rank_block", "block_area"], score=score)


def previous_period_ids(period_ids, periods: pd.DataFrame | None = None) -> pd.Series:
    """Id of the period each change is measured against (``Period.previous()``), per distinct id.

    Parameters
    ----------
    period_ids : array-like of str
    periods : DataFrame, optional
        A periods table; its ``cutoff_date`` is used when parsing week snapshots.

    Examples
    --------
    >>> previous_period_ids(["2024-05-w1", "2024-01", "2024-Q1"]).tolist()
    ['2024-04', '2023-12', '2023-Q4']
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(period_ids, dtype=object)), use_na_sentinel=True)
    cutoffs = {}
    if periods is not None and "cutoff_date" in periods.columns:
        for pid, cut in zip(periods["period_id"], periods["cutoff_date"]):
            if pd.notna(cut):
                cutoffs[pid] = pd.Timestamp(cut).date()
    previous = np.array([parse_period(str(pid), cutoff=cutoffs.get(pid), parameter="period_id").previous()
                         for pid in uniques] + [None], dtype=object)
    return pd.Series(previous[codes])   # code -1 (missing id) picks the trailing None


def _lookup(keys: np.ndarray, table_keys: np.ndarray, table_values: np.ndarray) -> np.ndarray:
    """Value of each key in a (key → value) table, NaN when absent; first occurrence wins."""
    out = np.full(len(keys), np.nan)
    if not len(table_keys) or not len(keys):
        return out
    pos = _lookup_pos(keys, table_keys)
    hit = pos >= 0
    out[hit] = table_values[pos[hit]]
    return out


def _lookup_pos(keys: np.ndarray, table_keys: np.ndarray) -> np.ndarray:
    """Position in ``table_keys`` of the first occurrence of each key, -1 when absent.

    Keys are integers; negative keys never match. When the keys span a range of at most
    ``_DENSE_SLOTS`` slots per row, the table is a direct-address array (no sorting)."""
    out = np.full(len(keys), -1, dtype=np.int64)
    if not len(table_keys) or not len(keys):
        return out
    slot = _dense_slots(table_keys, len(keys) + len(table_keys))
    if slot is not None:
        ok = (keys >= 0) & (keys < slot.size)
        out[ok] = slot[keys[ok]]
        return out
    order = np.argsort(table_keys, kind="stable")
    sk = table_keys[order]
    pos = np.searchsorted(sk, keys, side="left")
    pos_c = np.minimum(pos, len(sk) - 1)
    hit = (pos < len(sk)) & (sk[pos_c] == keys) & (keys >= 0)
    out[hit] = order[pos_c[hit]]
    return out


# A direct-address table (or a dense renumbering) is used while the keys span at most this many
# slots per row (4-byte slots: memory of the order of a few float columns).
_DENSE_SLOTS = 16


def _dense_slots(keys: np.ndarray, rows: int) -> np.ndarray | None:
    """Position of the first occurrence of each key value, -1 where absent, as an array indexed
    by the key (negative keys left out); None when the keys span too wide a range for that."""
    top = int(keys.max()) + 1 if len(keys) else 0
    if top > _DENSE_SLOTS * rows + 4096:
        return None
    slot = np.full(max(top, 0), -1, dtype=np.int64 if len(keys) >= 2 ** 31 else np.int32)
    pos = np.arange(len(keys), dtype=slot.dtype)
    valid = keys >= 0
    k, p = (keys, pos) if valid.all() else (keys[valid], pos[valid])
    slot[k[::-1]] = p[::-1]   # assigned in reverse order, so the first occurrence is kept
    return slot


def change_against_previous(df: pd.DataFrame, periods: pd.DataFrame | None = None, *,
                            value: str = "value", by: Sequence[str] | None = None) -> pd.DataFrame:
    """Change of each value against the previous period (``Period.previous()``), only where both
    periods are in ``df``.

    A week snapshot is compared with the month before (``2024-05-w1`` → ``2024-04``), a month
    with the month before, a quarter, half or year with the previous one; year-to-date values
    have no previous period.

    Parameters
    ----------
    df : DataFrame
        Rows with ``period_id``, ``value`` and the ``by`` columns; one row per ``by`` + period.
    periods : DataFrame, optional
        The periods table (cut-offs of week snapshots).
    value : str
        Column compared.
    by : sequence of str, optional
        Columns identifying a series; default ``unit_id`` and, when present, ``group``.

    Returns
    -------
    DataFrame
        ``df`` with ``previous_period_id``, ``previous_value`` and ``change`` (NaN where the
        previous period is absent).

    Raises
    ------
    DataError
        When two rows share the same series and period.

    Examples
    --------
    >>> df = pd.DataFrame({"unit_id": ["phu-long", "phu-long", "phu-lam"],
    ...                    "period_id": ["2024-05-w1", "2024-04", "2024-05-w1"],
    ...                    "value": [55.87, 82.29, 81.09]})
    >>> change_against_previous(df)["change"].round(2).tolist()
    [-26.42, nan, nan]
    """
    if by is None:
        by = ["unit_id"] + (["group"] if "group" in df.columns else [])
    by = list(by)
    _require(df, by + ["period_id", value], "change_against_previous")
    vals = as_float(df[value])
    previous, prev_ids = _previous_values(df, by, vals, periods)
    out = df.copy()
    out["previous_period_id"] = prev_ids
    out["previous_value"] = previous
    out["change"] = vals - previous
    return out


def _previous_values(df: pd.DataFrame, by: list[str], vals: np.ndarray,
                     periods: pd.DataFrame | None, ids: bool = True):
    """Core of :func:`change_against_previous`: (value of the previous period of each row's
    series, NaN where absent; previous period id of each row, or None unless ``ids``)."""
    series = block_codes(df, by)
    p_codes, p_uniques = pd.factorize(df["period_id"])
    p_uniques = np.asarray(p_uniques, dtype=object)
    n_p = len(p_uniques) + 1
    key_now = series * n_p + p_codes
    if len(key_now) and key_now.min() >= 0 and key_now.max() < _DENSE_SLOTS * len(key_now) + 4096:
        dup = np.bincount(key_now)[key_now] > 1
    else:
        dup = pd.Series(key_now).duplicated(keep=False).to_numpy()
    if dup.any():
        _check_unique(df.loc[dup], by + ["period_id"], "change_against_previous")
    prev_u = previous_period_ids(p_uniques, periods)
    prev_code = pd.Index(p_uniques).get_indexer(prev_u.fillna("").to_numpy())   # -1: not in df
    p_prev = prev_code[p_codes]
    key_prev = np.where(p_prev >= 0, series * n_p + p_prev, -1)
    previous = _lookup(key_prev, key_now, vals)
    return previous, (prev_u.to_numpy(dtype=object)[p_codes] if ids else None)


def _pivot_groups(df: pd.DataFrame, key: list[str], columns: Sequence[str] = ("value", "decimals")):
    """Wide table: one row per key, ``GROUP`` value columns and ``GROUP_decimals``."""
    present = [c for c in columns if c in df.columns]
    base = df[key + ["group"] + present].copy()
    base["_order"] = np.arange(len(base))
    first = base.drop_duplicates(subset=key + ["group"], keep="first")
    wide = first.pivot(index=key, columns="group", values=present)
    keys = base.drop_duplicates(subset=key, keep="first")[key]
    wide = wide.reindex(pd.MultiIndex.from_frame(keys) if len(key) > 1 else pd.Index(keys[key[0]]))
    flat = {}
    for attr, group in wide.columns:
        flat[group if attr == "value" else f"{group}_{attr}"] = pd.to_numeric(wide[(attr, group)], errors="coerce")
    out = pd.DataFrame(flat, index=wide.index).reset_index()
    return out


_VIEW_LABELS = np.array([None, "five", "six"], dtype=object)


def _view_arrays(wide: pd.DataFrame, decimals_missing: int = 0):
    """Core of :func:`_view_totals` as arrays: (total, view code — 0 none, 1 five, 2 six —,
    tolerance, complete)."""
    n = len(wide)
    columns = set(wide.columns)

    def view(groups):
        if not all(g in columns for g in groups):
            return None
        total, tol = np.zeros(n), np.zeros(n)
        for g in groups:
            np.add(total, as_float(wide[g]), out=total)
            dec = wide[f"{g}_decimals"] if f"{g}_decimals" in columns else np.full(n, np.nan)
            np.add(tol, _half_units(dec, decimals_missing), out=tol)
        return total, ~np.isnan(total), tol

    six, five = view(SIX_GROUPS), view(FIVE_GROUPS)
    if five is None:   # the usual sheet: six groups, no DVTT column
        code = np.where(six[1], 2, 0).astype(np.int8) if six is not None else np.zeros(n, dtype=np.int8)
        if six is None:
            return np.full(n, np.nan), code, np.full(n, np.nan), np.zeros(n, dtype=bool)
        return six[0], code, np.where(six[1], six[2], np.nan), six[1]
    none = (np.full(n, np.nan), np.zeros(n, dtype=bool), np.full(n, np.nan))
    six = six or none
    total = np.where(six[1], six[0], five[0])
    tolerance = np.where(six[1], six[2], np.where(five[1], five[2], np.nan))
    complete = six[1] | five[1]
    code = np.where(six[1], 2, np.where(five[1], 1, 0)).astype(np.int8)
    return total, code, tolerance, complete


def _view_totals(wide: pd.DataFrame, decimals_missing: int = 0, *, explain: bool = True) -> pd.DataFrame:
    """Total of each wide row in the six-group view when complete, else the five-group view.

    ``explain`` adds ``n_groups`` and the names of the missing groups (only computed for
    incomplete rows)."""
    n = len(wide)
    columns = set(wide.columns)
    total, code, tolerance, complete = _view_arrays(wide, decimals_missing)
    out = pd.DataFrame({"total": total, "view": _VIEW_LABELS[code], "tolerance": tolerance, "complete": complete})
    if explain:
        def present(groups):
            return sum((~np.isnan(as_float(wide[g]))).astype(int) if g in columns else np.zeros(n, int)
                       for g in groups)
        n_six, n_five = present(SIX_GROUPS), present(FIVE_GROUPS)
        out.insert(2, "n_groups", np.maximum(n_six, n_five))
        missing = np.full(n, "", dtype=object)
        bad = np.flatnonzero(~complete)
        if bad.size:
            text = pd.Series([""] * bad.size, dtype=object)
            use_six = n_six[bad] >= n_five[bad]
            for groups, chosen in ((SIX_GROUPS, use_six), (FIVE_GROUPS, ~use_six)):
                for g in groups:
                    absent = np.isnan(as_float(wide[g])[bad]) if g in columns else np.ones(bad.size, bool)
                    text = text.where(~(chosen & absent), text + g + " ")
            missing[bad] = text.str.strip().to_numpy()
        out["missing"] = missing
    return out


def total_from_groups(df: pd.DataFrame, *, by: Sequence[str] | None = None,
                      missing_decimals: int = 0) -> pd.DataFrame:
    """Total of each unit × period from its group points (the sum of the groups).

    The six portal groups are used when all six are present, otherwise the five decision groups
    (with ``DVTT``); ``TOTAL`` rows are ignored. An incomplete set gives NaN and names the
    missing groups.

    Parameters
    ----------
    df : DataFrame
        Long table with ``group``, ``value`` and optionally ``decimals``.
    by : sequence of str, optional
        Key columns; default those of ``source_id, section, unit_id, period_id`` present.
    missing_decimals : int
        Decimals assumed where ``decimals`` is missing, for the tolerance.

    Returns
    -------
    DataFrame
        One row per key: ``total``, ``view`` (``six``/``five``), ``n_groups``, ``tolerance``
        (sum of the groups' rounding, half a unit of each printed decimal), ``complete``,
        ``missing``.

    Examples
    --------
    >>> df = pd.DataFrame({"unit_id": "bac-kan", "period_id": "2024-07",
    ...                    "group": ["CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH"],
    ...                    "value": [14.1, 19.5, 7.9, 8.2, 18.0, 14.4], "decimals": [1, 1, 1, 1, 0, 1]})
    >>> out = total_from_groups(df)
    >>> round(out["total"].item(), 2), out["view"].item(), round(out["tolerance"].item(), 2)
    (82.1, 'six', 0.75)
    """
    _require(df, ["group", "value"], "total_from_groups")
    if by is None:
        by = [c for c in KEY if c in df.columns]
    by = list(by)
    groups = df.loc[df["group"] != "TOTAL"]
    wide = _pivot_groups(groups, by)
    totals = _view_totals(wide, missing_decimals)
    return pd.concat([wide[by].reset_index(drop=True), totals], axis=1)


def _long_key(df: pd.DataFrame) -> list[str]:
    return [c for c in KEY if c in df.columns]


def five_from_six(df: pd.DataFrame) -> pd.DataFrame:
    """Convert group points from the six portal groups to the five decision groups.

    ``DVTT = ONLINE + TTTT`` where both are present (decimals: the finer of the two); the other
    four groups and ``TOTAL`` pass through. Rows that already carry ``DVTT`` keep it.

    Returns
    -------
    DataFrame
        Long table in the five-group view with ``derived`` (bool) and ``note``.

    Examples
    --------
    >>> df = pd.DataFrame({"unit_id": "u", "period_id": "2024-07", "group": ["ONLINE", "TTTT", "MDHL"],
    ...                    "value": [6.6, 8.0, 17.8], "decimals": [1, 0, 1]})
    >>> out = five_from_six(df)
    >>> out[["group", "value", "derived"]].values.tolist()
    [['MDHL', 17.8, False], ['DVTT', 14.6, True]]
    """
    _require(df, ["group", "value"], "five_from_six")
    key = _long_key(df)
    keep = df.loc[~df["group"].isin(["ONLINE", "TTTT"])].copy()
    keep["derived"] = False
    keep["note"] = keep["note"] if "note" in keep.columns else None
    parts = df.loc[df["group"].isin(["ONLINE", "TTTT"])]
    if parts.empty:
        return keep.reset_index(drop=True)
    cols = ["value"] + (["decimals"] if "decimals" in df.columns else [])
    wide = parts.drop_duplicates(subset=key + ["group"]).pivot(index=key, columns="group", values=cols)
    online = wide[("value", "ONLINE")] if ("value", "ONLINE") in wide.columns else np.nan
    tttt = wide[("value", "TTTT")] if ("value", "TTTT") in wide.columns else np.nan
    dvtt = pd.DataFrame({"value": pd.to_numeric(online) + pd.to_numeric(tttt)}, index=wide.index)
    if "decimals" in df.columns:
        d = wide["decimals"].apply(pd.to_numeric)
        dvtt["decimals"] = d.max(axis=1).astype("Int64")
    dvtt = dvtt.reset_index()
    dvtt["group"] = "DVTT"
    dvtt["derived"] = True
    dvtt["note"] = np.where(dvtt["value"].isna(), "ONLINE or TTTT missing: DVTT not computed",
                            "DVTT = ONLINE + TTTT")
    already = keep.loc[keep["group"] == "DVTT", key]
    if len(already):
        dup = dvtt.merge(already.drop_duplicates(), on=key, how="left", indicator=True)["_merge"] == "both"
        dvtt = dvtt.loc[~dup.to_numpy()]
    out = pd.concat([keep, dvtt], ignore_index=True)
    return out


def six_from_five(df: pd.DataFrame, scheme: Scheme | None = None) -> pd.DataFrame:
    """Convert five-group points to the six portal groups where that is possible.

    ``DVTT`` cannot in general be split into ``ONLINE`` and ``TTTT``: the result is NaN with the
    reason, except at the two ends where the split is forced (0 → 0 + 0, 22 → 12 + 10).

    Examples
    --------
    >>> df = pd.DataFrame({"unit_id": ["a", "b"], "period_id": "2024-07", "group": "DVTT",
    ...                    "value": [13.99, 22.0]})
    >>> out = six_from_five(df)
    >>> out[["unit_id", "group", "value"]].values.tolist()
    [['a', 'ONLINE', nan], ['a', 'TTTT', nan], ['b', 'ONLINE', 12.0], ['b', 'TTTT', 10.0]]
    >>> out["note"].iloc[0]
    'DVTT 13.99 cannot be split into ONLINE and TTTT (only 0 and 22 have one split)'
    """
    _require(df, ["group", "value"], "six_from_five")
    s = _scheme(scheme)
    m_online, m_tttt, m_dvtt = s.max_points("ONLINE"), s.max_points("TTTT"), s.max_points("DVTT")
    keep = df.loc[df["group"] != "DVTT"].copy()
    keep["derived"] = False
    keep["note"] = keep["note"] if "note" in keep.columns else None
    dv = df.loc[df["group"] == "DVTT"].reset_index(drop=True)
    if dv.empty:
        return keep.reset_index(drop=True)
    v = pd.to_numeric(dv["value"]).to_numpy(dtype=float)
    low, high = np.isclose(v, 0.0), np.isclose(v, m_dvtt)
    reason = ("DVTT " + dv["value"].round(4).astype(str)
              + " cannot be split into ONLINE and TTTT (only 0 and 22 have one split)")
    frames = []
    for code, top in (("ONLINE", m_online), ("TTTT", m_tttt)):
        part = dv.copy()
        part["group"] = code
        part["value"] = np.where(low, 0.0, np.where(high, top, np.nan))
        part["derived"] = True
        part["note"] = np.where(low | high, "forced split of DVTT", reason)
        part["_part"] = 0 if code == "ONLINE" else 1
        part["_row"] = np.arange(len(part))
        frames.append(part)
    parts = pd.concat(frames).sort_values(["_row", "_part"]).drop(columns=["_row", "_part"])
    existing = keep.loc[keep["group"].isin(["ONLINE", "TTTT"])]
    if len(existing):
        key = _long_key(df) + ["group"]
        clash = parts.merge(existing[key].drop_duplicates(), on=key, how="left", indicator=True)["_merge"] == "both"
        parts = parts.loc[~clash.to_numpy()]
    return pd.concat([keep, parts], ignore_index=True)


# Historical name kept for callers that read "six to five" as the direction of conversion.
six_to_five = five_from_six


def recompute_wide(rates: pd.DataFrame, scheme: Scheme | None = None, *, missing_decimals: int = 2,
                   groups: Sequence[str] | None = None, explain: bool = True) -> dict[str, pd.DataFrame]:
    """Recompute group points from a wide table of rates (one column per indicator code, in
    percent; optional ``CODE_decimals`` columns).

    Returns, per group, a frame aligned with ``rates``: ``recomputed`` (NaN unless complete),
    ``lower``/``upper`` (bounds implied by the sub-indicators present), ``complete``,
    ``any_rate``, ``missing``, ``used``, ``tolerance`` and ``rule_status``. Parts groups (``DVTT``)
    add up their parts' bounds. With ``explain=False`` the text columns are empty (fast path
    for large tables; explain the rows of interest afterwards).

    Examples
    --------
    >>> rates = pd.DataFrame({"on_time_rate": [90.76, 100.0], "on_time_rate_decimals": [2, 0]})
    >>> out = recompute_wide(rates, load_scheme("766-2025"), groups=["TDGQ"])["TDGQ"]
    >>> out[["recomputed", "complete", "rule_status"]].values.tolist()
    [[18.152, True, 'verified'], [20.0, True, 'verified']]
    """
    s = _scheme(scheme)
    arrays = _recompute_arrays(rates, s, missing_decimals, explain, groups)
    wanted = list(groups) if groups is not None else list(arrays)
    out = {}
    for k in wanted:
        if k not in arrays:
            continue
        a = dict(arrays[k])
        for c in ("missing", "used"):
            if a[c] is None:
                a[c] = ""
        a.pop("_informative")
        a.pop("_status")
        out[k] = pd.DataFrame(a, index=rates.index)
    return out


def _recompute_arrays(rates: pd.DataFrame, s: Scheme, missing_decimals: int = 2,
                      explain: bool = True, groups: Sequence[str] | None = None,
                      statuses: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """Core of :func:`recompute_wide`: per group, a dict of aligned arrays (text arrays are None
    unless ``explain``; ``rule_status`` names are None unless ``statuses``, ``_status`` holds their
    codes). ``groups`` limits the work to those groups and their parts."""
    needed = None
    if groups is not None:
        needed = set(groups)
        for g in list(needed):
            if g in s.groups:
                needed.update(s.groups[g].parts)
    n = len(rates)
    out: dict[str, dict] = {}
    cols = set(rates.columns)
    status_names = np.array(["verified", "inferred", "unknown"], dtype=object)

    def blank():
        # text columns are only built when explaining
        return pd.Series(np.full(n, "", dtype=object), index=rates.index) if explain else None

    def text(series):
        return series.str.rstrip("; ").to_numpy() if explain else None

    # each sub-indicator's points are rounded (portal: 2 decimals) before they are summed
    metric_decimals = s.audit.get("metric_points_decimals")
    metric_half = 0.0 if metric_decimals is None else 0.5 * 10.0 ** -int(metric_decimals)
    for g in s.groups.values():
        if not g.subs or (needed is not None and g.code not in needed):
            continue
        lower, upper, tol = np.zeros(n), np.zeros(n), np.zeros(n)
        complete = np.ones(n, dtype=bool)
        any_rate = np.zeros(n, dtype=bool)
        informative = np.zeros(n, dtype=bool)   # a sub-indicator with a known weight had a rate
        worst = np.zeros(n, dtype=np.int8)
        missing, used = blank(), blank()
        known_points = sum(x.points for x in g.subs if not math.isnan(x.points))
        unassigned = max(0.0, g.max - known_points)
        for sub in g.subs:
            present = [c for c in sub.indicators if c in cols]
            zero_col = sub.full_if_zero if sub.full_if_zero and sub.full_if_zero in cols else None
            ruled = (sub.no_cases or sub.not_measured) and any(
                f"{c}{DEN_SUFFIX}" in cols or f"{c}{PTS_SUFFIX}" in cols for c in sub.indicators)
            if not present and zero_col is None and not ruled:
                # no column can supply this rate: nothing to add, the whole weight stays open
                complete[:] = False
                if not math.isnan(sub.points):
                    upper += sub.points
                    if explain:
                        missing = missing + f"{sub.code} ({'|'.join(sub.indicators) or 'no indicator code'}); "
                continue
            name = blank()
            if len(present) == 1 and not explain:
                code = present[0]
                rate = as_float(rates[code])
                dec = as_float(rates[f"{code}_decimals"]) if f"{code}_decimals" in cols else None
            else:
                rate, dec = np.full(n, np.nan), np.full(n, np.nan)
                for code in present:
                    r = as_float(rates[code])
                    take = np.isnan(rate) & ~np.isnan(r)
                    rate = np.where(take, r, rate)
                    d = as_float(rates[f"{code}_decimals"]) if f"{code}_decimals" in cols else np.full(n, np.nan)
                    dec = np.where(take, d, dec)
                    if explain:
                        name = name.where(~take, code)
            have = ~np.isnan(rate)
            if ruled:
                # a rate stored as missing for a reason: 0/0 (no cases) or null/null (not measured)
                den = np.full(n, np.nan)
                pts_printed = np.full(n, np.nan)
                for code in sub.indicators:
                    if f"{code}{DEN_SUFFIX}" in cols:
                        den = np.where(np.isnan(den), as_float(rates[f"{code}{DEN_SUFFIX}"]), den)
                    if f"{code}{PTS_SUFFIX}" in cols:
                        pts_printed = np.where(np.isnan(pts_printed), as_float(rates[f"{code}{PTS_SUFFIX}"]),
                                               pts_printed)
                rules = []
                if sub.no_cases:
                    rules.append((~have & (den == 0), sub.no_cases, "no cases (0/0)"))
                if sub.not_measured:
                    rules.append((~have & np.isnan(den) & ~np.isnan(pts_printed), sub.not_measured,
                                  "not measured (null/null)"))
                for hit, rule, why in rules:
                    rate = np.where(hit, sub.target if rule == "full" else 0.0, rate)
                    dec = np.where(hit, 0, dec if dec is not None else np.nan)
                    if explain:
                        name = name.where(~hit, f"{sub.code} {why}, scored {rule}")
                    have = have | hit
            if zero_col is not None:
                zero = as_float(rates[zero_col]) == 0
                # no cases (e.g. no complaints) scores full marks
                rate = np.where(zero, sub.target, rate)
                dec = np.where(zero, 0, dec if dec is not None else np.nan)
                if explain:
                    name = name.where(~zero, zero_col + "=0 so " + sub.code)
                have = have | zero
            any_rate |= have
            if math.isnan(sub.points):
                complete[:] = False
                continue
            # points × min(1, rate / target), in place (the same operations as the formula)
            pts = np.maximum(rate, 0.0)
            pts /= sub.target
            np.minimum(1.0, pts, out=pts)
            pts *= sub.points
            unit = _half_units(dec, missing_decimals) if dec is not None else 0.5 * 10.0 ** -missing_decimals
            rounding = sub.points / sub.target * unit + metric_half
            if have.all():   # the usual table: every row has the rate
                lower += pts
                upper += pts
                tol += rounding
                informative[:] = True
            else:
                np.add(lower, pts, out=lower, where=have)
                pts[~have] = sub.points   # an absent rate leaves the whole weight open
                upper += pts
                tol += np.where(have, rounding, 0.0)
                complete &= have
                informative |= have
            if _STATUS_ORDER[sub.status]:
                worst = np.maximum(worst, np.where(have, _STATUS_ORDER[sub.status], 0)).astype(np.int8)
            if explain:
                tag = f"{sub.code} ({'|'.join(sub.indicators) or 'no indicator code'})"
                missing = missing.where(have, missing + tag + "; ")
                shown = pd.Series(rate, index=rates.index).round(4).astype(str)
                used = used.where(~have, used + name + "=" + shown + "; ")
        if unassigned > 1e-9:
            complete[:] = False
            upper += unassigned
            if explain:
                missing = missing + f"{unassigned:g} of {g.max:g} points have no established sub-indicator weight; "
        limit = g.cap if g.cap is not None else g.max
        np.minimum(lower, limit, out=lower)
        np.minimum(upper, limit, out=upper)
        code = np.where(informative, worst, _STATUS_ORDER["unknown"])
        out[g.code] = {
            "recomputed": np.where(complete, lower, np.nan), "lower": lower, "upper": upper,
            "complete": complete, "any_rate": any_rate, "missing": text(missing),
            "used": text(used), "tolerance": tol, "rule_status": status_names[code] if statuses else None,
            "_informative": informative, "_status": code}
    for g in s.groups.values():
        if not g.parts or not all(p in out for p in g.parts) or (needed is not None and g.code not in needed):
            continue
        parts = [out[p] for p in g.parts]
        complete = np.logical_and.reduce([p["complete"] for p in parts])
        informative = np.logical_or.reduce([p["_informative"] for p in parts])
        worst = np.maximum.reduce([np.where(p["_informative"], p["_status"], 0) for p in parts])
        missing, used = blank(), blank()
        if explain:
            for code, p in zip(g.parts, parts):
                pm, pu = pd.Series(p["missing"], index=rates.index), pd.Series(p["used"], index=rates.index)
                missing = missing.where(pm == "", missing + code + ": " + pm + "; ")
                used = used.where(pu == "", used + pu + "; ")
        lower = sum(p["lower"] for p in parts)
        code = np.where(informative, worst, _STATUS_ORDER["unknown"])
        out[g.code] = {
            "recomputed": np.where(complete, lower, np.nan), "lower": lower,
            "upper": sum(p["upper"] for p in parts), "complete": complete,
            "any_rate": np.logical_or.reduce([p["any_rate"] for p in parts]),
            "missing": text(missing), "used": text(used),
            "tolerance": sum(p["tolerance"] for p in parts),
            "rule_status": status_names[code] if statuses else None, "_informative": informative, "_status": code}
    return out


DEN_SUFFIX, PTS_SUFFIX = "__denominator", "__points"


def _indicator_wide(indicators: pd.DataFrame, by: list[str], scheme: Scheme):
    """One row per key: the rates (percent) of the scheme's sub-indicators and the counts that
    trigger full marks (``full_if_zero``), each with ``CODE_decimals``.

    Rows are the keys in sorted order, columns the codes of each part in sorted order (what
    pivoting each part and joining the parts gives); the first row of a key and code is used.
    Returned as ``(keys, values)``, two frames with the same RangeIndex: the ``by`` columns, and
    the value columns (what ``wide.index.to_frame(index=False)`` and ``wide.reset_index(drop=True)``
    of the pivoted table give, without building its index); None when no row is used."""
    rate_codes = {c for g in scheme.groups.values() for s in g.subs for c in s.indicators}
    count_codes = {s.full_if_zero for g in scheme.groups.values() for s in g.subs if s.full_if_zero}
    # a rate left missing (0/0: no cases; null/null: not measured) is scored by the sub-indicator's
    # no_cases / not_measured rule: the denominator of its count row and its printed points say which
    ruled = {c for g in scheme.groups.values() for s in g.subs if s.no_cases or s.not_measured
             for c in s.indicators}
    n = len(indicators)
    # the indicator and measure of every row as codes: each part is a lookup, not a comparison of text
    ind_all, ind_names = pd.factorize(indicators["indicator"].to_numpy(dtype=object))
    mea_all, mea_names = pd.factorize(indicators["measure"].to_numpy(dtype=object))
    ind_names = np.asarray(ind_names, dtype=object)

    def rows_of(codes: set, measure: str) -> np.ndarray:
        want = np.array([c in codes for c in ind_names.tolist()] + [False], dtype=bool)
        hit = np.array([m == measure for m in mea_names.tolist()] + [False], dtype=bool)
        return want[ind_all] & hit[mea_all]   # code -1 (missing) reads the last entry: False

    # (part rows, value columns to take with the names they get)
    parts = [(rows_of(rate_codes, "percent"), [("value", ""), ("decimals", "_decimals")]),
             (rows_of(count_codes - rate_codes, "count"), [("value", ""), ("decimals", "_decimals")])]
    if "denominator" in indicators.columns:
        parts.append((rows_of(ruled, "count"), [("denominator", DEN_SUFFIX)]))
    parts.append((rows_of(ruled, "points"), [("value", PTS_SUFFIX)]))
    used = np.logical_or.reduce([m for m, _ in parts]) if n else np.zeros(0, dtype=bool)
    if not used.any():
        return None
    rows = np.flatnonzero(used)
    # one code per key (in the key columns' values) over the rows used
    key_values = {name: indicators[name].to_numpy(dtype=object) for name in by}
    key_code = np.zeros(len(rows), dtype=np.int64)
    for name in by:
        codes, uniques = pd.factorize(key_values[name][rows])
        if (codes < 0).any():   # a key with a missing part: as the pivots treat it
            wide = _indicator_wide_frames(indicators, by, scheme)
            return None if wide.empty else (wide.index.to_frame(index=False), wide.reset_index(drop=True))
        key_code = key_code * (len(uniques) + 1) + codes
        key_code = pd.factorize(key_code)[0].astype(np.int64)
    ind_code = ind_all[rows]
    n_keys = int(key_code.max()) + 1
    first_row = np.full(n_keys, -1, dtype=np.int64)
    first_row[key_code[::-1]] = rows[::-1]                 # each key's first row in the table
    key_tuples = list(zip(*(key_values[name][first_row].tolist() for name in by)))
    ranked = sorted(range(n_keys), key=key_tuples.__getitem__)
    position = np.empty(n_keys, dtype=np.int64)
    position[ranked] = np.arange(n_keys)                   # a key's row in the wide table
    first_keys = indicators[by].iloc[first_row[ranked]].reset_index(drop=True)
    local = np.full(n, -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    floats: dict = {}
    out: dict = {}
    for mask, columns in parts:
        at = local[mask]                                   # positions in ``rows`` of this part
        if not at.size:
            continue
        pair = key_code[at] * (len(ind_names) + 1) + ind_code[at]
        _, first = np.unique(pair, return_index=True)      # the first row of each key and code
        at = at[np.sort(first)]
        codes_here = ind_code[at]
        present = sorted(set(codes_here.tolist()), key=lambda i: ind_names[i])
        picks = {i: at[codes_here == i] for i in present}
        for column, suffix in columns:   # a part's values come before its decimals, as in a pivot of both
            if column not in floats:
                floats[column] = as_float(indicators[column])
            for i in present:
                pick = picks[i]
                full = np.full(n_keys, np.nan)
                full[position[key_code[pick]]] = floats[column][rows[pick]]
                out.setdefault(f"{ind_names[i]}{suffix}", full)
    return (first_keys, pd.DataFrame(out)) if out else None


def _indicator_wide_frames(indicators: pd.DataFrame, by: list[str], scheme: Scheme) -> pd.DataFrame:
    """:func:`_indicator_wide` with pivots (keys with a missing part)."""
    rate_codes = {c for g in scheme.groups.values() for s in g.subs for c in s.indicators}
    count_codes = {s.full_if_zero for g in scheme.groups.values() for s in g.subs if s.full_if_zero}
    ind = indicators["indicator"]
    parts = [indicators.loc[ind.isin(rate_codes) & (indicators["measure"] == "percent")],
             indicators.loc[ind.isin(count_codes - rate_codes) & (indicators["measure"] == "count")]]
    frames = []
    for part in parts:
        if part.empty:
            continue
        first = part.drop_duplicates(subset=by + ["indicator"], keep="first")
        wide = first.pivot(index=by, columns="indicator", values=["value", "decimals"])
        flat = {}
        for attr, code in wide.columns:
            flat[code if attr == "value" else f"{code}_decimals"] = as_float(wide[(attr, code)])
        frames.append(pd.DataFrame(flat, index=wide.index))
    # a rate left missing (0/0: no cases; null/null: not measured) is scored by the sub-indicator's
    # no_cases / not_measured rule: the denominator of its count row and its printed points say which
    ruled = {c for g in scheme.groups.values() for s in g.subs if s.no_cases or s.not_measured
             for c in s.indicators}
    for measure, column, suffix in (("count", "denominator", DEN_SUFFIX), ("points", "value", PTS_SUFFIX)):
        if column not in indicators.columns:
            continue
        part = indicators.loc[ind.isin(ruled) & (indicators["measure"] == measure)]
        if part.empty:
            continue
        first = part.drop_duplicates(subset=by + ["indicator"], keep="first")
        wide = first.pivot(index=by, columns="indicator", values=column)
        frames.append(pd.DataFrame({f"{code}{suffix}": as_float(wide[code]) for code in wide.columns},
                                   index=wide.index))
    if not frames:
        return pd.DataFrame(index=pd.MultiIndex.from_arrays([[] for _ in by], names=by))
    wide = frames[0]
    for f in frames[1:]:
        wide = wide.join(f, how="outer")   # the parts have no column in common
    return wide


def _wide_per_version(ind: pd.DataFrame, by: list[str], scheme: Scheme | None):
    """For each scheme version that applies (``scheme``, else the version valid for each row's
    period, the rows split between versions only when there are several): ``(scheme, keys,
    values)`` of :func:`_indicator_wide` over its rows; a version with no row used is left out."""
    if scheme is not None:
        versions, row_version = {None: scheme}, None
    else:
        pid = ind["period_id"] if "period_id" in ind.columns else pd.Series([None] * len(ind), index=ind.index)
        versions, mapping = {}, {}
        for p in pd.unique(pid.to_numpy(dtype=object)):
            sch = _scheme_of_period(p) if p is not None else load_scheme()
            versions[sch.version] = sch
            mapping[p] = sch.version
        # each row's version is only needed to split the rows between several versions
        row_version = pid.astype(object).map(mapping) if len(versions) > 1 else None
    for version, sch in versions.items():
        subset = ind.loc[row_version.to_numpy() == version] if row_version is not None else ind
        if subset.empty:
            continue
        wide = _indicator_wide(subset, by, sch)
        if wide is not None:
            yield (sch, *wide)


def recompute_group_points(indicators: pd.DataFrame, scheme: Scheme | None = None, *,
                           scores: pd.DataFrame | None = None,
                           by: Sequence[str] = ("source_id", "unit_id", "period_id"),
                           explain: bool = True) -> pd.DataFrame:
    """Recompute group points from sub-indicator rates, and compare them with published points.

    Each sub-indicator scores ``points × min(1, rate / target)`` (the scheme's rules; a group is
    capped at its ``cap``). A group is *complete* when every sub-indicator has a known weight and
    a rate; otherwise the result is *partial*: ``recomputed`` is NaN (not comparable), ``missing``
    names what is absent, and ``lower``/``upper`` still bound the points from what is present.

    Parameters
    ----------
    indicators : DataFrame
        The indicators table (``indicator, measure, value, decimals`` and the ``by`` columns).
        Rates of one unit are pooled over the sections of a source; the first printed wins.
    scheme : Scheme, optional
        Default: the version valid for each row's period.
    scores : DataFrame, optional
        The scores table; when given, every published group score of the same ``by`` key is
        joined: ``section, published, published_decimals, difference`` (published − recomputed)
        and ``comparable``.
    by : sequence of str
        Key of a recomputation.
    explain : bool
        Fill ``used`` and ``missing`` (False: leave them empty, faster on large tables).

    Returns
    -------
    DataFrame
        One row per key × group with at least one rate present (× published row when ``scores``
        is given); columns ``by`` + RECOMPUTE_COLUMNS (+ the published columns).

    Examples
    --------
    >>> ind = pd.DataFrame({"source_id": "s", "unit_id": "u", "period_id": "2024-07",
    ...                     "indicator": ["on_time_rate"], "measure": "percent",
    ...                     "value": [90.76], "decimals": [2]})
    >>> out = recompute_group_points(ind)
    >>> out[["group", "recomputed", "complete", "rule_status"]].values.tolist()
    [['TDGQ', 18.152, True, 'inferred']]
    """
    by = list(by)
    _require(indicators, by + ["indicator", "measure", "value"], "recompute_group_points")
    ind = indicators if "decimals" in indicators.columns else indicators.assign(decimals=np.nan)
    frames = []
    for sch, keys, values in _wide_per_version(ind, by, scheme):
        # recompute_wide's arrays, stacked group after group: the rows with a rate of each group
        arrays = _recompute_arrays(values, sch, 2, explain)
        taken = [(group, a, np.flatnonzero(a["any_rate"])) for group, a in arrays.items()]
        taken = [(group, a, rows) for group, a, rows in taken if rows.size]
        if not taken:
            continue
        part = keys.iloc[np.concatenate([rows for _, _, rows in taken])].reset_index(drop=True)

        def stack(name):
            return np.concatenate([a[name][rows] if a[name] is not None else np.full(rows.size, "", dtype=object)
                                   for _, a, rows in taken])

        # the other columns made apart and added at once (the same values and dtypes as adding
        # them one by one, without a copy of the frame per column)
        more = {"group": np.concatenate([np.full(rows.size, group, dtype=object) for group, _, rows in taken])}
        for name in ("recomputed", "lower", "upper", "complete", "missing", "used", "tolerance", "rule_status"):
            more[name] = stack(name)
        more["max_points"] = np.concatenate([np.full(rows.size, sch.max_points(group), dtype=float)
                                             for group, _, rows in taken])
        more["status"] = np.where(more["complete"], "complete", "partial")
        more["scheme_version"] = np.full(len(part), sch.version, dtype=object)
        frames.append(pd.concat([part, pd.DataFrame(more, index=part.index)], axis=1))
    columns = by + list(RECOMPUTE_COLUMNS)
    if len(frames) == 1:
        out = frames[0][columns]
    else:
        out = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    if scores is not None:
        _require(scores, by + ["group", "value", "section"], "recompute_group_points (scores)")
        pub = scores.loc[scores["value"].notna(), by + ["group", "section", "value", "decimals"]].rename(
            columns={"value": "published", "decimals": "published_decimals"})
        out = _left_join(out, pub, by + ["group"])
        out["difference"] = out["published"] - out["recomputed"]
        out["comparable"] = out["complete"] & out["published"].notna()
    return out


def _left_join(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """``left.merge(right, on=on, how="left")`` on integer codes of the key columns: each left
    row in order, with its matching right rows in their order (missing keys match each other),
    or missing values when none matches; a fresh RangeIndex."""
    if left.empty or right.empty or any(c in left.columns for c in right.columns if c not in on):
        return left.merge(right, on=on, how="left")
    n = len(left)
    # the key columns of both sides as one object array each (a plain array: a Series would
    # first infer a string dtype, a pass over every value that the codes do not need)
    code = _combine_codes([np.concatenate([left[c].to_numpy(dtype=object), right[c].to_numpy(dtype=object)])
                           for c in on], n + len(right))
    lk, rk = code[:n], code[n:]
    order = np.argsort(rk, kind="stable")
    sk = rk[order]
    lo, hi = np.searchsorted(sk, lk, "left"), np.searchsorted(sk, lk, "right")
    count = hi - lo
    rows = np.maximum(count, 1)                    # an unmatched left row stays, once
    left_at = np.repeat(np.arange(n), rows)
    offset = np.arange(len(left_at)) - np.repeat(np.cumsum(rows) - rows, rows)
    matched = np.repeat(count, rows) > 0
    right_at = np.where(matched, order[np.minimum(np.repeat(lo, rows) + offset, len(order) - 1)], -1)
    out = left.iloc[left_at].reset_index(drop=True)
    extra = {c: right[c].array.take(right_at, allow_fill=True) for c in right.columns if c not in on}
    return pd.concat([out, pd.DataFrame(extra)], axis=1)


def to_sheet(scores: pd.DataFrame, units: pd.DataFrame | None = None) -> pd.DataFrame:
    """Wide "sheet" of published scores: one row per source × section × unit × period.

    Columns: the key, one value column per group present (``CKMB`` … ``TOTAL``) and
    ``GROUP_attr`` for every attribute printed for it (``TOTAL_decimals``, ``TOTAL_rank``,
    ``MDHL_max_stated`` …). With ``units``, ``level``, ``parent_id`` and ``province_id`` are
    added. Rows keep the order in which the scores table first lists them.

    Examples
    --------
    >>> scores = pd.DataFrame({"source_id": "s", "section": "I", "unit_id": "u", "period_id": "2024-07",
    ...     "group": ["TDGQ", "TOTAL"], "value": [17.3, 87.15], "decimals": [1, 2], "rank": [None, 2]})
    >>> to_sheet(scores).columns.tolist()
    ['source_id', 'section', 'unit_id', 'period_id', 'TDGQ', 'TOTAL', 'TDGQ_decimals', 'TOTAL_decimals', 'TOTAL_rank']
    """
    _require(scores, list(KEY) + ["group", "value"], "to_sheet")
    key = list(KEY)
    attrs = ["value"] + [a for a in SCORE_ATTRS if a in scores.columns]
    codes, _ = pd.factorize(block_codes(scores, key))          # dense, in order of first appearance
    n_keys = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n_keys, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    sheet = scores[key].iloc[first].reset_index(drop=True)
    g_codes, g_names = pd.factorize(scores["group"])
    reverse = np.arange(len(scores))[::-1]   # assigning in reverse order lets the first row win
    numeric = {"value", "decimals", "max_stated", "rank", "rank_of", "change"}
    columns: dict = {}   # built apart, then added at once (the same columns, in the same order)
    g_rev = g_codes[reverse]
    for attr in attrs:
        values = as_float(scores[attr]) if attr in numeric else scores[attr].astype(object).to_numpy()
        present = pd.notna(values)[reverse]
        for j, group in enumerate(g_names):
            rows = reverse[(g_rev == j) & present]
            if not rows.size:
                continue
            column = np.full(n_keys, np.nan) if attr in numeric else np.full(n_keys, None, dtype=object)
            column[codes[rows]] = values[rows]
            columns[group if attr == "value" else f"{group}_{attr}"] = column
    if units is not None:
        info = units.set_index("unit_id")
        at = info.index.get_indexer(sheet["unit_id"])   # unit ids are unique (as Series.map needs)
        for c in ("level", "parent_id", "province_id"):
            columns[c] = np.where(at >= 0, info[c].to_numpy(dtype=object)[at], np.nan)
    clash = [c for c in columns if c in sheet.columns]
    for c in clash:   # a column the key already has is replaced in place
        sheet[c] = columns.pop(c)
    if columns:
        sheet = pd.concat([sheet, pd.DataFrame(columns, index=sheet.index)], axis=1)
    return sheet


def score_table(sheet: pd.DataFrame, scheme: Scheme | None = None, *, periods: pd.DataFrame | None = None,
                communes_within: str = "province") -> pd.DataFrame:
    """Score a unit-period table: total from the groups, band, rank in its block, change.

    Parameters
    ----------
    sheet : DataFrame
        One row per unit × period, with group value columns (``CKMB`` … ``MDSH`` or the five
        decision groups), ``unit_id``, ``period_id``, ``level`` and ``province_id`` (and
        ``parent_id`` when communes are ranked inside their district).
    scheme : Scheme, optional
    periods : DataFrame, optional
        Periods table, for week cut-offs.
    communes_within : {"province", "parent"}

    Returns
    -------
    DataFrame
        ``unit_id, period_id, total, view, band, rank, rank_of, previous_value, change``
        aligned with ``sheet``.

    Examples
    --------
    >>> sheet = pd.DataFrame({"unit_id": ["p/a", "p/b", "p/a"], "period_id": ["2026-02", "2026-02", "2026-01"],
    ...     "level": "commune", "province_id": "p", "CKMB": 18.0, "TDGQ": 20.0, "DVTT": [20.0, 10.0, 15.0],
    ...     "MDHL": 18.0, "MDSH": [20.0, 22.0, 20.0]})
    >>> score_table(sheet)[["total", "band", "rank", "change"]].values.tolist()
    [[96.0, 'Xuất sắc', 1, 5.0], [88.0, 'Tốt', 2, nan], [91.0, 'Xuất sắc', 1, nan]]
    """
    s = _scheme(scheme)
    _require(sheet, ["unit_id", "period_id", "level", "province_id"], "score_table")
    if communes_within not in ("province", "parent"):
        raise ParameterError(f"communes_within must be 'province' or 'parent', got '{communes_within}'")
    total, view, _, _ = _view_arrays(sheet, s.audit.get("missing_decimals", 0))
    level = sheet["level"]
    is_province = (level == "province").to_numpy()
    area_col = "province_id"
    if communes_within == "parent":
        _require(sheet, ["parent_id"], "score_table (communes_within='parent')")
    # a block: the period, the level and the area (none for provinces, ranked nationally)
    area = block_codes(sheet, [area_col]) + 1
    if communes_within == "parent":
        parent = block_codes(sheet, ["parent_id"]) + 1
        area = np.where((level == "commune").to_numpy(), parent + area.max() + 1, area)
    area = np.where(is_province, 0, area)
    blocks = _combine_codes([sheet["period_id"], level, (area, int(area.max()) + 1 if len(area) else 1)], len(sheet))
    rank, rank_of = _competition(blocks, total)
    previous, _ = _previous_values(sheet, ["unit_id"], total, periods, ids=False)
    missing = np.isnan(rank)
    out = pd.DataFrame({"unit_id": _values(sheet["unit_id"]), "period_id": _values(sheet["period_id"]),
                        "total": total, "view": _VIEW_LABELS[view],
                        "band": pd.Categorical.from_codes(band_codes(total, s), categories=list(s.band_names),
                                                          ordered=True),
                        "rank": pd.arrays.IntegerArray(np.where(missing, 0, rank).astype(np.int64), missing),
                        "rank_of": rank_of.astype(np.int64),
                        "previous_value": previous,
                        "change": total - previous}, index=sheet.index)
    return out


def _values(column: pd.Series):
    """A column's values for a new frame: text categories are decoded without building Python
    objects (the frame would turn them back into the same string dtype)."""
    if isinstance(column.dtype, pd.CategoricalDtype) and isinstance(column.cat.categories.dtype, pd.StringDtype):
        return column.cat.categories.array.take(column.cat.codes.to_numpy(), allow_fill=True)
    return column.to_numpy()
