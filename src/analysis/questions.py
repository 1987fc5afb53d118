"""The user's headline question: does online submission go with satisfaction?

One call builds the unit-level table from published indicators and scores, runs the tests with
their uncertainty and ceiling diagnostics, and says in words when the data cannot answer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import content as c
from .errors import ParameterError
from .reference import groups
from .stats import MIN_PAIRS, correlation_matrix, ols_fixed_effects, ols_robust
from .views import area_units, wide_values

__all__ = ["QuestionResult", "online_vs_satisfaction", "QUANTITIES"]

# column -> (table, code, measure, maximum of its scale); its name is the catalog's quantity.<column>
QUANTITIES = {
    "online_submission_rate": ("indicators", "online_submission_rate", "percent", 100.0),
    "online_payment_rate": ("indicators", "online_payment_rate", "percent", 100.0),
    "satisfaction_rate": ("indicators", "satisfaction_dossier_rate", "percent", 100.0),
    "MDHL": ("scores", "MDHL", None, float(groups().at["MDHL", "max_points"])),
    "ONLINE": ("scores", "ONLINE", None, float(groups().at["ONLINE", "max_points"])),
    "DVTT": ("scores", "DVTT", None, float(groups().at["DVTT", "max_points"])),
    "TTTT": ("scores", "TTTT", None, float(groups().at["TTTT", "max_points"])),
    "TOTAL": ("scores", "TOTAL", None, 100.0),
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
    verdict : content value
        The answer with its numbers and caveats, as catalog messages (:mod:`analysis.content`);
        ``verdict_vi`` / ``verdict_en`` (or ``render.resolve(verdict, lang)``) give it in words.
    """

    table: pd.DataFrame
    tests: pd.DataFrame
    models: pd.DataFrame
    online: str
    satisfaction: str
    answerable: bool
    verdict: object

    @property
    def verdict_vi(self) -> str:
        from .render import resolve

        return resolve(self.verdict, "vi")

    @property
    def verdict_en(self) -> str:
        from .render import resolve

        return resolve(self.verdict, "en")


def _ceiling(series: pd.Series, maximum: float) -> float:
    """Share of units at or above the top of the scale (values printed above a stated maximum
    sit at the ceiling too)."""
    v = series.dropna().to_numpy(dtype=float)
    return float(np.mean(v >= maximum - 1e-9)) if v.size else math.nan


def _build_table(ds, period: str, provinces: list[str], area: str | None, level: str = "commune") -> pd.DataFrame:
    frames = []
    if level == "province":   # one row per province: its own record and sub-indicators
        units = ds.units.loc[ds.units["level"] == "province"]
        specs = {k: (t, c, m or "percent") for k, (t, c, m, _) in QUANTITIES.items()}
        t = wide_values(ds, specs, period=period, units=units["unit_id"])
        t.insert(0, "name", units.set_index("unit_id")["name"].reindex(t.index))
        t.insert(1, "province_id", t.index.to_numpy())
        return t.loc[t[list(QUANTITIES)].notna().any(axis=1)]
    for prov in provinces:
        units = area_units(ds, area or prov, level="commune")
        if units.empty:
            continue
        specs = {k: (t, c, m or "percent") for k, (t, c, m, _) in QUANTITIES.items()}
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
    answerable, verdict = _verdict(main, online, satisfaction, complete, pooled, level)
    return QuestionResult(table.reset_index(), tests, models, online, satisfaction, answerable, verdict)


def _models(table: pd.DataFrame, online: str, satisfaction: str, pooled: bool) -> pd.DataFrame:
    formula = f"{satisfaction} ~ {online}"
    data = table.reset_index()
    if pooled and data["province_id"].nunique() >= 2:
        return ols_fixed_effects(data, formula, group="province_id")
    return ols_robust(data, formula)


def _verdict(row, online: str, satisfaction: str, complete: pd.DataFrame, pooled: bool, level: str = "commune"):
    """``(answerable, verdict)``: the answer as catalog messages (``question.*``) with typed
    values, so the words and the notation are those of the report's language."""
    on = c.Msg("question.online.rate" if online == "online_submission_rate" else "question.online.points")
    sat = c.Msg("question.satisfaction.rate" if satisfaction == "satisfaction_rate" else "question.satisfaction.points")
    n = len(complete)
    n_prov = complete["province_id"].nunique()
    ceiling = row["y_share_at_max"]
    if pd.isna(row["r"]):
        if n < MIN_PAIRS:
            why = c.Msg("question.why.min_pairs", k=c.Num(MIN_PAIRS, 0))
        else:
            constant = [col for col in (online, satisfaction) if complete[col].nunique() == 1]
            why = (c.Join([c.Msg("question.why.constant", quantity=c.Msg(f"quantity.{col}"),
                                 value=c.Num(float(complete[col].iloc[0]))) for col in constant], sep="; ")
                   if constant else c.Msg("question.why.undefined"))
        return False, c.Msg("question.cannot", n=c.Num(n, 0), online=on, satisfaction=sat, why=why)
    r, lo, hi, p = row["r"], row["ci_low"], row["ci_high"], row["p_val"]
    strength = "none" if lo <= 0 <= hi else ("positive" if r > 0 else "negative")
    if level == "province":
        who = c.Msg("question.who.province", n=c.Num(n, 0))
    else:
        pooled_text = (c.Msg("question.pooled.many", k=c.Num(n_prov, 0)) if n_prov > 1 else
                       c.Msg("question.pooled.one")) if pooled else c.Code("")
        who = c.Msg("question.who.commune", n=c.Num(n, 0), pooled=pooled_text)
    parts = [c.Msg("question.answer", who=who, method=c.Code(str(row["method"]).capitalize()), online=on,
                   satisfaction=sat, r=c.Num(r, 2), lo=c.Num(lo, 2), hi=c.Num(hi, 2), p=c.Num(p, 3),
                   strength=c.Msg(f"question.strength.{strength}"))]
    if not pd.isna(ceiling) and ceiling >= 0.5:
        parts.append(c.Msg("question.ceiling", share=c.Num(100 * ceiling, 0)))
    if n < 10:
        parts.append(c.Msg("question.few"))
    return True, c.Join(parts, sep=" ")
