"""Audit of published reports: every place where a report contradicts itself or the method."""
from __future__ import annotations

from collections import Counter
from functools import lru_cache

import numpy as np
import pandas as pd

from .errors import ParameterError
from .reference import FIVE_GROUPS, GROUP_CODES, SIX_GROUPS, group_order, indicator_catalog
from .scheme import Scheme
from .scoring import (KEY, _STATUS_ORDER, _VIEW_LABELS, _combine_codes, _competition, _half_units,
                      _lookup_pos, _recompute_arrays, _scheme_of_period, _view_arrays, _wide_per_version,
                      as_float, band_codes, block_codes, decimals_of, half_unit, previous_period_ids,
                      recompute_group_points, recompute_wide, to_sheet)

__all__ = ["audit", "audit_sheet", "FINDING_COLUMNS", "CHECKS", "SEVERITIES", "summarise",
           "data_quality_warnings", "DISTURBING_CHECKS"]

FINDING_COLUMNS = ("unit_id", "period_id", "check", "published", "expected", "difference",
                   "tolerance", "severity", "source_id", "section", "message")
SEVERITIES = ("error", "warning", "info")
CHECKS = {
    "total_vs_groups": "the printed total differs from the sum of its printed groups by more than "
                       "their rounding allows (half a unit of each printed decimal)",
    "above_max": "a group value is above its stated maximum, or above the method's maximum",
    "header_max": "a column header's stated maximum conflicts with several values printed under it",
    "stated_max": "a stated maximum differs from the method's maximum for that group",
    "band": "the printed band differs from the band implied by the score",
    "rank": "the printed rank differs from the competition rank implied by the scores of the "
            "same block in the same section",
    "rank_of": "the printed block size disagrees with the rows the section ranks",
    "change": "the printed change differs from the difference of the two printed values",
    "recomputed_points": "group points recomputed from sub-indicator rates differ from the printed points",
    "recomputed_bounds": "printed points lie outside the range allowed by the sub-indicator rates present",
    "cross_section": "the same figure for the same unit and period differs between two sections of one report",
    "share_sum": "complementary shares (one share set) do not add up to 100%",
    "share_from_counts": "a printed share differs from the share computed from the printed counts",
    "parts_sum": "counts of sub-units do not add up to the printed count of the unit",
    "units_by_band": "a printed number of units per band disagrees with its whole or with the bands printed in a table",
    "block_extreme": "a printed highest/lowest total of a block disagrees with the table of that block",
    "total_range": "a total outside 0-100, or a negative group value",
    "source_conflict": "two sources give the same unit, period and group unequal values (beyond printed "
                       "precision); the report uses the one the source preference rule chooses",
    "metric_points_sum": "the printed sub-indicator points do not add up to the printed group points "
                         "(the portal sums its rounded metric points)",
    "inherited": "child units print the province's own group points (the portal gives them the "
                 "province's transparency points): the values say nothing about the units",
    "placeholder_run": "a placeholder-like run: most units of a table print exactly the same value "
                       "(above 0 and below the group's maximum, where real values pile up)",
    "temporary_denominator": "the portal marks a denominator as temporary (dataQualityStatus), so the "
                             "points cannot be read as a measurement",
}
# Counts of procedures (TTHC) are not additive over units: one procedure is offered by many units,
# so sub-units' counts may exceed the province's (the Phú Thọ payment-tree capture shows it).
NON_ADDITIVE_COUNTS = ("payment_procedures_online", "fee_procedures_with_dossiers",
                       "procedures_published_on_time", "procedures_updated_on_time",
                       "procedures_published_full", "procedures_online_full", "procedures_online_partial",
                       "population_data_procedure_rate")
# A placeholder run: at least this many units, and at least this share of them, at one value.
PLACEHOLDER_MIN_UNITS, PLACEHOLDER_MIN_SHARE = 10, 0.5
_EPS = 1e-9


# ---------------------------------------------------------------------------------------------
# helpers

def _num(df: pd.DataFrame, column: str) -> np.ndarray:
    if column not in df.columns:
        return np.full(len(df), np.nan)
    return as_float(df[column])


def _take(df: pd.DataFrame, column: str, idx) -> np.ndarray:
    if column not in df.columns:
        return np.full(len(idx), None, dtype=object)
    return df[column].iloc[idx].astype(object).to_numpy()


def _fmt(values) -> pd.Series:
    """Numbers for messages: at most 4 decimals, no float noise, '–' for missing."""
    s = pd.Series(np.asarray(values, dtype=float)).round(4)
    text = s.astype(str).str.replace(r"\.0$", "", regex=True)
    return text.where(s.notna(), "–")


def _text(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object)).fillna("").astype(str)


def _findings(check: str, *, unit_id, period_id, source_id, section, published, expected,
              tolerance, severity, message, order=None) -> pd.DataFrame:
    published = np.asarray(published, dtype=float).reshape(-1)
    expected = np.broadcast_to(np.round(np.asarray(expected, dtype=float), 6), published.shape)
    tol = np.broadcast_to(np.asarray(tolerance, dtype=float), published.shape)
    sev = np.broadcast_to(np.asarray(severity, dtype=object), published.shape)
    out = pd.DataFrame({
        "unit_id": np.broadcast_to(np.asarray(unit_id, dtype=object), published.shape),
        "period_id": np.broadcast_to(np.asarray(period_id, dtype=object), published.shape),
        "check": check, "published": published, "expected": expected,
        "difference": np.round(published - expected, 6), "tolerance": np.round(tol, 6), "severity": sev,
        "source_id": np.broadcast_to(np.asarray(source_id, dtype=object), published.shape),
        "section": np.broadcast_to(np.asarray(section, dtype=object), published.shape),
        "message": np.asarray(message, dtype=object).reshape(-1) if not isinstance(message, str)
        else np.full(published.shape, message, dtype=object)})
    out["_order"] = np.broadcast_to(np.asarray(order if order is not None else 0, dtype=float), published.shape)
    return out


@lru_cache(maxsize=None)
def _empty_findings() -> pd.DataFrame:
    return _findings("total_range", unit_id=[], period_id=[], source_id=[], section=[], published=[],
                     expected=[], tolerance=[], severity=[], message=[], order=[])


def _empty() -> pd.DataFrame:
    """No findings: a copy of one empty table (built once; a constant)."""
    return _empty_findings().copy()


def _severity_of(rule_status) -> np.ndarray:
    """A contradiction with a verified rule is an error; with an inferred one, a warning."""
    status = np.asarray(rule_status, dtype=object)
    return np.where(status == "verified", "error", "warning").astype(object)


def _schemes_for(sheet_periods: pd.Series, scheme: Scheme | None):
    """(version of each row, {version: Scheme}); the versions are None when there is one scheme."""
    if scheme is not None:
        return None, {scheme.version: scheme}
    codes, uniques = pd.factorize(sheet_periods)
    versions, out = [], {}
    for pid in np.asarray(uniques, dtype=object):
        s = _scheme_of_period(pid)
        out[s.version] = s
        versions.append(s.version)
    if len(out) == 1:
        return None, out
    versions = np.asarray(versions, dtype=object)
    return (versions[codes] if len(codes) else np.zeros(0, dtype=object)), out


def _per_row(row_version: np.ndarray | None, schemes: dict, fn, n: int) -> np.ndarray:
    """A per-row scheme parameter, ``fn(scheme)``, mapped through each row's version."""
    if len(schemes) == 1:
        return np.broadcast_to(float(fn(next(iter(schemes.values())))), (n,))   # read-only: one value
    codes, uniques = pd.factorize(row_version)
    return np.array([fn(schemes[v]) for v in uniques], dtype=float)[codes]


def _missing_decimals(schemes: dict) -> int:
    return min(int(s.audit.get("missing_decimals", 0)) for s in schemes.values()) if schemes else 0


# ---------------------------------------------------------------------------------------------
# checks on the wide sheet of scores

def _check_totals(sheet, groups, md, order) -> pd.DataFrame:
    if "TOTAL" not in sheet.columns:
        return _empty()
    flat = sheet.reset_index(drop=True)
    total = _num(flat, "TOTAL")
    has_total = ~np.isnan(total)
    value_cols = [c for c in flat.columns if c in GROUP_CODES and c != "TOTAL"]
    dec_cols = [f"{c}_decimals" for c in value_cols if f"{c}_decimals" in flat.columns]
    # the sheet's own groups (its other columns are not read: the same as a frame of these columns)
    expected, view, tol_groups, own_complete = _view_arrays(flat, md)
    check = has_total & own_complete
    need = has_total & ~own_complete
    where = None
    patched = None   # need rows: the groups pooled over the sections of their source
    if need.any():
        # groups printed in other sections of the same source (e.g. one paragraph per group)
        key = block_codes(flat, ["source_id", "unit_id", "period_id"])
        # the same total printed in two sections is checked once
        need &= ~pd.DataFrame({"k": key, "t": total}).duplicated(keep="first").to_numpy()
        wanted = np.isin(key, np.unique(key[need]))
        sub = flat.loc[wanted]
        pooled = sub[value_cols + dec_cols].groupby(key[wanted], sort=False).first()
        need_idx = np.flatnonzero(need)
        patched = pd.DataFrame(pooled.reindex(key[need]).to_numpy(), columns=value_cols + dec_cols)
        p_total, p_view, p_tol, _ = _view_arrays(patched, md)
        expected[need_idx] = p_total
        view[need_idx] = p_view
        tol_groups[need_idx] = p_tol
        has_group = sub[value_cols].notna().any(axis=1).to_numpy()
        secs = (sub.loc[has_group, ["section"]].assign(_k=key[wanted][has_group])
                .drop_duplicates().groupby("_k", sort=False)["section"].agg("; ".join))
        where = np.full(len(flat), "", dtype=object)
        where[need] = secs.reindex(key[need]).fillna("").to_numpy()
        check |= need
    tol = tol_groups + _half_units(_num(flat, "TOTAL_decimals"), md)
    bad = check & ~np.isnan(expected) & (np.abs(total - expected) > tol + _EPS)
    idx = np.flatnonzero(bad)
    if not idx.size:
        return _empty()
    # the groups added up for each flagged row (pooled ones where the row's own were incomplete)
    values = {g: _num(flat, g)[idx] for g in value_cols}
    if patched is not None:
        at = np.minimum(np.searchsorted(need_idx, idx), need_idx.size - 1)
        from_pool = need_idx[at] == idx
        for g in value_cols:
            values[g] = np.where(from_pool, _num(patched, g)[at], values[g])
    parts = pd.Series([""] * idx.size, dtype=object)
    six = view[idx] == 2
    for g in group_order():
        if g in values:
            vals = values[g]
            in_view = np.zeros(idx.size, bool)
            if g in SIX_GROUPS:
                in_view |= six
            if g in FIVE_GROUPS:
                in_view |= ~six
            use = ~np.isnan(vals) & in_view
            parts = parts.where(~use, parts + g + " " + _fmt(vals).to_numpy() + " + ")
    parts = parts.str.rstrip(" +")
    src = (np.where(where[idx] != "", " (groups printed in sections: " + _text(where[idx]) + ")", "")
           if where is not None else "")
    msg = ("TOTAL " + _fmt(total[idx]) + " differs from the sum of its " + _text(_VIEW_LABELS[view[idx]])
           + " groups " + _fmt(expected[idx]) + " = " + parts + src
           + "; rounding allows " + _fmt(tol[idx]))
    return _findings("total_vs_groups", unit_id=_take(flat, "unit_id", idx), period_id=_take(flat, "period_id", idx),
                     source_id=_take(flat, "source_id", idx), section=_take(flat, "section", idx),
                     published=total[idx], expected=expected[idx], tolerance=tol[idx], severity="error",
                     message=msg, order=order[idx])


def _first_per_code(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Position of the first row of each code."""
    first = np.full(n_codes, -1, dtype=np.int64)
    rev = np.arange(len(codes))[::-1]
    first[codes[::-1]] = rev
    return first


def _code_facts(codes: np.ndarray, rows: np.ndarray):
    """(codes, number of codes, rows per code, codes present, first row of each code or -1)."""
    n_codes = int(codes.max()) + 1
    n = np.bincount(codes, minlength=n_codes)
    present = np.flatnonzero(n)
    first = np.full(n_codes, -1, dtype=np.int64)
    first[present] = rows[_first_per_code(codes, n_codes)[present]]
    return codes, n_codes, n, present, first


def _check_max(sheet, groups, row_version, schemes, header_rule, order, src_sec) -> list[pd.DataFrame]:
    out = []
    whole = None
    min_values, min_share = header_rule
    for g in groups:
        if g == "TOTAL":
            continue
        v = _num(sheet, g)
        stated = _num(sheet, f"{g}_max_stated")
        method = _per_row(row_version, schemes, lambda s, g=g: s.max_points(g) if g in s.groups else np.nan,
                          len(sheet))
        limit = np.fmin(stated, method)   # fmin skips NaN: no stated maximum leaves the method's
        over = v > limit + _EPS
        idx = np.flatnonzero(over)
        if idx.size:
            st = stated[idx]
            which = np.where(~np.isnan(st) & (np.abs(limit[idx] - st) < _EPS), "its stated maximum ",
                             "the method's maximum ")
            msg = (g + " " + _fmt(v[idx]) + " is above " + which + _fmt(limit[idx])
                   + np.where(~np.isnan(st), " (printed max " + _fmt(st) + ")", ""))
            out.append(_findings("above_max", unit_id=_take(sheet, "unit_id", idx),
                                 period_id=_take(sheet, "period_id", idx), source_id=_take(sheet, "source_id", idx),
                                 section=_take(sheet, "section", idx), published=v[idx], expected=limit[idx],
                                 tolerance=0.0, severity="error", message=msg, order=order[idx]))
        # a column: the same stated maximum printed over the values of one section
        valid = ~np.isnan(stated) & ~np.isnan(v)
        everywhere = bool(valid.all())
        rows = np.arange(len(v)) if everywhere else np.flatnonzero(valid)
        if not rows.size:
            continue
        st = stated if everywhere else stated[rows]
        if (st == st[0]).all():   # one stated maximum for the whole column (the usual case)
            if everywhere:
                if whole is None:   # the same for every column printed in full
                    whole = _code_facts(src_sec, rows)
                codes, n_codes, n, present, first = whole
            else:
                codes, n_codes, n, present, first = _code_facts(src_sec[rows], rows)
        else:
            st_codes, st_uniques = pd.factorize(st)
            codes = pd.factorize(src_sec[rows] * (len(st_uniques) + 1) + st_codes)[0]
            codes, n_codes, n, present, first = _code_facts(codes, rows)
        # values above the stated maximum are among those above the limit (fmin(stated, method))
        above = idx[v[idx] > stated[idx] + _EPS]
        above_codes = codes[above if everywhere else np.searchsorted(rows, above)]
        n_over = np.bincount(above_codes, minlength=n_codes).astype(float)
        head = np.flatnonzero((n_over >= min_values) & (n_over >= min_share * n))
        top = np.full(n_codes, np.nan)
        if head.size:
            sel = np.isin(above_codes, head)
            top_s = pd.Series(v[above][sel]).groupby(above_codes[sel]).max()
            top[top_s.index.to_numpy()] = top_s.to_numpy()
        if head.size:
            pos = first[head]
            msg = (g + ": the stated maximum " + _fmt(stated[pos]) + " conflicts with "
                   + _fmt(n_over[head]) + " of " + _fmt(n[head]) + " values printed under it (up to "
                   + _fmt(top[head]) + "); the method's maximum is " + _fmt(method[pos]))
            out.append(_findings("header_max", unit_id=None, period_id=_take(sheet, "period_id", pos),
                                 source_id=_take(sheet, "source_id", pos), section=_take(sheet, "section", pos),
                                 published=top[head], expected=stated[pos], tolerance=0.0, severity="error",
                                 message=msg, order=order[pos]))
        firsts = first[present]
        diff = present[np.abs(stated[firsts] - method[firsts]) > _EPS]
        if diff.size:
            pos = first[diff]
            msg = g + ": stated maximum " + _fmt(stated[pos]) + " differs from the method's " + _fmt(method[pos])
            out.append(_findings("stated_max", unit_id=None, period_id=_take(sheet, "period_id", pos),
                                 source_id=_take(sheet, "source_id", pos), section=_take(sheet, "section", pos),
                                 published=stated[pos], expected=method[pos], tolerance=0.0, severity="warning",
                                 message=msg, order=order[pos]))
    return out


def _block_max(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Largest value of each code 0..max (NaN skipped; NaN where a code has none)."""
    out = np.full(int(codes.max()) + 1, np.nan)
    np.fmax.at(out, codes, values)
    return out


def _block_min(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Smallest value of each code 0..max (NaN skipped; NaN where a code has none)."""
    out = np.full(int(codes.max()) + 1, np.nan)
    np.fmin.at(out, codes, values)
    return out


def _band_index(series: pd.Series, names) -> np.ndarray:
    """Index of each printed band in ``names``; -1 when missing or unknown."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        lookup = np.r_[pd.Index(names).get_indexer(series.cat.categories.astype(object)), -1]
        return lookup[series.cat.codes.to_numpy()]   # code -1 (missing) takes the trailing -1
    return pd.Index(names).get_indexer(series.astype(object))


def _check_bands(sheet, groups, row_version, schemes, md, order) -> list[pd.DataFrame]:
    out = []
    for g in groups:
        col = f"{g}_band"
        if col not in sheet.columns:
            continue
        v = _num(sheet, g)
        for version, s in schemes.items():
            pub = _band_index(sheet[col], s.band_names)
            sel = (pub >= 0) & ~np.isnan(v)
            if len(schemes) > 1:
                sel &= row_version == version
            rows = np.flatnonzero(sel)
            if not rows.size:
                continue
            x, p = v[rows], pub[rows]
            implied = band_codes(x, s)
            wrong = np.flatnonzero(implied != p)
            if not wrong.size:
                continue
            r, x, p, implied = rows[wrong], x[wrong], p[wrong], implied[wrong]
            h = half_unit(_num(sheet, f"{g}_decimals")[r], md)
            ambiguous = (band_codes(x - h, s) == p) | (band_codes(x + h, s) == p)
            names = np.asarray(s.band_names + ("(none)",), dtype=object)
            lows = np.asarray(s.band_lower, dtype=float)
            ups = np.r_[lows[1:], s.band_top]
            lo, up = lows[p], ups[p]
            # the nearest bound of the printed band: the score should have reached it / stayed below it
            bound = np.where(x < lo, lo, up)
            sev = np.where(ambiguous, "info", "error").astype(object)
            msg = (g + " " + _fmt(x) + " is '" + _text(names[implied]) + "' by the cut points, but the report prints '"
                   + _text(names[p]) + "'" + np.where(ambiguous, " (the score is within rounding of the cut point "
                                                      + _fmt(bound) + ")", " (its band starts at " + _fmt(lo)
                                                      + " and ends below " + _fmt(up) + ")"))
            out.append(_findings("band", unit_id=_take(sheet, "unit_id", r), period_id=_take(sheet, "period_id", r),
                                 source_id=_take(sheet, "source_id", r), section=_take(sheet, "section", r),
                                 published=x, expected=bound, tolerance=h, severity=sev, message=msg,
                                 order=order[r]))
    return out


def _check_ranks(sheet, groups, md, order) -> list[pd.DataFrame]:
    out = []
    level = None
    for g in groups:
        col = f"{g}_rank"
        if col not in sheet.columns:
            continue
        v = _num(sheet, g)
        rank = _num(sheet, col)
        rank_of = _num(sheet, f"{g}_rank_of")
        rb = sheet[f"{g}_rank_block"] if f"{g}_rank_block" in sheet.columns else pd.Series(None, index=sheet.index, dtype=object)
        if rb.isna().any():   # rows without a printed block rank among units of their own level
            if level is None:
                level = (sheet["level"].astype(object).to_numpy() if "level" in sheet.columns
                         else np.full(len(sheet), "", dtype=object))
            rb = pd.Series(np.where(rb.isna().to_numpy(), level, rb.astype(object).to_numpy()), index=sheet.index)
        valid = ~np.isnan(v)
        codes = _combine_codes([sheet["source_id"], sheet["section"], sheet["period_id"], rb], len(sheet))
        # only blocks where some rank is printed matter
        ranked = np.zeros(codes.max() + 1 if codes.size else 0, dtype=bool)
        ranked[codes[~np.isnan(rank)]] = True
        member = ranked[codes] & valid
        if not member.any():
            continue
        idx = np.flatnonzero(member)
        c = pd.factorize(codes[idx])[0].astype(np.int64)
        x = v[idx]
        comp, n_block = _competition(c, x)
        r = rank[idx]
        printed = ~np.isnan(r)
        # units of the block that the section does not list could stand anywhere
        unlisted = np.nan_to_num(np.maximum(rank_of[idx] - n_block, 0), nan=0.0)
        cand = np.flatnonzero(printed & (r != comp))
        if cand.size:
            # ranks allowed by the printed precision: values closer than the rounding may be in
            # either order (half a unit of each value's last decimal)
            # (only the blocks of the candidates are needed)
            of_cand = np.zeros(int(c.max()) + 1, dtype=bool)
            of_cand[c[cand]] = True
            sub = np.flatnonzero(of_cand[c])
            dec = _num(sheet, f"{g}_decimals")
            hmax = _block_max(c[sub], half_unit(dec[idx[sub]], md))
            span = 512.0
            sk = np.sort(c[sub] * span + np.clip(x[sub], -100.0, 400.0))
            block_end = np.cumsum(np.bincount(c[sub]))
            cc, xc = c[cand], np.clip(x[cand], -100.0, 400.0)
            tol = half_unit(dec[idx[cand]], md) + hmax[cc]
            e = 1e-6
            lo = 1 + block_end[cc] - np.searchsorted(sk, cc * span + xc + tol - e, side="left")
            hi = block_end[cc] - np.searchsorted(sk, cc * span + xc - tol + e, side="right") + unlisted[cand]
            rc, compc = r[cand], comp[cand]
            outside = (rc < lo) | (rc > hi)
            tie = ~outside & (unlisted[cand] == 0)
            for mask, sev in ((outside, "error"), (tie, "info")):
                k = np.flatnonzero(mask)
                if not k.size:
                    continue
                ri = idx[cand[k]]
                why = (" (possible " + _fmt(lo[k]) + "–" + _fmt(hi[k]) + " given the printed decimals)"
                       if sev == "error" else
                       ": equal at the printed precision, so the order may rest on unprinted decimals")
                msg = (g + " rank " + _fmt(rc[k]) + " but the " + _fmt(n_block[cand[k]]) + " "
                       + _text(rb.iloc[ri].astype(object)) + " scores of this section give competition rank "
                       + _fmt(compc[k]) + why)
                out.append(_findings("rank", unit_id=_take(sheet, "unit_id", ri), period_id=_take(sheet, "period_id", ri),
                                     source_id=_take(sheet, "source_id", ri), section=_take(sheet, "section", ri),
                                     published=rc[k], expected=compc[k], tolerance=(hi[k] - lo[k]), severity=sev,
                                     message=msg, order=order[ri]))
        # block sizes: one finding per block
        ro = rank_of[idx]
        first = _first_per_code(c, c.max() + 1)
        agg = pd.DataFrame({"n": n_block[first], "ro_min": _block_min(c, ro),
                            "ro_max": _block_max(c, ro), "pos": idx[first]})
        agg = agg.loc[agg["ro_min"].notna()]
        kinds = (
            (agg["ro_min"] != agg["ro_max"], "error",
             lambda a: g + " rank_of differs inside one ranked block: " + _fmt(a["ro_min"]) + " and " + _fmt(a["ro_max"])),
            (agg["ro_min"] < agg["n"], "error",
             lambda a: g + ": the section ranks " + _fmt(a["n"]) + " units but prints 'of " + _fmt(a["ro_min"]) + "'"),
            ((agg["n"] >= 2) & (agg["ro_max"] > agg["n"]), "info",
             lambda a: g + ": the section lists " + _fmt(a["n"]) + " of the " + _fmt(a["ro_max"])
             + " units it ranks (a partial table)"),
        )
        for mask, sev, text in kinds:
            a = agg.loc[mask.to_numpy()]
            if not len(a):
                continue
            pos = a["pos"].to_numpy()
            out.append(_findings("rank_of", unit_id=None, period_id=_take(sheet, "period_id", pos),
                                 source_id=_take(sheet, "source_id", pos), section=_take(sheet, "section", pos),
                                 published=a["ro_min"].to_numpy() if sev == "error" else a["ro_max"].to_numpy(),
                                 expected=a["n"].to_numpy(), tolerance=0.0, severity=sev,
                                 message=text(a), order=order[pos]))
    return out


def _check_changes(sheet, groups, periods, md, order) -> list[pd.DataFrame]:
    out = []
    change_groups = [g for g in groups if f"{g}_change" in sheet.columns]
    if not change_groups:
        return out
    p_codes, p_uniques = pd.factorize(sheet["period_id"])
    p_uniques = np.asarray(p_uniques, dtype=object)
    prev_u = previous_period_ids(p_uniques, periods)
    all_p = pd.Index(pd.unique(np.r_[p_uniques, prev_u.dropna().to_numpy()]))
    p_now = all_p.get_indexer(p_uniques)[p_codes]
    p_prev = np.where(prev_u.isna().to_numpy(), -1, all_p.get_indexer(prev_u.fillna("").to_numpy()))[p_codes]
    prev_ids = prev_u.to_numpy(dtype=object)
    n_p = len(all_p) + 1
    # computed when first needed; the unit comes before the section, so that the key is renumbered
    # (densely) while it is still small
    series = [lambda: block_codes(sheet, ["source_id", "unit_id", "section"]),
              lambda: block_codes(sheet, ["source_id", "unit_id"])]
    for g in change_groups:
        ch = _num(sheet, f"{g}_change")
        v = _num(sheet, g)
        rows = np.flatnonzero(~np.isnan(ch) & ~np.isnan(v) & (p_prev >= 0))
        if not rows.size:
            continue
        has = ~np.isnan(v)
        dec = _num(sheet, f"{g}_decimals")
        prev_pos = np.full(rows.size, -1, dtype=np.int64)   # row printing the previous value
        for i in range(len(series)):  # same section first, then any section of the source
            todo = prev_pos < 0
            if not todo.any():
                break
            if callable(series[i]):
                series[i] = series[i]()
            codes = series[i]
            table_keys = np.where(has, codes * n_p + p_now, -1)
            want = np.where(todo, codes[rows] * n_p + p_prev[rows], -1)
            found = _lookup_pos(want, table_keys)
            prev_pos = np.where(todo, found, prev_pos)
        ok = prev_pos >= 0
        r, pr = rows[ok], prev_pos[ok]
        prev_v = v[pr]
        expected = v[r] - prev_v
        tol = _half_units(dec[r], md) + _half_units(dec[pr], md)
        # a change printed with d decimals adds half a unit of its own: only the rows beyond the
        # rounding of the two values can be beyond it too (the tolerance only grows)
        cand = np.flatnonzero(np.abs(ch[r] - expected) > tol + _EPS)
        tol = tol[cand] + half_unit(decimals_of(ch[r[cand]]), md)
        bad = np.abs(ch[r[cand]] - expected[cand]) > tol + _EPS
        k = cand[bad]
        if not k.size:
            continue
        ri = r[k]
        prev_sec = _take(sheet, "section", pr[k])
        msg = (g + " change " + _fmt(ch[ri]) + " but " + _fmt(v[ri]) + " − " + _fmt(prev_v[k]) + " ("
               + _text(prev_ids[p_codes[ri]]) + ", section '" + _text(prev_sec) + "') = " + _fmt(expected[k]))
        out.append(_findings("change", unit_id=_take(sheet, "unit_id", ri), period_id=_take(sheet, "period_id", ri),
                             source_id=_take(sheet, "source_id", ri), section=_take(sheet, "section", ri),
                             published=ch[ri], expected=expected[k], tolerance=tol[bad], severity="error",
                             message=msg, order=order[ri]))
    return out


def _check_cross_section(sheet, groups, md, order) -> list[pd.DataFrame]:
    out = []
    key = block_codes(sheet, ["source_id", "unit_id", "period_id"])
    dup = np.bincount(key)[key] > 1   # the codes are bounded by about twice the rows
    if not dup.any():
        return out
    idx = np.flatnonzero(dup)
    k = key[idx]
    for g in groups:
        v = _num(sheet, g)[idx]
        d = _num(sheet, f"{g}_decimals")[idx]
        has = ~np.isnan(v)
        if has.sum() < 2:
            continue
        hi_, kk = idx[has], k[has]
        first_pos = pd.Series(hi_).groupby(kk, sort=False).transform("first").to_numpy()
        fv = _num(sheet, g)[first_pos]
        fd = _num(sheet, f"{g}_decimals")[first_pos]
        tol = half_unit(d[has], md) + half_unit(fd, md)
        bad = (hi_ != first_pos) & (np.abs(v[has] - fv) > tol + _EPS)
        j = np.flatnonzero(bad)
        if not j.size:
            continue
        ri, fp = hi_[j], first_pos[j]
        msg = (g + " " + _fmt(v[has][j]) + " in section '" + _text(_take(sheet, "section", ri)) + "' but "
               + _fmt(fv[j]) + " in section '" + _text(_take(sheet, "section", fp)) + "' of the same report")
        out.append(_findings("cross_section", unit_id=_take(sheet, "unit_id", ri), period_id=_take(sheet, "period_id", ri),
                             source_id=_take(sheet, "source_id", ri), section=_take(sheet, "section", ri),
                             published=v[has][j], expected=fv[j], tolerance=tol[j], severity="error",
                             message=msg, order=order[ri]))
    return out


def _check_range(sheet, groups, order) -> list[pd.DataFrame]:
    out = []
    for g in groups:
        v = _num(sheet, g)
        bad = v < -_EPS
        if g == "TOTAL":
            bad |= v > 100 + _EPS
        idx = np.flatnonzero(bad)
        if not idx.size:
            continue
        expected = np.where(v[idx] < 0, 0.0, 100.0)
        msg = g + " " + _fmt(v[idx]) + " is outside 0–" + ("100" if g == "TOTAL" else "its maximum")
        out.append(_findings("total_range", unit_id=_take(sheet, "unit_id", idx), period_id=_take(sheet, "period_id", idx),
                             source_id=_take(sheet, "source_id", idx), section=_take(sheet, "section", idx),
                             published=v[idx], expected=expected, tolerance=0.0, severity="error",
                             message=msg, order=order[idx]))
    return out


def _recompute_findings(frame: pd.DataFrame, md: int) -> pd.DataFrame:
    """Findings from a table of published vs recomputed points (``recompute_group_points`` with
    scores, or its sheet equivalent)."""
    f = frame.loc[frame["published"].notna()]
    if f.empty:
        return _empty()
    pub = f["published"].to_numpy(dtype=float)
    tol = f["tolerance"].to_numpy(dtype=float) + half_unit(f["published_decimals"].to_numpy(dtype=float, na_value=np.nan), md)
    complete = f["complete"].to_numpy(dtype=bool)
    rec = f["recomputed"].to_numpy(dtype=float)
    lower, upper = f["lower"].to_numpy(dtype=float), f["upper"].to_numpy(dtype=float)
    status = f["rule_status"].to_numpy(dtype=object)
    known = status != "unknown"
    points = complete & known & (np.abs(pub - rec) > tol + _EPS)
    bounds = ~complete & known & ((pub < lower - tol - _EPS) | (pub > upper + tol + _EPS))
    frames = []
    for mask, check in ((points, "recomputed_points"), (bounds, "recomputed_bounds")):
        k = np.flatnonzero(mask)
        if not k.size:
            continue
        sub = f.iloc[k]
        if check == "recomputed_points":
            expected = rec[k]
            msg = (sub["group"].astype(str) + " " + _fmt(pub[k]).to_numpy() + " printed, but the "
                   + sub["scheme_version"].astype(str) + " rules give " + _fmt(rec[k]).to_numpy() + " from "
                   + sub["used"].astype(str) + " (" + sub["rule_status"].astype(str) + " rule)")
        else:
            expected = np.where(pub[k] < lower[k], lower[k], upper[k])
            msg = (sub["group"].astype(str) + " " + _fmt(pub[k]).to_numpy() + " printed, outside the range "
                   + _fmt(lower[k]).to_numpy() + "–" + _fmt(upper[k]).to_numpy() + " allowed by "
                   + sub["used"].astype(str) + " (not printed: " + sub["missing"].astype(str) + "; "
                   + sub["rule_status"].astype(str) + " rules)")
        frames.append(_findings(check, unit_id=sub["unit_id"].to_numpy(), period_id=sub["period_id"].to_numpy(),
                                source_id=sub["source_id"].to_numpy(), section=sub["section"].to_numpy(),
                                published=pub[k], expected=expected, tolerance=tol[k],
                                severity=_severity_of(status[k]), message=msg,
                                order=sub["_order"].to_numpy() if "_order" in sub.columns else 0))
    return pd.concat(frames, ignore_index=True) if frames else _empty()


def _check_recompute_sheet(sheet, groups, row_version, schemes, md, order) -> list[pd.DataFrame]:
    """Recompute group points from indicator-rate columns carried by the sheet itself."""
    catalog = set(indicator_catalog().index)
    if not any(c in catalog for c in sheet.columns):
        return []
    out = []
    for version, s in schemes.items():
        if len(schemes) == 1:
            sel, rates = np.arange(len(sheet)), sheet
        else:
            sel = np.flatnonzero(row_version == version)
            if not sel.size:
                continue
            rates = sheet.iloc[sel]
        result = _recompute_arrays(rates, s, explain=False, groups=groups, statuses=False)
        for g, res in result.items():
            if g not in groups:
                continue
            pub = _num(rates, g)
            use = res["any_rate"] & ~np.isnan(pub)
            if not use.any():
                continue
            tol = res["tolerance"] + _half_units(_num(rates, f"{g}_decimals"), md)
            comp, rec, lo, hi = res["complete"], res["recomputed"], res["lower"], res["upper"]
            use &= res["_status"] != 2   # a rule of unknown status contradicts nothing
            if comp.all():   # every sub-indicator printed: compare the points themselves
                flag = np.abs(pub - rec) > tol + _EPS
            elif not comp.any():   # never complete: the bounds only
                flag = (pub < lo - tol - _EPS) | (pub > hi + tol + _EPS)
            else:
                flag = ((comp & (np.abs(pub - rec) > tol + _EPS))
                        | (~comp & ((pub < lo - tol - _EPS) | (pub > hi + tol + _EPS))))
            flag &= use
            k = np.flatnonzero(flag)
            if not k.size:
                continue
            # explanations (which rates were used, which are missing) only for the flagged rows
            detail = recompute_wide(rates.iloc[k], s, groups=[g])[g]
            rows = sel[k]
            frame = pd.DataFrame({"unit_id": _take(sheet, "unit_id", rows), "period_id": _take(sheet, "period_id", rows),
                                  "source_id": _take(sheet, "source_id", rows), "section": _take(sheet, "section", rows),
                                  "group": g, "published": pub[k], "published_decimals": _num(rates, f"{g}_decimals")[k],
                                  "scheme_version": s.version, "_order": order[rows]})
            for c in ("recomputed", "lower", "upper", "complete", "tolerance", "rule_status", "used", "missing"):
                frame[c] = detail[c].to_numpy()
            out.append(_recompute_findings(frame, md))
    return out


def audit_sheet(sheet: pd.DataFrame, *, scheme: Scheme | None = None,
                periods: pd.DataFrame | None = None) -> pd.DataFrame:
    """Audit a wide sheet of published scores (one row per source × section × unit × period).

    The score checks of :func:`audit`: totals vs groups, values above their maxima, column
    headers, bands, ranks (inside each section), changes, the same figure in two sections, the
    range of totals, and, when the sheet carries indicator-rate columns (``on_time_rate`` …),
    recomputed points. Vectorised: the cost grows linearly with the rows (plus sorting).

    Parameters
    ----------
    sheet : DataFrame
        As made by :func:`analysis.scoring.to_sheet` or :func:`analysis.synthetic.score_sheet`.
    scheme : Scheme, optional
        Default: the version valid for each row's period.
    periods : DataFrame, optional
        Periods table (week cut-offs).

    Returns
    -------
    DataFrame
        Findings with columns FINDING_COLUMNS.

    Examples
    --------
    >>> sheet = pd.DataFrame({"source_id": "s", "section": "I", "unit_id": "u", "period_id": "2024-07",
    ...     "CKMB": [14.6], "TDGQ": [17.3], "ONLINE": [6.6], "TTTT": [8.0], "MDHL": [17.8], "MDSH": [14.9],
    ...     "TOTAL": [87.15], "TOTAL_decimals": [2]})
    >>> audit_sheet(sheet)[["check", "published", "expected"]].round(2).values.tolist()
    [['total_vs_groups', 87.15, 79.2]]
    """
    for c in KEY:
        if c not in sheet.columns:
            raise ParameterError(f"audit_sheet: missing column '{c}'; a sheet needs {', '.join(KEY)}")
    sheet = sheet.reset_index(drop=True)
    if sheet.empty:   # no printed scores (a data directory of indicators only): nothing to contradict
        return _finish([])
    row_version, schemes = _schemes_for(sheet["period_id"], scheme)
    md = _missing_decimals(schemes)
    header_rule = (min(int(s.audit.get("header_conflict_min_values", 2)) for s in schemes.values()),
                   min(float(s.audit.get("header_conflict_min_share", 0.5)) for s in schemes.values()))
    groups = [g for g in GROUP_CODES if g in sheet.columns]
    order = np.arange(len(sheet), dtype=float)
    parts = [_check_totals(sheet, groups, md, order)]
    src_sec = block_codes(sheet, ["source_id", "section"])
    parts += _check_max(sheet, groups, row_version, schemes, header_rule, order, src_sec)
    parts += _check_bands(sheet, groups, row_version, schemes, md, order)
    parts += _check_ranks(sheet, groups, md, order)
    parts += _check_changes(sheet, groups, periods, md, order)
    parts += _check_cross_section(sheet, groups, md, order)
    parts += _check_range(sheet, groups, order)
    parts += _check_recompute_sheet(sheet, groups, row_version, schemes, md, order)
    return _finish(parts)


def _finish(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty().drop(columns="_order")
    out = pd.concat(parts, ignore_index=True)
    check_rank = {c: i for i, c in enumerate(CHECKS)}
    out["_check"] = out["check"].map(check_rank)
    out = out.sort_values(["_order", "_check"], kind="stable").drop(columns=["_order", "_check"])
    return out.reset_index(drop=True)[list(FINDING_COLUMNS)]


# ---------------------------------------------------------------------------------------------
# checks on the indicators table

def _ancestors(units: pd.DataFrame) -> pd.DataFrame:
    """(unit_id, ancestor_id) for every ancestor of every unit."""
    parent = units.set_index("unit_id")["parent_id"]
    frames, current = [], pd.Series(units["unit_id"].to_numpy(), index=units["unit_id"].to_numpy())
    up = current.map(parent)
    while up.notna().any():
        frames.append(pd.DataFrame({"unit_id": up.index[up.notna()], "ancestor_id": up[up.notna()].to_numpy()}))
        up = up.map(parent)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["unit_id", "ancestor_id"])


class _Coded:
    """The text columns of one table as integer codes, each column factorized once per audit
    (comparing and grouping codes is far cheaper than comparing pandas strings, again and again).

    ``is_(column, value)`` and ``isin(column, values)`` are the boolean arrays of
    ``table[column] == value`` and ``table[column].isin(values)`` (a missing value equals nothing);
    ``key(column)`` is the ``(codes, number of codes)`` pair that :func:`_combine_codes` takes,
    where a missing value has a code of its own, as in :func:`analysis.scoring.block_codes`."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self._factorized: dict = {}

    def _factorize(self, column: str):
        if column not in self._factorized:
            codes, uniques = pd.factorize(self.table[column].to_numpy(dtype=object))
            self._factorized[column] = (codes, {v: i for i, v in enumerate(uniques.tolist())}, uniques.tolist())
        return self._factorized[column]

    def contains(self, column: str, text: str) -> np.ndarray:
        """True where the value (not missing), as text, contains ``text``."""
        codes, _, names = self._factorize(column)
        wanted = np.array([text in str(v) for v in names] + [False], dtype=bool)
        return wanted[codes]

    def present(self, column: str, rows: np.ndarray) -> list:
        """The values (not missing) that the column takes in the rows of a boolean mask."""
        codes, _, names = self._factorize(column)
        return [names[i] for i in np.unique(codes[rows]).tolist() if i >= 0]

    def is_(self, column: str, value) -> np.ndarray:
        codes, position, _ = self._factorize(column)
        return codes == position.get(value, -2)

    def isin(self, column: str, values) -> np.ndarray:
        codes, position, names = self._factorize(column)
        wanted = np.zeros(len(names) + 1, dtype=bool)   # the last entry: code -1 (missing)
        wanted[[position[v] for v in values if v in position]] = True
        return wanted[codes]

    def key(self, column: str, blank_is_missing: bool = False) -> tuple[np.ndarray, int]:
        """Codes for grouping: missing values share a code (with ``blank_is_missing``, the code
        of "" too: the column as ``fillna("")`` would group it)."""
        codes, position, names = self._factorize(column)
        n = len(names)
        missing = n if not blank_is_missing else position.get("", n)
        return np.where(codes < 0, missing, codes).astype(np.int64), n + 1


def _first_of_key(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """True for the first row of each key (missing values equal each other): what
    ``drop_duplicates(subset=columns, keep="first")`` keeps, on integer codes of the columns."""
    code = _combine_codes([df[c] for c in columns], len(df))
    keep = np.zeros(len(df), dtype=bool)
    keep[np.unique(code, return_index=True)[1]] = True
    return keep


def _group_agg(df: pd.DataFrame, key: list[str], **aggs) -> pd.DataFrame:
    """``df.groupby(key, sort=False).agg(**aggs).reset_index()``, grouped on one integer code of
    the key columns (coded once each) instead of the columns themselves: the same groups, in
    the same order, with the same aggregations (``sum`` of floats, ``size``, ``first``, ``min``;
    a sum adds a group's values in row order with pandas' compensated summation, so it is the
    same number); rows with a missing key part are left out."""
    # each key column coded once (code -1: missing), which also tells the rows to leave out
    coded = [pd.factorize(df[c].to_numpy(dtype=object))[0].astype(np.int64) for c in key]
    valid = np.logical_and.reduce([c >= 0 for c in coded]) if len(df) else np.ones(0, dtype=bool)
    every = bool(valid.all())
    rows = df if every else df.loc[valid]
    code = _combine_codes([(c if every else c[valid], int(c.max(initial=-1)) + 1) for c in coded], len(rows))
    group, uniques = pd.factorize(code)            # in order of first appearance
    n = len(uniques)
    by = np.argsort(group, kind="stable")          # each group's rows together, in row order
    starts = np.flatnonzero(np.r_[True, np.diff(group[by]) != 0]) if len(by) else np.zeros(0, dtype=np.int64)
    first = by[starts]
    out = {}
    for name, (column, func) in aggs.items():
        if func == "size":
            out[name] = np.bincount(group, minlength=n).astype(np.int64)
        elif func == "sum" and rows[column].dtype == np.float64:
            out[name] = _kahan_sums(group, by, starts, rows[column].to_numpy(), n)
        elif func == "first":   # the first value present of each group
            values = rows[column]
            have = values.notna().to_numpy()
            at = np.full(n, len(rows), dtype=np.int64)
            np.minimum.at(at, group[have], np.flatnonzero(have))
            taken = values.to_numpy(dtype=object)[np.minimum(at, max(len(rows) - 1, 0))]
            out[name] = np.where(at < len(rows), taken, np.nan) if n else taken
        elif func == "min" and rows[column].dtype == np.float64:
            v = rows[column].to_numpy()
            low = np.full(n, np.inf)
            np.fmin.at(low, group, v)
            seen = np.zeros(n, dtype=bool)
            seen[group[~np.isnan(v)]] = True
            out[name] = np.where(seen, low, np.nan)
        else:
            g = rows.groupby(group, sort=True)
            out[name] = (g.size() if func == "size" else getattr(g[column], func)()).to_numpy()
    keys = rows[key].iloc[first[np.argsort(group[first])]] if n else rows[key].iloc[[]]
    return pd.concat([keys.reset_index(drop=True), pd.DataFrame(out)], axis=1)


def _kahan_sums(group: np.ndarray, by: np.ndarray, starts: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per group, the sum of its values (NaN skipped) in row order with the compensated
    summation of pandas' grouped sum, step for step: the same floating-point result."""
    sums, comp = np.zeros(n), np.zeros(n)
    if not len(by):
        return sums
    rank = np.arange(len(by)) - np.repeat(starts, np.diff(np.r_[starts, len(by)]))
    for j in range(int(rank.max()) + 1):   # the j-th row of every group at once
        rows = by[rank == j]
        v = values[rows]
        ok = ~np.isnan(v)
        g, v = group[rows][ok], v[ok]
        y = v - comp[g]
        t = sums[g] + y
        c = t - sums[g] - y
        c[c != c] = 0.0   # inf - inf
        comp[g] = c
        sums[g] = t
    return sums


@lru_cache(maxsize=None)
def _share_sets() -> tuple[pd.Series, pd.Series]:
    """(share set of each indicator that has one, number of members of each set), from the
    indicator catalog (itself read once per process)."""
    sets = indicator_catalog()["share_set"].replace("", np.nan).dropna()
    return sets, sets.value_counts()


def _check_shares(ind: pd.DataFrame, coded: _Coded, md: int) -> list[pd.DataFrame]:
    sets, size = _share_sets()
    in_sets = coded.isin("indicator", sets.index)
    is_pct, is_count = coded.is_("measure", "percent"), coded.is_("measure", "count")
    out = []
    shares = is_pct & in_sets
    if not shares.any():   # no share of a set printed: nothing to check
        return out
    # Only share sets with two members printed as shares, or with counts printed, can be
    # contradicted (a set sum needs m >= 2 members of one key; the shares-vs-counts checks need
    # counts): the other sets' rows are left out before grouping. A set is kept or dropped whole,
    # so every key of a kept set has all its rows, and the groups keep their order.
    members = Counter(sets[i] for i in coded.present("indicator", shares))
    checkable = ({name for name, m in members.items() if m >= 2}
                 | {sets[i] for i in coded.present("indicator", is_count & in_sets)})
    pct = ind.loc[is_pct & coded.isin("indicator", sets.index[sets.isin(checkable)])]   # a new frame
    if len(pct):
        out += _check_share_sets(ind, pct, sets, size, in_sets, is_count, md)
    # a count printed over its denominator beside a share of the same indicator
    with_den = is_count & (ind["denominator"].notna() & (ind["denominator"] > 0)).to_numpy()
    if with_den.any():
        frac = ind.loc[with_den]
        p2 = ind.loc[is_pct].drop_duplicates(
            subset=["source_id", "unit_id", "period_id", "indicator", "category"], keep="first")
        m = frac.merge(p2[["source_id", "unit_id", "period_id", "indicator", "category", "value", "decimals", "section", "_order"]],
                       on=["source_id", "unit_id", "period_id", "indicator", "category"], suffixes=("_c", ""))
        if len(m):
            expected = 100 * m["value_c"] / m["denominator"]
            tol = half_unit(m["decimals"].to_numpy(dtype=float, na_value=np.nan), md)
            bad = ((m["value"] - expected).abs() > tol + _EPS).to_numpy()
            b = m.loc[bad]
            if len(b):
                e = expected[bad]
                msg = (b["indicator"] + " " + _fmt(b["value"]).to_numpy() + "% printed, but "
                       + _fmt(b["value_c"]).to_numpy() + "/" + _fmt(b["denominator"]).to_numpy() + " = " + _fmt(e).to_numpy() + "%")
                out.append(_findings("share_from_counts", unit_id=b["unit_id"].to_numpy(), period_id=b["period_id"].to_numpy(),
                                     source_id=b["source_id"].to_numpy(), section=b["section"].to_numpy(),
                                     published=b["value"].to_numpy(), expected=e.to_numpy(), tolerance=tol[bad],
                                     severity="error", message=msg, order=b["_order"].to_numpy()))
    return out


def _check_share_sets(ind, pct, sets, size, in_sets, is_count, md) -> list[pd.DataFrame]:
    """Share sets that do not add up to 100%, and shares against the counts of their set."""
    out = []
    key = ["source_id", "unit_id", "period_id", "category_k", "share_set"]
    pct["share_set"] = pct["indicator"].map(sets)
    pct["category_k"] = pct["category"].fillna("")
    pct = pct.loc[_first_of_key(pct, ["source_id", "unit_id", "period_id", "category_k", "indicator"])]
    pct["h"] = half_unit(pct["decimals"].to_numpy(dtype=float, na_value=np.nan), md)
    agg = _group_agg(pct, key, total=("value", "sum"), m=("indicator", "size"), tol=("h", "sum"),
                     section=("section", "first"), order=("_order", "min"))
    agg["M"] = agg["share_set"].map(size)
    full = agg["m"] == agg["M"]
    bad = (agg["m"] >= 2) & ((full & ((agg["total"] - 100).abs() > agg["tol"] + _EPS))
                             | (~full & (agg["total"] > 100 + agg["tol"] + _EPS)))
    a = agg.loc[bad]
    if len(a):
        # names of the members and sections, only for the sets that fail
        flagged = pct.merge(a[key], on=key)
        a = a.merge(flagged.groupby(key, sort=False).agg(
            members=("indicator", " + ".join),
            sections=("section", lambda s: "; ".join(pd.unique(s)))).reset_index(), on=key)
        a["section"] = a["sections"]
        msg = ("shares of set '" + a["share_set"] + "' (" + a["members"] + ") add up to "
               + _fmt(a["total"]).to_numpy() + "%, not 100%" + np.where(a["m"] == a["M"], "", " (some members not printed)"))
        out.append(_findings("share_sum", unit_id=a["unit_id"].to_numpy(), period_id=a["period_id"].to_numpy(),
                             source_id=a["source_id"].to_numpy(), section=a["section"].to_numpy(),
                             published=a["total"].to_numpy(), expected=100.0, tolerance=a["tol"].to_numpy(),
                             severity="error", message=msg, order=a["order"].to_numpy()))
    # shares vs the counts printed beside them: count / (sum of the set's counts), when the
    # printed shares show that the counts present are the whole set
    if (is_count & in_sets).any():
        cnt = ind.loc[is_count & in_sets]   # a new frame
        cnt["share_set"] = cnt["indicator"].map(sets)
        cnt["category_k"] = cnt["category"].fillna("")
        cnt = cnt.drop_duplicates(subset=["source_id", "unit_id", "period_id", "category_k", "indicator"], keep="first")
        sums = cnt.groupby(key, sort=False)["value"].agg(["sum", "size"]).reset_index()
        both = pct.merge(cnt[["source_id", "unit_id", "period_id", "category_k", "indicator", "value"]],
                         on=["source_id", "unit_id", "period_id", "category_k", "indicator"], suffixes=("", "_count"))
        both = both.merge(sums, on=key).merge(agg[key + ["m", "M", "total", "tol"]], on=key)
        whole = (both["size"] == both["M"]) | ((both["size"] == both["m"]) & ((both["total"] - 100).abs() <= both["tol"] + _EPS))
        both = both.loc[whole & (both["sum"] > 0)]
        expected = 100 * both["value_count"] / both["sum"]
        tol = both["h"] + 1e-6
        bad = (both["value"] - expected).abs() > tol + _EPS
        b = both.loc[bad]
        if len(b):
            e = expected[bad]
            msg = (b["indicator"] + " " + _fmt(b["value"]).to_numpy() + "% printed, but the counts give "
                   + _fmt(b["value_count"]).to_numpy() + " / " + _fmt(b["sum"]).to_numpy() + " = " + _fmt(e).to_numpy() + "%")
            out.append(_findings("share_from_counts", unit_id=b["unit_id"].to_numpy(), period_id=b["period_id"].to_numpy(),
                                 source_id=b["source_id"].to_numpy(), section=b["section"].to_numpy(),
                                 published=b["value"].to_numpy(), expected=e.to_numpy(), tolerance=tol[bad].to_numpy(),
                                 severity="error", message=msg, order=b["_order"].to_numpy()))
    return out


def _breakdown_rows(ind: pd.DataFrame, coded: _Coded, ancestors) -> np.ndarray:
    """True for a count row of a unit printed in a section that also lists its sub-units for the
    same figure: there the unit's row is its own share (e.g. a city's one-stop office), not the whole.
    ``ancestors()`` gives :func:`_ancestors` of the units (only asked for when there are counts)."""
    keys = ["source_id", "section", "period_id", "indicator", "measure"]
    is_count = coded.is_("measure", "count")
    if not is_count.any():
        return np.zeros(len(ind), dtype=bool)
    counts = ind.loc[is_count]
    child = counts.merge(ancestors(), on="unit_id")[keys + ["ancestor_id"]].drop_duplicates()
    child = child.rename(columns={"ancestor_id": "unit_id"})
    flag = counts[keys + ["unit_id"]].reset_index().merge(child, on=keys + ["unit_id"], how="inner")["index"]
    return ind.index.isin(flag.to_numpy())


def _check_indicator_cross_section(ind: pd.DataFrame, coded: _Coded, own_part: np.ndarray,
                                   md: int) -> list[pd.DataFrame]:
    key = ["source_id", "unit_id", "period_id", "indicator", "measure", "category_k", "block_k"]
    # rows whose key another row shares (missing values equal each other; a missing category or
    # block equals "", as filled below), on the integer codes of the whole table's columns
    rows = np.flatnonzero(~own_part)
    columns = [coded.key(c) for c in key[:5]] + [coded.key(c, blank_is_missing=True) for c in ("category", "block")]
    group = pd.factorize(_combine_codes([(codes[rows], n) for codes, n in columns], len(rows)))[0]
    dup = np.bincount(group, minlength=1)[group] > 1 if len(rows) else np.zeros(0, dtype=bool)
    if not dup.any():
        return []
    df = ind.iloc[rows[dup]].copy()
    df["category_k"], df["block_k"] = df["category"].fillna(""), df["block"].fillna("")
    first = df.groupby(key, sort=False)[["value", "decimals", "section"]].transform("first")
    h = half_unit(df["decimals"].to_numpy(dtype=float, na_value=np.nan), md)
    hf = half_unit(first["decimals"].to_numpy(dtype=float, na_value=np.nan), md)
    exact = (df["measure"] == "count").to_numpy()
    tol = np.where(exact, 0.0, h + hf)
    bad = (df["section"] != first["section"]).to_numpy() & (np.abs(df["value"] - first["value"]).to_numpy() > tol + _EPS)
    b, fb = df.loc[bad], first.loc[bad]
    if b.empty:
        return []
    msg = (b["indicator"] + " (" + b["measure"] + ") " + _fmt(b["value"]).to_numpy() + " in section '" + b["section"]
           + "' but " + _fmt(fb["value"]).to_numpy() + " in section '" + fb["section"] + "' of the same report")
    return [_findings("cross_section", unit_id=b["unit_id"].to_numpy(), period_id=b["period_id"].to_numpy(),
                      source_id=b["source_id"].to_numpy(), section=b["section"].to_numpy(),
                      published=b["value"].to_numpy(), expected=fb["value"].to_numpy(), tolerance=tol[bad],
                      severity="error", message=msg, order=b["_order"].to_numpy())]


def _check_parts(ind: pd.DataFrame, coded: _Coded, units: pd.DataFrame, ancestors,
                 own_part: np.ndarray) -> list[pd.DataFrame]:
    """Counts of sub-units (in one section) against the unit's count printed in another section."""
    fig = ["source_id", "period_id", "indicator", "measure", "category_k", "block_k"]
    counts = ind.loc[coded.is_("measure", "count") & ~coded.isin("indicator", NON_ADDITIVE_COUNTS)].copy()
    if counts.empty:
        return []
    anc = ancestors()
    counts["category_k"], counts["block_k"] = counts["category"].fillna(""), counts["block"].fillna("")
    level = units.set_index("unit_id")["level"]
    desc = counts.merge(anc, on="unit_id")
    # a whole counted over units of one level (block) is compared with rows of that level only
    desc = desc.loc[(desc["block_k"] == "") | (desc["unit_id"].map(level) == desc["block_k"])]
    sums = desc.groupby(fig + ["ancestor_id", "section"], sort=False)["value"].agg(["sum", "size"]).reset_index()
    own = counts.loc[own_part[counts.index.to_numpy()]]   # ``ind`` has a RangeIndex: index = position
    own = own[fig + ["unit_id", "section", "value"]].rename(columns={"unit_id": "ancestor_id", "value": "own"})
    sums = sums.merge(own, on=fig + ["ancestor_id", "section"], how="left")
    wholes = counts.loc[~own_part[counts.index.to_numpy()]].rename(columns={"unit_id": "ancestor_id"})
    m = wholes.merge(sums, on=fig + ["ancestor_id"], suffixes=("", "_parts"))
    m = m.loc[m["section"] != m["section_parts"]]
    if m.empty:
        return []
    with_own = m["own"].notna()
    expected = m["sum"] + m["own"].fillna(0)
    bad = (with_own & ((m["value"] - expected).abs() > _EPS)) | (~with_own & (m["sum"] > m["value"] + _EPS))
    b = m.loc[bad]
    if b.empty:
        return []
    e = expected[bad]
    msg = (b["indicator"] + " " + _fmt(b["value"]).to_numpy() + " for the unit, but section '" + b["section_parts"]
           + "' lists " + b["size"].astype(int).astype(str) + " sub-units adding up to " + _fmt(b["sum"]).to_numpy()
           + np.where(with_own[bad], " plus the unit's own " + _fmt(b["own"]).to_numpy(), " (more than the whole)"))
    return [_findings("parts_sum", unit_id=b["ancestor_id"].to_numpy(), period_id=b["period_id"].to_numpy(),
                      source_id=b["source_id"].to_numpy(), section=b["section"].to_numpy(),
                      published=b["value"].to_numpy(), expected=e.to_numpy(), tolerance=0.0, severity="error",
                      message=msg, order=b["_order"].to_numpy())]


def _check_unit_counts(ind: pd.DataFrame, coded: _Coded, scores: pd.DataFrame, units: pd.DataFrame, ancestors,
                       md: int) -> list[pd.DataFrame]:
    """Units per band against their whole and against the bands of a table; highest/lowest totals
    of a block against the table of that block."""
    out = []
    is_ub = coded.is_("indicator", "units_by_band")
    is_ext = coded.isin("indicator", ["unit_total_max", "unit_total_min"])
    if not (is_ub.any() or is_ext.any()):   # no such figure printed: the tables are not needed
        return out
    level = units.set_index("unit_id")["level"]
    totals = scores.loc[(scores["group"] == "TOTAL") & scores["value"].notna()].copy()
    totals["level"] = totals["unit_id"].map(level)
    tot_anc = totals.merge(ancestors(), on="unit_id")
    ub = ind.loc[is_ub].copy()
    if len(ub):
        ub["block_k"] = ub["block"].fillna("")
        agg = ub.groupby(["source_id", "section", "unit_id", "period_id", "block_k"], sort=False).agg(
            total=("value", "sum"), den_min=("denominator", "min"), den_max=("denominator", "max"),
            order=("_order", "min")).reset_index()
        over = agg.loc[agg["den_min"].notna() & (agg["den_min"] == agg["den_max"]) & (agg["total"] != agg["den_min"])]
        if len(over):
            sev = np.where(over["total"] > over["den_min"], "error", "info").astype(object)
            msg = ("units by band add up to " + _fmt(over["total"]).to_numpy() + " of " + _fmt(over["den_min"]).to_numpy()
                   + " " + over["block_k"] + " units" + np.where(sev == "error", "", " (some bands not printed)"))
            out.append(_findings("units_by_band", unit_id=over["unit_id"].to_numpy(), period_id=over["period_id"].to_numpy(),
                                 source_id=over["source_id"].to_numpy(), section=over["section"].to_numpy(),
                                 published=over["total"].to_numpy(), expected=over["den_min"].to_numpy(),
                                 tolerance=0.0, severity=sev, message=msg, order=over["order"].to_numpy()))
        banded = tot_anc.loc[tot_anc["band"].notna()]
        if len(banded):
            counted = (banded.groupby(["source_id", "period_id", "ancestor_id", "level", "section", "band"], sort=False)
                       .size().rename("n_band").reset_index())
            listed = (banded.groupby(["source_id", "period_id", "ancestor_id", "level", "section"], sort=False)
                      .size().rename("n_listed").reset_index())
            m = ub.merge(listed, left_on=["source_id", "period_id", "unit_id", "block_k"],
                         right_on=["source_id", "period_id", "ancestor_id", "level"], suffixes=("", "_table"))
            m = m.merge(counted, left_on=["source_id", "period_id", "unit_id", "block_k", "section_table", "category"],
                        right_on=["source_id", "period_id", "ancestor_id", "level", "section", "band"],
                        how="left", suffixes=("", "_c"))
            m["n_band"] = m["n_band"].fillna(0)
            complete_table = m["denominator"].notna() & (m["n_listed"] == m["denominator"])
            bad = (complete_table & (m["n_band"] != m["value"])) | (~complete_table & (m["n_band"] > m["value"]))
            b = m.loc[bad]
            if len(b):
                msg = ("'" + b["category"] + "': " + _fmt(b["value"]).to_numpy() + " " + b["block_k"]
                       + " units printed, but the table in section '" + b["section_table"] + "' shows "
                       + _fmt(b["n_band"]).to_numpy() + " of its " + _fmt(b["n_listed"]).to_numpy() + " units with that band")
                out.append(_findings("units_by_band", unit_id=b["unit_id"].to_numpy(), period_id=b["period_id"].to_numpy(),
                                     source_id=b["source_id"].to_numpy(), section=b["section"].to_numpy(),
                                     published=b["value"].to_numpy(), expected=b["n_band"].to_numpy(), tolerance=0.0,
                                     severity="error", message=msg, order=b["_order"].to_numpy()))
    ext = ind.loc[is_ext].copy()
    if len(ext) and len(tot_anc):
        ext["block_k"] = ext["block"].fillna("")
        tot_anc["h"] = half_unit(tot_anc["decimals"].to_numpy(dtype=float, na_value=np.nan), md)
        stats = tot_anc.groupby(["source_id", "period_id", "ancestor_id", "level", "section"], sort=False).agg(
            top=("value", "max"), bottom=("value", "min"), h=("h", "max"), n=("value", "size")).reset_index()
        m = ext.merge(stats, left_on=["source_id", "period_id", "unit_id", "block_k"],
                      right_on=["source_id", "period_id", "ancestor_id", "level"], suffixes=("", "_table"))
        m = m.loc[m["n"] >= 2]
        if len(m):
            is_max = (m["indicator"] == "unit_total_max").to_numpy()
            table = np.where(is_max, m["top"], m["bottom"])
            tol = m["h"].to_numpy() + half_unit(m["decimals"].to_numpy(dtype=float, na_value=np.nan), md)
            v = m["value"].to_numpy(dtype=float)
            # a table value beyond the printed extreme is a contradiction; the reverse may be a partial table
            contradiction = np.where(is_max, table > v + tol + _EPS, table < v - tol - _EPS)
            partial = np.where(is_max, table < v - tol - _EPS, table > v + tol + _EPS)
            sev = np.where(contradiction, "error", "warning").astype(object)
            k = np.flatnonzero(contradiction | partial)
            if k.size:
                b = m.iloc[k]
                msg = (np.where(is_max[k], "highest", "lowest") + " total of the block printed as " + _fmt(v[k]).to_numpy()
                       + ", but the table in section '" + b["section_table"].to_numpy() + "' has " + _fmt(table[k]).to_numpy())
                out.append(_findings("block_extreme", unit_id=b["unit_id"].to_numpy(), period_id=b["period_id"].to_numpy(),
                                     source_id=b["source_id"].to_numpy(), section=b["section"].to_numpy(),
                                     published=v[k], expected=table[k], tolerance=tol[k], severity=sev[k],
                                     message=msg, order=b["_order"].to_numpy()))
    return out


# ---------------------------------------------------------------------------------------------

def _disagreeing_keys(ind: pd.DataFrame, scores: pd.DataFrame, scheme: Scheme | None, md: int,
                      by: list[str]) -> pd.DataFrame | None:
    """The keys (``by``) where points recomputed from the rates disagree with a printed group:
    the keys of ``_recompute_findings(recompute_group_points(ind, scheme, scores=scores,
    explain=False), md)``, worked out on arrays instead of that table (which has a row per key,
    group and printed row, and is thrown away when nothing disagrees, the usual case).

    Each printed group (a score row with a value) meets the recomputation of its key and group,
    if any (the wide table has one row per key): the same pairs as the left join of
    :func:`recompute_group_points`, with the same tests as :func:`_recompute_findings`. None
    when a key column has a missing value (the caller then goes through the tables)."""
    pub_rows = np.flatnonzero(scores["value"].notna().to_numpy())
    pub = {c: scores[c].to_numpy(dtype=object)[pub_rows] for c in by}
    if any(pd.isna(v).any() for v in pub.values()) or ind[by].isna().to_numpy().any():
        return None
    pub_group = scores["group"].to_numpy(dtype=object)[pub_rows]
    pub_value = scores["value"].to_numpy(dtype=float)[pub_rows]
    pub_dec = scores["decimals"].to_numpy(dtype=float, na_value=np.nan)[pub_rows]
    flagged = np.zeros(len(pub_rows), dtype=bool)
    for sch, keys, values in _wide_per_version(ind, by, scheme):   # as recompute_group_points
        arrays = _recompute_arrays(values, sch, 2, False)
        # the wide keys and the printed rows' keys coded together; a wide key is unique
        code = _combine_codes([np.concatenate([keys[c].to_numpy(dtype=object), pub[c]]) for c in by],
                              len(keys) + len(pub_rows))
        key_code, pub_code = code[:len(keys)], code[len(keys):]
        row_of = np.full(int(code.max()) + 1, -1, dtype=np.int64)
        row_of[key_code] = np.arange(len(keys))
        at = row_of[pub_code]                              # the printed row's wide row, or -1
        for group, a in arrays.items():
            p = np.flatnonzero((pub_group == group) & (at >= 0))
            if not p.size:
                continue
            i = at[p]
            p, i = p[a["any_rate"][i]], i[a["any_rate"][i]]   # a recomputation of this group exists
            if not p.size:
                continue
            pv = pub_value[p]
            tol = a["tolerance"][i] + half_unit(pub_dec[p], md)
            known = a["_status"][i] != _STATUS_ORDER["unknown"]
            complete = a["complete"][i]
            points = complete & known & (np.abs(pv - a["recomputed"][i]) > tol + _EPS)
            bounds = ~complete & known & ((pv < a["lower"][i] - tol - _EPS) | (pv > a["upper"][i] + tol + _EPS))
            flagged[p[points | bounds]] = True
    rows = pub_rows[flagged]
    return scores[by].iloc[rows].drop_duplicates().reset_index(drop=True)


def audit(dataset, *, scheme: Scheme | None = None) -> pd.DataFrame:
    """Audit every published figure of a dataset against the report itself and the method.

    Checks (see CHECKS): totals vs the sum of their groups, values above their maxima and column
    headers contradicted by their values, bands, ranks (within each section's own table) and
    block sizes, changes vs the two published totals, points recomputed from sub-indicator rates
    (exactly when every sub-indicator is printed, as bounds otherwise), the same figure in two
    sections, share sets that must add up to 100% and shares vs their counts, counts of
    sub-units vs the unit's count, units per band and highest/lowest totals vs the tables, and
    totals outside 0–100. Tolerances follow the precision each figure was printed with.

    Parameters
    ----------
    dataset : analysis.dataset.Dataset
    scheme : Scheme, optional
        Default: for each figure, the scheme version valid for its period.

    Returns
    -------
    DataFrame
        One row per finding, columns ``unit_id, period_id, check, published, expected,
        difference, tolerance, severity, source_id, section, message``; ``severity`` is
        ``error`` (a contradiction beyond rounding), ``warning`` (a contradiction with an
        inferred rule, or a possibly partial table) or ``info`` (explainable by rounding or by
        a partial table). Findings about a whole section have no ``unit_id``.

    Examples
    --------
    >>> from analysis.config import DATA_DIR
    >>> from analysis.dataset import load_dataset
    >>> findings = audit(load_dataset(DATA_DIR))
    >>> sorted(findings["severity"].unique())
    ['error', 'info', 'warning']
    """
    scores = dataset.scores.reset_index(drop=True)
    ind = dataset.indicators.reset_index(drop=True)
    units = dataset.units
    sheet = to_sheet(scores, units)
    row_version, schemes = _schemes_for(sheet["period_id"], scheme)
    md = _missing_decimals(schemes)
    # order findings as the report reads: by source, then where the figure first appears
    if any(t[c].hasnans for t in (scores, ind) for c in ("source_id", "section")):
        src_order = {s: i for i, s in enumerate(pd.unique(pd.concat([scores["source_id"], ind["source_id"]])))}
        sec_first = pd.concat([scores[["source_id", "section"]], ind[["source_id", "section"]]]).drop_duplicates()
        sec_rank = {(a, b): i for i, (a, b) in enumerate(zip(sec_first["source_id"], sec_first["section"]))}
    else:   # the same orders, from plain lists (no value is missing)
        src = np.concatenate([scores["source_id"].to_numpy(dtype=object), ind["source_id"].to_numpy(dtype=object)])
        sec = np.concatenate([scores["section"].to_numpy(dtype=object), ind["section"].to_numpy(dtype=object)])
        # a row with the source and section of the row before it adds nothing to either order
        # (both were seen): runs (a table's rows) are cut to their first row before the lists
        first = np.ones(len(src), dtype=bool)
        first[1:] = (src[1:] != src[:-1]) | (sec[1:] != sec[:-1])
        src, sec = src[first].tolist(), sec[first].tolist()
        src_order = {s: i for i, s in enumerate(dict.fromkeys(src))}
        sec_rank = {k: i for i, k in enumerate(dict.fromkeys(zip(src, sec)))}
    findings = audit_sheet(sheet, scheme=scheme, periods=dataset.periods)
    ind = ind.assign(_order=0.0)
    parts = [findings.assign(_order=0.0)]
    by = ["source_id", "unit_id", "period_id"]
    portal = set(dataset.sources.loc[dataset.sources["kind"] == "portal", "source_id"])
    coded = _Coded(ind)   # the indicators' text columns, coded once for the checks below
    metric_sums = _metric_point_sums(ind, coded, scores, portal)
    keys = _disagreeing_keys(ind, scores, scheme, md, by)
    if keys is None:   # a key with a missing part: through the tables, as the joins treat it
        rec = recompute_group_points(ind, scheme, scores=scores, explain=False)
        disagree = _recompute_findings(rec, md) if len(rec) else None
        keys = disagree[by].drop_duplicates() if disagree is not None else disagree
    if keys is not None and len(keys):
        # explain (rates used, sub-indicators missing) only the recomputations that disagree
        detail = recompute_group_points(ind.merge(keys, on=by), scheme, scores=scores.merge(keys, on=by))
        found = _recompute_findings(detail.assign(_order=0.0), md)
        parts.append(_explained_by_metric_sums(found, metric_sums))
    parts += _check_metric_sums(metric_sums)
    parts += _check_portal_quality(scores, ind, coded, units)
    parts += _check_source_conflicts(dataset)
    parts += _check_shares(ind, coded, md)
    found_ancestors = []

    def ancestors() -> pd.DataFrame:   # every unit's ancestors, worked out once when first needed
        if not found_ancestors:
            found_ancestors.append(_ancestors(units))
        return found_ancestors[0]

    own_part = _breakdown_rows(ind, coded, ancestors)
    parts += _check_indicator_cross_section(ind, coded, own_part, md)
    parts += _check_parts(ind, coded, units, ancestors, own_part)
    parts += _check_unit_counts(ind, coded, scores, units, ancestors, md)
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty().drop(columns="_order")[list(FINDING_COLUMNS)]
    out = pd.concat(parts, ignore_index=True)
    out["_src"] = out["source_id"].map(src_order)
    out["_sec"] = [sec_rank.get(k, len(sec_rank)) for k in zip(out["source_id"], out["section"])]
    out["_check"] = out["check"].map({c: i for i, c in enumerate(CHECKS)})
    out = out.sort_values(["_src", "_sec", "_check"], kind="stable")
    return out.reset_index(drop=True)[list(FINDING_COLUMNS)]


def _metric_point_sums(ind: pd.DataFrame, coded: _Coded, scores: pd.DataFrame,
                       portal_sources: set) -> pd.DataFrame:
    """Per source × unit × period × group: the sum of the printed sub-indicator points and the
    printed group points of the same source. Portal sources only: the portal's group is the sum
    of its printed metric points, while a report may print only some of them."""
    cat = indicator_catalog()
    pts = ind.loc[coded.is_("measure", "points")]
    if pts.empty:
        return pd.DataFrame(columns=["source_id", "unit_id", "period_id", "group", "metric_sum", "n_metrics",
                                     "published", "section"])
    pts = pts.loc[pts["indicator"].map(cat["group"]).isin(SIX_GROUPS).to_numpy()
                  & pts["source_id"].isin(portal_sources)]
    if pts.empty:
        return pd.DataFrame(columns=["source_id", "unit_id", "period_id", "group", "metric_sum", "n_metrics",
                                     "published", "section"])
    pts = pts.assign(group=pts["indicator"].map(cat["group"]))
    sums = (pts.groupby(["source_id", "unit_id", "period_id", "group"], sort=False)["value"]
            .agg(metric_sum="sum", n_metrics="size").reset_index())
    pub = (scores.loc[scores["value"].notna(), ["source_id", "unit_id", "period_id", "group", "value", "section"]]
           .drop_duplicates(["source_id", "unit_id", "period_id", "group"]).rename(columns={"value": "published"}))
    return sums.merge(pub, on=["source_id", "unit_id", "period_id", "group"], how="inner")


def _metric_sum_off(m: pd.DataFrame) -> np.ndarray:
    # the portal sums its printed (2-decimal) metric points: equal up to float noise
    return (np.abs(m["published"] - m["metric_sum"]) > 0.005 + _EPS).to_numpy()


def _check_metric_sums(m: pd.DataFrame) -> list[pd.DataFrame]:
    if m.empty:
        return []
    b = m.loc[_metric_sum_off(m)]
    if b.empty:
        return []
    msg = (b["group"] + " " + _fmt(b["published"]).to_numpy() + " printed, but its " + b["n_metrics"].astype(str)
           + " printed sub-indicator points add up to " + _fmt(b["metric_sum"]).to_numpy()
           + ": the source's figures disagree with each other (data quality)")
    return [_findings("metric_points_sum", unit_id=b["unit_id"].to_numpy(), period_id=b["period_id"].to_numpy(),
                      source_id=b["source_id"].to_numpy(), section=b["section"].to_numpy(),
                      published=b["published"].to_numpy(), expected=b["metric_sum"].to_numpy(), tolerance=0.005,
                      severity="warning", message=msg.to_numpy(), order=0.0)]


def _explained_by_metric_sums(found: pd.DataFrame, m: pd.DataFrame) -> pd.DataFrame:
    """Drop recomputed-points findings where the source's own metric points disagree with its
    group (reported once, as metric_points_sum) and the recomputation agrees with those metric
    points: the rule holds, the source's group figure is what is off."""
    if found.empty or m.empty:
        return found
    grp = found["message"].str.split(" ", n=1).str[0]
    key = found.assign(group=grp).merge(m.loc[_metric_sum_off(m)], on=["source_id", "unit_id", "period_id", "group"],
                                        how="left", suffixes=("", "_m"))
    explained = key["metric_sum"].notna() & (np.abs(key["expected"] - key["metric_sum"])
                                              <= key["tolerance"] + _EPS)
    return found.loc[~explained.to_numpy()].reset_index(drop=True)


def _first_groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For integer keys: (group of each row, first row of each group, rows per group), groups
    in order of first appearance (what a groupby with ``sort=False`` gives)."""
    group, uniques = pd.factorize(key)
    first = np.full(len(uniques), len(key), dtype=np.int64)
    np.minimum.at(first, group, np.arange(len(key)))
    return group, first, np.bincount(group, minlength=len(uniques))


def _check_portal_quality(scores: pd.DataFrame, ind: pd.DataFrame, coded: _Coded,
                          units: pd.DataFrame) -> list[pd.DataFrame]:
    """Inherited group points, placeholder-like runs and temporary denominators.

    Grouped on integer codes of the key columns (each column coded once), in the order of a
    groupby with ``sort=False``; a row with a missing key part is in no group, as there. The
    scores with a value are taken as arrays (no copy of the table); ``coded`` codes ``ind``."""
    out = []
    u = units.set_index("unit_id")
    with_value = np.flatnonzero(scores["value"].notna().to_numpy())
    at = u.index.get_indexer(scores["unit_id"])[with_value]
    known = at >= 0
    province = np.where(known, u["province_id"].to_numpy(dtype=object)[at], np.nan)
    # each row's unit level as a code of the units table's levels (-1: unknown unit or no level)
    level_codes, level_names = pd.factorize(u["level"].to_numpy(dtype=object))
    level_code = np.where(known, level_codes[at], -1)
    level_names = level_names.tolist()

    def level_in(*names) -> np.ndarray:   # the level is one of ``names`` (never when missing)
        wanted = np.array([name in names for name in level_names] + [False], dtype=bool)
        return wanted[level_code]

    from .reference import groups as _groups
    maxima = _groups()["max_points"]
    cols = {c: scores[c].to_numpy(dtype=object)[with_value] for c in ("source_id", "section", "period_id", "group",
                                                                       "unit_id")}
    value = scores["value"].to_numpy(dtype=float)[with_value]
    codes = {c: pd.factorize(v)[0].astype(np.int64) for c, v in cols.items() if c != "unit_id"}
    present = {c: k >= 0 for c, k in codes.items()}

    def combine(*parts):
        return _combine_codes([(np.where(k < 0, 0, k + 1).astype(np.int64), int(k.max(initial=-1)) + 2)
                               for k in parts], len(parts[0]))

    # inherited: child units of one table printing exactly the province's own value of a group
    own_rows = np.flatnonzero(level_in("province"))
    child_rows = np.flatnonzero(level_in("department", "commune", "district")
                                & (cols["group"] != "TOTAL"))
    if len(own_rows) and len(child_rows):
        # the province of a child and the unit of an own row, coded together (merge keys: NaN meets NaN)
        area = pd.factorize(np.concatenate([cols["unit_id"][own_rows], province[child_rows]]))[0].astype(np.int64)
        per = np.concatenate([codes["period_id"][own_rows], codes["period_id"][child_rows]])
        grp = np.concatenate([codes["group"][own_rows], codes["group"][child_rows]])
        key = combine(per, area, grp)
        own_key, child_key = key[:len(own_rows)], key[len(own_rows):]
        pos = _lookup_pos(child_key, own_key)        # the first own row of the same key
        match = pos >= 0
        m_rows = child_rows[match]
        own = value[own_rows[pos[match]]]
        same = np.abs(value[m_rows] - own) < _EPS
        m_prov = province[m_rows]
        ok = (present["source_id"][m_rows] & present["section"][m_rows] & present["period_id"][m_rows]
              & pd.notna(m_prov) & present["group"][m_rows])
        if ok.any():
            m_rows, own, same, m_prov = m_rows[ok], own[ok], same[ok], m_prov[ok]
            prov_code = pd.factorize(m_prov)[0].astype(np.int64)
            g, first, size = _first_groups(combine(codes["source_id"][m_rows], codes["section"][m_rows],
                                                   codes["period_id"][m_rows], prov_code, codes["group"][m_rows]))
            k = np.bincount(g, weights=same, minlength=len(first)).astype(np.int64)
            keep = (k >= 2) & (k >= 0.5 * size)   # the tables where most units print the own value
            first, size, k = first[keep], size[keep], k[keep]
            r = m_rows[first]
            agg = pd.DataFrame({"source_id": cols["source_id"][r], "section": cols["section"][r],
                                "period_id": cols["period_id"][r], "province_id": m_prov[first],
                                "group": cols["group"][r], "n": size, "k": k, "own": own[first]})
            if len(agg):
                msg = (agg["k"].astype(int).astype(str) + " of " + agg["n"].astype(str) + " units print "
                       + agg["group"] + " " + _fmt(agg["own"]).to_numpy() + ", the province's own value: inherited "
                       "from the province, it says nothing about the units (left out of recommendations, "
                       "rankings and correlations)")
                out.append(_findings("inherited", unit_id=agg["province_id"].to_numpy(), period_id=agg["period_id"].to_numpy(),
                                     source_id=agg["source_id"].to_numpy(), section=agg["section"].to_numpy(),
                                     published=agg["own"].to_numpy(), expected=agg["own"].to_numpy(), tolerance=0.0,
                                     severity="info", message=msg.to_numpy(), order=0.0))
    # placeholder runs: most units of one table at exactly one value (neither 0 nor the maximum)
    runs = np.flatnonzero(~level_in("country") & present["source_id"] & present["section"]
                          & present["period_id"] & present["group"])
    if len(runs):
        table = combine(codes["source_id"][runs], codes["section"][runs], codes["period_id"][runs],
                        codes["group"][runs])
        g, first, k = _first_groups(combine(table, pd.factorize(value[runs])[0].astype(np.int64)))
        tg, _, tn = _first_groups(table)
        r = runs[first]
        n_table = tn[tg[first]]
        # on arrays, the cheap conditions first; then the group's maximum for the few values left
        cand = np.flatnonzero((n_table >= PLACEHOLDER_MIN_UNITS) & (k >= PLACEHOLDER_MIN_SHARE * n_table)
                              & (value[r] > _EPS) & (cols["group"][r] != "CKMB"))
        top = pd.Series(cols["group"][r[cand]]).map(maxima).astype(float).to_numpy()
        sel = cand[value[r[cand]] < top - _EPS]
        r = r[sel]
        hit = pd.DataFrame({"source_id": cols["source_id"][r], "section": cols["section"][r],
                            "period_id": cols["period_id"][r], "group": cols["group"][r], "value": value[r],
                            "k": k[sel], "n": n_table[sel]})
        if len(hit):
            msg = (hit["k"].astype(str) + " of " + hit["n"].astype(str) + " units print " + hit["group"] + " exactly "
                   + _fmt(hit["value"]).to_numpy() + ": a placeholder-like run; the values look disturbed "
                   "and should not be read as measurements")
            out.append(_findings("placeholder_run", unit_id=None, period_id=hit["period_id"].to_numpy(),
                                 source_id=hit["source_id"].to_numpy(), section=hit["section"].to_numpy(),
                                 published=hit["k"].to_numpy(), expected=hit["n"].to_numpy(), tolerance=0.0,
                                 severity="warning", message=msg.to_numpy(), order=0.0))
    # temporary denominators marked by the portal
    temp = ind.loc[coded.contains("note", "TEMP_NATIONAL_REPORT_DENOMINATOR")]
    if len(temp):
        agg = (temp.groupby(["source_id", "period_id", "indicator"], sort=False)
               .agg(n=("unit_id", "nunique"), section=("section", "first")).reset_index())
        msg = (agg["indicator"] + ": the portal marks the denominator of " + agg["n"].astype(str)
               + " unit(s) as temporary (TEMP_NATIONAL_REPORT_DENOMINATOR); these points cannot be lost "
               "and are not a measurement")
        out.append(_findings("temporary_denominator", unit_id=None, period_id=agg["period_id"].to_numpy(),
                             source_id=agg["source_id"].to_numpy(), section=agg["section"].to_numpy(),
                             published=agg["n"].to_numpy(), expected=np.nan, tolerance=0.0, severity="info",
                             message=msg.to_numpy(), order=0.0))
    return out


def _check_source_conflicts(dataset) -> list[pd.DataFrame]:
    """Unequal values of one figure across sources (equal values are not a contradiction)."""
    from .selection import preferred

    s = dataset.scores
    # the rows with a value whose unit, period and group another such row shares (missing values
    # equal each other, as in ``duplicated``), on integer codes of the columns' values
    rows = np.flatnonzero(s["value"].notna().to_numpy())
    code = _combine_codes([s[c].to_numpy(dtype=object)[rows] for c in ("unit_id", "period_id", "group")], len(rows))
    dup = np.bincount(code)[code] > 1 if len(rows) else np.zeros(0, dtype=bool)
    if not dup.any():
        return []
    p = preferred(dataset, "scores", s.iloc[rows[dup]])
    c = p.loc[p["conflict"] & (p["source_id"].notna())]
    # differing sections of one report are the cross_section check's
    c = c.loc[[isinstance(a, str) and any(not part.startswith(sid + " – ") for part in a.split("; "))
               for a, sid in zip(c["alternatives"], c["source_id"])]]
    if c.empty:
        return []
    msg = (c["group"] + " " + _fmt(c["value"]).to_numpy() + " used (source preference: " + c["preference"]
           + "); other sources give " + c["alternatives"].astype(str))
    return [_findings("source_conflict", unit_id=c["unit_id"].to_numpy(), period_id=c["period_id"].to_numpy(),
                      source_id=c["source_id"].to_numpy(), section=c["section"].to_numpy(),
                      published=c["value"].to_numpy(), expected=np.nan, tolerance=0.0, severity="warning",
                      message=msg.to_numpy(), order=0.0)]


# Findings that make a period's values look disturbed: a report says so plainly, up front.
DISTURBING_CHECKS = ("placeholder_run",)


def data_quality_warnings(findings: pd.DataFrame, period: str) -> pd.DataFrame:
    """The placeholder-like runs of a period (the findings that make its values look disturbed),
    as ``group, value, units, of`` for a report to state up front in its own language.

    Examples
    --------
    >>> f = pd.DataFrame({"check": ["placeholder_run", "band"], "period_id": ["2026-02", "2026-02"],
    ...                   "published": [127.0, 1.0], "expected": [149.0, 1.0],
    ...                   "message": ["127 of 149 units print TOTAL exactly 16: a placeholder-like run", "x"]})
    >>> data_quality_warnings(f, "2026-02").values.tolist()
    [['TOTAL', 16.0, 127, 149]]
    """
    hit = findings.loc[findings["check"].isin(DISTURBING_CHECKS) & (findings["period_id"] == period)]
    what = hit["message"].str.extract(r"print (?P<group>\w+) exactly (?P<value>[-\d.]+)")
    out = pd.DataFrame({"group": what["group"].to_numpy(), "value": what["value"].astype(float).to_numpy(),
                        "units": hit["published"].astype(int).to_numpy(), "of": hit["expected"].astype(int).to_numpy()})
    return out.drop_duplicates().reset_index(drop=True)


def summarise(findings: pd.DataFrame) -> pd.DataFrame:
    """Count findings by source, check and severity.

    Examples
    --------
    >>> f = pd.DataFrame({"source_id": ["a", "a"], "check": ["band", "band"], "severity": ["error", "info"]})
    >>> summarise(f).values.tolist()
    [['a', 'band', 1, 0, 1]]
    """
    counts = findings.groupby(["source_id", "check", "severity"]).size().unstack("severity", fill_value=0)
    counts = counts.reindex(columns=list(SEVERITIES), fill_value=0)
    return counts.reset_index().rename_axis(columns=None)
