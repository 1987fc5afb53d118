"""The user's headline question: does online submission go with satisfaction?

One call builds the unit-level table from published indicators and scores, runs the tests with
their uncertainty and ceiling diagnostics, and says in words when the data cannot answer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ParameterError
from .numerals import format_vi
from .reference import groups
from .stats import MIN_PAIRS, correlation_matrix, ols_fixed_effects, ols_robust
from .views import area_units, wide_values

__all__ = ["QuestionResult", "online_vs_satisfaction", "QUANTITIES"]

# column -> (table, code, measure, maximum of its scale, Vietnamese label)
QUANTITIES = {
    "online_submission_rate": ("indicators", "online_submission_rate", "percent", 100.0, "Tỷ lệ hồ sơ nộp trực tuyến (%)"),
    "online_payment_rate": ("indicators", "online_payment_rate", "percent", 100.0, "Tỷ lệ thanh toán trực tuyến (%)"),
    "satisfaction_rate": ("indicators", "satisfaction_dossier_rate", "percent", 100.0, "Tỷ lệ hài lòng (%)"),
    "MDHL": ("scores", "MDHL", None, float(groups().at["MDHL", "max_points"]), "Điểm mức độ hài lòng"),
    "ONLINE": ("scores", "ONLINE", None, float(groups().at["ONLINE", "max_points"]), "Điểm dịch vụ công trực tuyến"),
    "DVTT": ("scores", "DVTT", None, float(groups().at["DVTT", "max_points"]), "Điểm dịch vụ trực tuyến (22)"),
    "TTTT": ("scores", "TTTT", None, float(groups().at["TTTT", "max_points"]), "Điểm thanh toán trực tuyến"),
    "TOTAL": ("scores", "TOTAL", None, 100.0, "Tổng điểm"),
}
# Which quantity is a part of which (a group inside the total): such pairs are flagged.
PART_OF = {"MDHL": "TOTAL", "ONLINE": ("TOTAL", "DVTT"), "DVTT": "TOTAL", "TTTT": ("TOTAL", "DVTT")}


@dataclass
class QuestionResult:
    """Answer to the headline question for one area and period (or pooled).

    Attributes
    ----------
    table : DataFrame
        One row per unit: ``unit_id, name, province_id`` and the quantities used.
    tests : DataFrame
        Long-form correlation results (``x, y, n, r, ci_low, ci_high, p_val, method, …``) with
        BH/Holm adjusted p-values and the share of units at the ceiling and floor of each side.
    models : DataFrame
        Regression of satisfaction on online submission (robust OLS; with province fixed effects
        when pooled), tidy.
    online : str
        Which measure stood for online use: ``online_submission_rate``, or ``ONLINE`` points
        when no per-unit rate is published (portal unit lists).
    satisfaction : str
        Which measure stood for satisfaction (a rate, or the group's points).
    answerable : bool
        False when the data cannot answer (too few units, no variance).
    verdict_vi, verdict_en : str
        The answer in words, with the numbers and caveats.
    """

    table: pd.DataFrame
    tests: pd.DataFrame
    models: pd.DataFrame
    online: str
    satisfaction: str
    answerable: bool
    verdict_vi: str
    verdict_en: str


def _ceiling(series: pd.Series, maximum: float) -> float:
    """Share of units at or above the top of the scale (values printed above a stated maximum
    sit at the ceiling too)."""
    v = series.dropna().to_numpy(dtype=float)
    return float(np.mean(v >= maximum - 1e-9)) if v.size else math.nan


def _build_table(ds, period: str, provinces: list[str], area: str | None, level: str = "commune") -> pd.DataFrame:
    frames = []
    if level == "province":   # one row per province: its own record and sub-indicators
        units = ds.units.loc[ds.units["level"] == "province"]
        specs = {k: (t, c, m or "percent") for k, (t, c, m, _, _) in QUANTITIES.items()}
        t = wide_values(ds, specs, period=period, units=units["unit_id"])
        t.insert(0, "name", units.set_index("unit_id")["name"].reindex(t.index))
        t.insert(1, "province_id", t.index.to_numpy())
        return t.loc[t[list(QUANTITIES)].notna().any(axis=1)]
    for prov in provinces:
        units = area_units(ds, area or prov, level="commune")
        if units.empty:
            continue
        specs = {k: (t, c, m or "percent") for k, (t, c, m, _, _) in QUANTITIES.items()}
        t = wide_values(ds, specs, period=period, units=units["unit_id"])
        t.insert(0, "name", units.set_index("unit_id")["name"].reindex(t.index))
        t.insert(1, "province_id", prov)
        frames.append(t)
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in QUANTITIES})
        empty.insert(0, "name", pd.Series(dtype=str))
        empty.insert(1, "province_id", pd.Series(dtype=str))
        return empty.rename_axis("unit_id")
    table = pd.concat(frames)
    return table.loc[table[list(QUANTITIES)].notna().any(axis=1)]


def online_vs_satisfaction(ds, period: str, *, province: str | None = None, area: str | None = None,
                           pooled: bool = False, method: str = "spearman", level: str = "commune") -> QuestionResult:
    """Test "online submission rate against satisfaction" on the communes of an area.

    Parameters
    ----------
    ds : Dataset
        Loaded data (:func:`analysis.dataset.load_dataset`).
    period : str
        Period id, e.g. ``"2024-07"``.
    province : str, optional
        Province id. Required unless ``pooled``.
    area : str, optional
        A district inside the province, to restrict the units.
    level : {'commune', 'province'}
        ``'province'``: one row per province (its own record and sub-indicators, e.g. the 34
        provinces of a province details file); ``province`` and ``pooled`` are then ignored.
    pooled : bool
        Pool the communes of every province with data for the period; the regression then has
        province fixed effects with standard errors clustered by province.
    method : {"spearman", "pearson", "kendall"}
        Primary correlation; the other of Spearman/Pearson is reported too. Spearman is the
        default because points pile up at the group maxima (ties, ceilings).

    Returns
    -------
    QuestionResult

    Examples
    --------
    >>> from analysis.dataset import load_dataset
    >>> from analysis.config import DATA_DIR
    >>> res = online_vs_satisfaction(load_dataset(DATA_DIR), "2024-07", province="bac-kan")
    >>> len(res.table), res.satisfaction
    (17, 'MDHL')
    >>> res.answerable
    True
    """
    if level not in ("commune", "province"):
        raise ParameterError(f"parameter 'level': '{level}' is not 'commune' or 'province'")
    if not pooled and province is None and level != "province":
        raise ParameterError("parameter 'province': give a province id, or pooled=True, or level='province'")
    if pooled:
        provinces = sorted(set(ds.units.loc[ds.units["level"] == "province", "unit_id"]))
    else:
        provinces = [province]
    table = _build_table(ds, period, provinces, None if pooled else area, level)
    methods = [method] + [m for m in ("spearman", "pearson") if m != method]

    # Satisfaction: the dossier-handling satisfaction rate where units publish it, else the
    # satisfaction group's points. Online use: the online submission rate where published, else
    # the online-services group's points (portal unit lists carry only group points).
    def enough(column: str) -> bool:
        return int(table[column].notna().sum()) >= MIN_PAIRS

    satisfaction = "satisfaction_rate" if enough("satisfaction_rate") else "MDHL"
    online = "online_submission_rate" if enough("online_submission_rate") or not enough("ONLINE") else "ONLINE"
    pairs = [(online, satisfaction)]
    if online == "online_submission_rate":
        pairs.append((online, "online_payment_rate"))
        pairs += [(online, other) for other in ("ONLINE", "DVTT", "TOTAL") if enough(other)]
    else:
        pairs += [("ONLINE", other) for other in ("TTTT", "TOTAL") if other in table and enough(other)]
    maxima = {k: (0.0, v[3]) for k, v in QUANTITIES.items()}
    data = table[list(QUANTITIES)].astype(float)
    tests = pd.concat([correlation_matrix(data, pairs, method=m, maxima=maxima, part_of=PART_OF)
                       for m in methods], ignore_index=True)
    # Values printed above a stated maximum sit at the ceiling: count them there.
    for side in ("x", "y"):
        tests[f"{side}_share_at_max"] = [
            _ceiling(data[v], QUANTITIES[v][3]) if v in data else math.nan for v in tests[side]]

    main = tests.loc[(tests["x"] == online) & (tests["y"] == satisfaction) & (tests["method"] == method)].iloc[0]
    models = _models(table, online, satisfaction, pooled and level == "commune")
    complete = table.dropna(subset=[online, satisfaction])
    answerable, vi, en = _verdict(main, online, satisfaction, complete, pooled, level)
    return QuestionResult(table.reset_index(), tests, models, online, satisfaction, answerable, vi, en)


def _models(table: pd.DataFrame, online: str, satisfaction: str, pooled: bool) -> pd.DataFrame:
    formula = f"{satisfaction} ~ {online}"
    data = table.reset_index()
    if pooled and data["province_id"].nunique() >= 2:
        return ols_fixed_effects(data, formula, group="province_id")
    return ols_robust(data, formula)


def _verdict(row, online: str, satisfaction: str, complete: pd.DataFrame, pooled: bool, level: str = "commune"):
    sat_vi = "tỷ lệ hài lòng" if satisfaction == "satisfaction_rate" else "điểm nhóm mức độ hài lòng"
    sat_en = "the satisfaction rate" if satisfaction == "satisfaction_rate" else "the satisfaction group's points"
    on_vi = "tỷ lệ hồ sơ nộp trực tuyến" if online == "online_submission_rate" else \
        "điểm nhóm dịch vụ công trực tuyến (không có tỷ lệ nộp trực tuyến theo đơn vị)"
    on_en = "the online submission rate" if online == "online_submission_rate" else \
        "the online-services group's points (no per-unit online submission rate)"
    n = len(complete)
    n_prov = complete["province_id"].nunique()
    ceiling = row["y_share_at_max"]
    if pd.isna(row["r"]):
        if n < MIN_PAIRS:
            why_vi = f"cần ít nhất {MIN_PAIRS} đơn vị có đủ cả hai số liệu"
            why_en = f"at least {MIN_PAIRS} units with both figures are needed"
        else:
            constant = [c for c in (online, satisfaction) if complete[c].nunique() == 1]
            labels = {c: QUANTITIES[c][4] for c in constant}
            why_vi = "; ".join(f"{labels[c]} như nhau ở mọi đơn vị ({format_vi(complete[c].iloc[0])})"
                               for c in constant) or "không tính được hệ số"
            why_en = "; ".join(f"{c} is the same for every unit ({complete[c].iloc[0]:g})"
                               for c in constant) or (row["note"] or "the correlation is undefined")
        vi = f"Dữ liệu chưa trả lời được câu hỏi: {n} đơn vị có đủ cả {on_vi} và {sat_vi}; {why_vi}."
        en = f"The data cannot answer the question: {n} units have both {on_en} and {sat_en}; {why_en}."
        return False, vi, en
    r, lo, hi, p = row["r"], row["ci_low"], row["ci_high"], row["p_val"]
    strength_vi = "không đủ bằng chứng về mối liên hệ" if lo <= 0 <= hi else (
        "có liên hệ cùng chiều" if r > 0 else "có liên hệ ngược chiều")
    strength_en = "no clear evidence of an association" if lo <= 0 <= hi else (
        "a positive association" if r > 0 else "a negative association")
    pooled_text_vi = (f" của {n_prov} tỉnh (gộp)" if n_prov > 1 else
                      " của 1 tỉnh (chỉ một tỉnh có số liệu theo đơn vị, không gộp được)")
    pooled_text_en = (f" pooled over {n_prov} provinces" if n_prov > 1 else
                      " of a single province (only one province has unit-level figures; nothing to pool)")
    who = (f"{n} tỉnh, thành phố" if level == "province" else
           f"{n} xã, phường, thị trấn" + (pooled_text_vi if pooled else ""))
    vi = (f"Trên {who}, hệ số {row['method'].capitalize()} giữa {on_vi} và "
          f"{sat_vi} là r = {format_vi(r)} (khoảng tin cậy 95%: {format_vi(lo)} đến {format_vi(hi)}; "
          f"p = {format_vi(p, 3)}): {strength_vi}.")
    en = (f"Across {n} {'provinces' if level == 'province' else 'communes'}"
          f"{pooled_text_en if pooled and level != 'province' else ''}, the "
          f"{row['method']} correlation between {on_en} and {sat_en} is "
          f"r = {r:.2f} (95% CI {lo:.2f} to {hi:.2f}; p = {p:.3f}): {strength_en}.")
    if not pd.isna(ceiling) and ceiling >= 0.5:
        vi += (f" Lưu ý: {format_vi(100 * ceiling, 0)}% đơn vị đạt mức trần của thang hài lòng, nên "
               f"hệ số có thể bị thu hẹp; kết quả chỉ mang tính tham khảo.")
        en += (f" Caveat: {100 * ceiling:.0f}% of units sit at the ceiling of the satisfaction scale, "
               f"which limits the correlation; treat the result as indicative.")
    if n < 10:
        vi += " Số đơn vị ít, kết quả rất bất định."
        en += " Few units: the result is very uncertain."
    return True, vi, en
