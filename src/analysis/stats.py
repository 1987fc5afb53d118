"""Correlation tests, ceiling/floor shares and tidy regression tables for the 766 analyses."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import patsy
import statsmodels.formula.api as smf
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from analysis.errors import DataError, ParameterError

__all__ = [
    "CORRELATION_COLUMNS",
    "CORRELATION_METHODS",
    "FEW_CLUSTERS",
    "MIN_PAIRS",
    "REGRESSION_COLUMNS",
    "ROBUST_COV_TYPES",
    "MissingColumnError",
    "ceiling_floor",
    "correlation_matrix",
    "correlation_test",
    "fisher_ci",
    "mixed_intercept",
    "ols_fixed_effects",
    "ols_robust",
]

CORRELATION_COLUMNS = (
    "x", "y", "n", "r", "ci_low", "ci_high", "p_val", "method", "ci_method", "note",
)
REGRESSION_COLUMNS = (
    "model", "term", "estimate", "se", "ci_low", "ci_high", "p_val", "n", "n_groups", "note",
)
CORRELATION_METHODS = ("pearson", "spearman", "kendall")
MIN_PAIRS = 4
FEW_CLUSTERS = 10
# A MixedLM group variance at or below this share of the residual variance is a boundary fit.
BOUNDARY_SHARE = 1e-6
ROBUST_COV_TYPES = ("HC0", "HC1", "HC2", "HC3")

# Fisher-z sampling variances other than the Pearson 1/(n - 3); Bonett & Wright (2000),
# Psychometrika 65(1), 23-28.
_CI_METHODS = {
    "pearson": "fisher-z",
    "spearman": "fisher-z bonett-wright",
    "kendall": "fisher-z bonett-wright",
}
_KENDALL_BW_VAR = 0.437
# |r| this close to 1 is treated as a perfect correlation (pearsonr can return 1 - 2e-16).
_PERFECT_TOL = 1e-12
# Leverage within this of 1 makes the HC2/HC3 weights 1 / (1 - h) meaningless.
_LEVERAGE_TOL = 1e-8
# Library-internal deprecations say nothing about the data, so they never reach a note.
_SILENT_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


class MissingColumnError(ParameterError, KeyError):
    """A column named in a call is not in the data; also a KeyError and a ValueError."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _without_forced_gc():
    """statsmodels' Holm branch calls gc.collect() to free one temporary array; in a process
    holding many objects (a report kernel) that costs a quarter of a second per call and frees
    nothing of note, so the call is skipped while the adjustment runs."""
    import gc  # multipletests imports gc inside the function, so the module attribute is patched

    real = gc.collect
    gc.collect = lambda *args, **kwargs: 0
    try:
        yield
    finally:
        gc.collect = real


def _check_frame(data: Any) -> None:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")


def _check_ci(ci: Any) -> float:
    if isinstance(ci, bool) or not isinstance(ci, (int, float)) or not 0 < ci < 1:
        raise ParameterError(
            f"ci must be a confidence level strictly between 0 and 1, got {ci!r}"
        )
    return float(ci)


def _check_column(data: pd.DataFrame, name: Any, param: str) -> None:
    if isinstance(name, (pd.Series, pd.Index, np.ndarray, list, dict, set)):
        raise TypeError(f"{param} must be a column name of data, got {type(name).__name__}")
    if name not in data.columns:
        available = ", ".join(repr(c) for c in data.columns)
        raise MissingColumnError(
            f"column {name!r} (parameter {param!r}) is not in data; available columns: {available}"
        )


def _numeric_values(data: pd.DataFrame, name: Hashable, param: str) -> np.ndarray:
    _check_column(data, name, param)
    column = data[name]
    if isinstance(column, pd.DataFrame):
        raise DataError(f"name is duplicated in data (parameter {param!r})", column=name)
    if not pd.api.types.is_numeric_dtype(column):
        raise DataError(
            f"must be numeric for parameter {param!r}, got dtype {column.dtype}", column=name
        )
    return column.to_numpy(dtype=float, na_value=np.nan)


def _fmt(value: float) -> str:
    """18.0 -> '18', 0.1 -> '0.1', without the 6-digit rounding of the plain 'g' format."""
    return f"{value:.10g}"


def _caught(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Call func with numpy/scipy/statsmodels warnings captured; return (result, messages)."""
    with warnings.catch_warnings(record=True) as record, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        result = func(*args, **kwargs)
    messages: list[str] = []
    for item in record:
        text = " ".join(str(item.message).split())
        if not issubclass(item.category, _SILENT_WARNINGS) and text not in messages:
            messages.append(text)
    return result, messages


def _join(notes: Iterable[str]) -> str:
    return "; ".join(note for note in notes if note)


# ----------------------------------------------------------------------- correlation


def fisher_ci(
    r: float, n: int, *, ci: float = 0.95, var: float | None = None
) -> tuple[float, float]:
    """Confidence interval for a correlation through Fisher's z transformation.

    The interval is ``tanh(atanh(r) -/+ z_crit * sqrt(var))``, where ``z_crit`` is the
    standard normal quantile for the two-sided level ``ci``.

    Parameters
    ----------
    r : float
        Correlation estimate; values a rounding error outside [-1, 1] are clipped.
    n : int
        Number of complete pairs; used only when ``var`` is None.
    ci : float, default 0.95
        Two-sided confidence level, strictly between 0 and 1.
    var : float, optional
        Sampling variance of ``atanh(r)``. Defaults to the Pearson value ``1 / (n - 3)``;
        pass ``(1 + r**2 / 2) / (n - 3)`` for Spearman or ``0.437 / (n - 4)`` for
        Kendall (Bonett & Wright, 2000).

    Returns
    -------
    tuple of float
        ``(ci_low, ci_high)``; ``(nan, nan)`` when ``r`` is not finite or the variance is
        undefined (``n <= 3`` with the default). For ``|r| == 1`` both ends equal ``r``.

    Raises
    ------
    ParameterError
        If ``ci`` is not strictly between 0 and 1 (a ``ValueError``).

    Examples
    --------
    >>> low, high = fisher_ci(0.5, 30)
    >>> round(low, 4), round(high, 4)
    (0.1704, 0.729)
    >>> fisher_ci(0.5, 3)
    (nan, nan)
    """
    ci = _check_ci(ci)
    r = float(r)
    if var is None:
        var = 1.0 / (n - 3) if n > 3 else math.nan
    var = float(var)
    if not (math.isfinite(r) and math.isfinite(var) and var > 0):
        return (math.nan, math.nan)
    r = min(max(r, -1.0), 1.0)
    crit = float(sps.norm.ppf(0.5 + ci / 2))
    half = crit * math.sqrt(var)
    with np.errstate(divide="ignore"):
        z = float(np.arctanh(r))  # +/-inf for |r| == 1, and tanh(+/-inf) = +/-1
    return (float(np.tanh(z - half)), float(np.tanh(z + half)))


def _correlation_row(
    data: pd.DataFrame, x: Hashable, y: Hashable, method: str, ci: float
) -> dict[str, Any]:
    xs = _numeric_values(data, x, "x")
    ys = _numeric_values(data, y, "y")
    row: dict[str, Any] = {
        "x": x, "y": y, "n": 0, "r": math.nan, "ci_low": math.nan, "ci_high": math.nan,
        "p_val": math.nan, "method": method, "ci_method": _CI_METHODS[method], "note": "",
    }
    notes: list[str] = []
    for name, values in ((x, xs), (y, ys)):
        if not np.isfinite(values).any():
            notes.append(
                f"{name!r} has no non-missing values ({len(values)} rows): correlation undefined"
            )
    infinite = int(np.isinf(xs).sum() + np.isinf(ys).sum())
    if infinite:
        notes.append(f"{infinite} infinite value(s) treated as missing")
    complete = np.isfinite(xs) & np.isfinite(ys)
    n = int(complete.sum())
    row["n"] = n
    if notes and n == 0:
        row["note"] = _join(notes)
        return row
    if n < MIN_PAIRS:
        notes.append(
            f"n = {n} < {MIN_PAIRS} complete pairs: too few units to estimate a correlation"
        )
        row["note"] = _join(notes)
        return row
    xv, yv = xs[complete], ys[complete]
    constant = [
        f"{name!r} is constant ({_fmt(values[0])} for all {n} units): "
        "no variance, correlation undefined"
        for name, values in ((x, xv), (y, yv))
        if np.ptp(values) == 0
    ]
    if constant:
        row["note"] = _join(notes + constant)
        return row

    scipy_test = {"pearson": sps.pearsonr, "spearman": sps.spearmanr, "kendall": sps.kendalltau}
    result, messages = _caught(scipy_test[method], xv, yv)
    notes.extend(messages)
    r, p = float(result.statistic), float(result.pvalue)
    if not math.isfinite(r):
        notes.append(f"{method} correlation could not be computed")
        row["note"] = _join(notes)
        return row
    row["r"], row["p_val"] = r, p

    if method == "pearson":
        var = 1.0 / (n - 3)
    elif method == "spearman":
        var = (1.0 + r**2 / 2.0) / (n - 3)
    elif n > 4:
        var = _KENDALL_BW_VAR / (n - 4)
    else:
        var = math.nan
        notes.append(
            f"n = {n}: the Bonett-Wright interval for Kendall's tau needs at least 5 "
            "complete pairs"
        )
    row["ci_low"], row["ci_high"] = fisher_ci(r, n, ci=ci, var=var)
    if abs(r) >= 1 - _PERFECT_TOL:
        notes.append(f"perfect correlation (r = {_fmt(r)}): the interval collapses to a point")
    row["note"] = _join(notes)
    return row


def _check_method(method: Any) -> str:
    if method not in CORRELATION_METHODS:
        allowed = ", ".join(repr(m) for m in CORRELATION_METHODS)
        raise ParameterError(f"method must be one of {allowed}; got {method!r}")
    return method


def _correlation_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(CORRELATION_COLUMNS))
    numeric = {"r": float, "ci_low": float, "ci_high": float, "p_val": float}
    return frame.astype({"n": "int64", **numeric})


def correlation_test(
    data: pd.DataFrame,
    x: Hashable,
    y: Hashable,
    method: str = "pearson",
    *,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Correlation between two columns with a Fisher-z confidence interval.

    Rows with a missing (or infinite) value in either column are dropped pairwise.
    Pearson uses ``scipy.stats.pearsonr`` and the interval ``atanh(r) -/+ z / sqrt(n - 3)``;
    Spearman uses ``scipy.stats.spearmanr`` with the Bonett-Wright (2000) variance
    ``(1 + r**2 / 2) / (n - 3)``; Kendall uses tau-b from ``scipy.stats.kendalltau`` with
    the Bonett-Wright variance ``0.437 / (n - 4)``.

    Parameters
    ----------
    data : pandas.DataFrame
        Table with one row per unit.
    x, y : hashable
        Column names of two numeric columns (not arrays).
    method : {"pearson", "spearman", "kendall"}, default "pearson"
        Correlation coefficient.
    ci : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    pandas.DataFrame
        One row with columns ``x, y, n, r, ci_low, ci_high, p_val, method, ci_method,
        note``. ``n`` counts complete pairs. Degenerate input (fewer than 4 pairs, a
        constant or all-missing column) gives NaN statistics and the reason in ``note``;
        ``note`` is ``""`` when there is nothing to report.

    Raises
    ------
    ParameterError
        If ``method`` or ``ci`` is not allowed (a ``ValueError``).
    MissingColumnError
        If ``x`` or ``y`` is not a column of ``data`` (a ``KeyError`` and ``ValueError``).
    DataError
        If a column is not numeric (a ``ValueError``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 4, 5, 4, 5]})
    >>> res = correlation_test(df, "a", "b")
    >>> res[["n", "r", "ci_low", "ci_high", "p_val"]].round(4).to_dict("records")
    [{'n': 5, 'r': 0.7746, 'ci_low': -0.3401, 'ci_high': 0.9842, 'p_val': 0.124}]
    >>> df["c"] = 18
    >>> correlation_test(df, "a", "c").loc[0, "note"]
    "'c' is constant (18 for all 5 units): no variance, correlation undefined"
    """
    _check_frame(data)
    method = _check_method(method)
    ci = _check_ci(ci)
    return _correlation_frame([_correlation_row(data, x, y, method, ci)])


def ceiling_floor(
    series: Iterable[float], *, maximum: float, minimum: float = 0.0, tol: float = 1e-9
) -> dict[str, float]:
    """Share of non-missing values sitting at the maximum and at the minimum of a scale.

    Parameters
    ----------
    series : array-like of float
        Scores; missing and infinite values are ignored.
    maximum : float
        Highest attainable score (ceiling).
    minimum : float, default 0.0
        Lowest attainable score (floor).
    tol : float, default 1e-9
        Absolute tolerance for "at" the ceiling or floor.

    Returns
    -------
    dict
        ``share_at_max`` and ``share_at_min`` (fractions in [0, 1], NaN when there are
        no values) and ``n``, the number of values counted.

    Raises
    ------
    DataError
        If the values are not numeric (a ``ValueError``).
    ParameterError
        If ``maximum <= minimum`` or ``tol < 0`` (a ``ValueError``).

    Examples
    --------
    >>> ceiling_floor([10, 10, 7, 0, None], maximum=10)
    {'share_at_max': 0.5, 'share_at_min': 0.25, 'n': 4}
    """
    if not (math.isfinite(maximum) and math.isfinite(minimum) and maximum > minimum):
        raise ParameterError(
            f"maximum must be finite and greater than minimum, got maximum={maximum!r}, "
            f"minimum={minimum!r}"
        )
    if not tol >= 0:
        raise ParameterError(f"tol must be non-negative, got {tol!r}")
    values = pd.Series(series).infer_objects()
    if values.isna().all():
        values = values.astype(float)
    if not pd.api.types.is_numeric_dtype(values):
        raise DataError(f"series must be numeric, got dtype {values.dtype}")
    array = values.to_numpy(dtype=float, na_value=np.nan)
    array = array[np.isfinite(array)]
    n = int(array.size)
    if n == 0:
        return {"share_at_max": math.nan, "share_at_min": math.nan, "n": 0}
    return {
        "share_at_max": float(np.mean(np.abs(array - maximum) <= tol)),
        "share_at_min": float(np.mean(np.abs(array - minimum) <= tol)),
        "n": n,
    }


def _is_part(x: Hashable, y: Hashable, part_of: Mapping[Hashable, Any] | None) -> bool:
    if not part_of or x not in part_of:
        return False
    whole = part_of[x]
    if isinstance(whole, (str, bytes)) or not isinstance(whole, Iterable):
        return bool(whole == y)
    return y in whole


def _scale_bounds(value: Any, name: Hashable) -> tuple[float, float]:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return 0.0, float(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return float(value[0]), float(value[1])
    raise ParameterError(
        f"maxima[{name!r}] must be a maximum or a (minimum, maximum) pair, got {value!r}"
    )


def correlation_matrix(
    data: pd.DataFrame,
    pairs: Iterable[tuple[Hashable, Hashable]],
    method: str = "pearson",
    *,
    maxima: Mapping[Hashable, Any] | None = None,
    part_of: Mapping[Hashable, Any] | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Correlation tests for many pairs in long form, with multiplicity-adjusted p-values.

    Parameters
    ----------
    data : pandas.DataFrame
        Table with one row per unit.
    pairs : iterable of (x, y) tuples
        Column-name pairs, each passed to :func:`correlation_test`.
    method : {"pearson", "spearman", "kendall"}, default "pearson"
        Correlation coefficient for every pair.
    maxima : mapping, optional
        Maximum attainable score per variable (name -> maximum, floor 0), or
        name -> ``(minimum, maximum)``. When given, adds ``x_share_at_max``,
        ``x_share_at_min``, ``y_share_at_max`` and ``y_share_at_min`` computed with
        :func:`ceiling_floor` on the complete pairs of each row; NaN for a variable
        without an entry.
    part_of : mapping, optional
        Part -> whole, e.g. ``{"MDHL": "TOTAL"}``; a value may also be a collection of
        wholes. Flags pairs whose ``x`` is a component of ``y``, where a positive
        correlation is partly built in.
    ci : float, default 0.95
        Two-sided confidence level for every interval.

    Returns
    -------
    pandas.DataFrame
        The :func:`correlation_test` columns, one row per pair, plus ``p_bh``
        (Benjamini-Hochberg) and ``p_holm`` (Holm) computed over the non-missing
        p-values (NaN stays NaN), ``x_part_of_y`` and, with ``maxima``, the share
        columns.

    Raises
    ------
    ParameterError
        If ``method`` is not allowed or a pair is not two names (a ``ValueError``).
    MissingColumnError
        If a named column is not in ``data``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"MDHL": [1, 2, 3, 4, 5, 5], "TOTAL": [3, 5, 6, 8, 9, 10],
    ...                    "Z": [2, 1, 4, 3, 6, 5]})
    >>> res = correlation_matrix(df, [("MDHL", "TOTAL"), ("MDHL", "Z")],
    ...                          maxima={"MDHL": 5}, part_of={"MDHL": "TOTAL"})
    >>> res[["x", "y", "x_part_of_y", "x_share_at_max"]].values.tolist()
    [['MDHL', 'TOTAL', True, 0.3333333333333333], ['MDHL', 'Z', False, 0.3333333333333333]]
    >>> bool((res["p_holm"] >= res["p_bh"]).all())
    True
    """
    _check_frame(data)
    method = _check_method(method)
    ci = _check_ci(ci)
    pair_list = list(pairs)
    rows = []
    for pair in pair_list:
        is_pair = not isinstance(pair, (str, bytes)) and isinstance(pair, Iterable)
        if not is_pair or len(tuple(pair)) != 2:
            raise ParameterError(
                f"each element of pairs must be an (x, y) tuple, got {pair!r}"
            )
        x, y = tuple(pair)
        rows.append(_correlation_row(data, x, y, method, ci))
    out = _correlation_frame(rows)

    p = out["p_val"].to_numpy(dtype=float)
    valid = np.isfinite(p)
    for column, adjust in (("p_bh", "fdr_bh"), ("p_holm", "holm")):
        adjusted = np.full(p.shape, np.nan)
        if valid.any():
            with _without_forced_gc():
                adjusted[valid] = multipletests(p[valid], method=adjust)[1]
        out[column] = adjusted
    out["x_part_of_y"] = [_is_part(x, y, part_of) for x, y in zip(out["x"], out["y"])]

    if maxima is not None:
        bounds = {name: _scale_bounds(value, name) for name, value in maxima.items()}
        shares: dict[str, list[float]] = {
            f"{side}_share_at_{end}": [] for side in ("x", "y") for end in ("max", "min")
        }
        for x, y in zip(out["x"], out["y"]):
            xs = _numeric_values(data, x, "x")
            ys = _numeric_values(data, y, "y")
            complete = np.isfinite(xs) & np.isfinite(ys)
            for side, name, values in (("x", x, xs), ("y", y, ys)):
                if name in bounds:
                    low, high = bounds[name]
                    found = ceiling_floor(values[complete], maximum=high, minimum=low)
                else:
                    found = {"share_at_max": math.nan, "share_at_min": math.nan}
                shares[f"{side}_share_at_max"].append(found["share_at_max"])
                shares[f"{side}_share_at_min"].append(found["share_at_min"])
        for column, values in shares.items():
            out[column] = np.asarray(values, dtype=float)
    return out


# ------------------------------------------------------------------------ regression


def _formula_error(formula: str, data: pd.DataFrame, err: Exception) -> ParameterError:
    available = ", ".join(repr(c) for c in data.columns)
    message = " ".join(str(err).split())
    return ParameterError(
        f"formula {formula!r} cannot be evaluated on data ({message}); "
        f"available columns: {available}"
    )


def _formula_data(data: pd.DataFrame) -> pd.DataFrame:
    """Reset to a RangeIndex (row labels then map back to rows); string columns to object."""
    data = data.reset_index(drop=True)
    strings = [c for c in data.columns if isinstance(data[c].dtype, pd.StringDtype)]
    return data.astype({c: object for c in strings}) if strings else data


def _check_formula(formula: Any) -> None:
    if not isinstance(formula, str) or "~" not in formula:
        raise ParameterError(f"formula must be a string 'outcome ~ terms', got {formula!r}")


def _n_used(formula: str, data: pd.DataFrame) -> int:
    """Rows patsy keeps after dropping missing values, checked before any model is built."""
    _check_formula(formula)
    if data.empty:
        return 0
    try:
        (outcome, _), _ = _caught(patsy.dmatrices, formula, data, NA_action="drop")
    except patsy.PatsyError as err:
        raise _formula_error(formula, data, err) from err
    return int(outcome.shape[0])


def _build_model(factory: Callable[..., Any], formula: str, data: pd.DataFrame, **kwargs: Any):
    try:
        model, _ = _caught(factory, formula, data, **kwargs)
    except patsy.PatsyError as err:
        raise _formula_error(formula, data, err) from err
    return model


def _design_problem(exog: np.ndarray, names: list[str], n: int) -> str:
    """Reason the design cannot be estimated, or "" when it can."""
    k = exog.shape[1]
    if n < k + 2:
        return f"n = {n} rows < {k} parameters + 2: too few rows to estimate the model"
    if "Intercept" in names:
        for j, name in enumerate(names):
            if name != "Intercept" and np.ptp(exog[:, j]) == 0:
                return (
                    f"regressor {name!r} is constant ({_fmt(exog[0, j])} for all {n} rows): "
                    "its effect is not identified"
                )
    rank = int(np.linalg.matrix_rank(exog))
    if rank < k:
        return f"design matrix is rank deficient (rank {rank} < {k} columns): collinear regressors"
    return ""


def _degenerate(model: str, n: int, n_groups: float, note: str) -> pd.DataFrame:
    row = {
        "model": model, "term": None, "estimate": math.nan, "se": math.nan,
        "ci_low": math.nan, "ci_high": math.nan, "p_val": math.nan, "n": n,
        "n_groups": n_groups, "note": note,
    }
    return _regression_frame([row])


def _regression_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(REGRESSION_COLUMNS))
    numeric = ["estimate", "se", "ci_low", "ci_high", "p_val", "n_groups"]
    return frame.astype({**{c: float for c in numeric}, "n": "int64"})


def _tidy_rows(
    model: str, result: Any, terms: list[str], ci: float, n: int, n_groups: float, note: str
) -> list[dict[str, Any]]:
    bounds = result.conf_int(alpha=1 - ci)
    if not np.isfinite(np.asarray(result.bse[terms], dtype=float)).all():
        note = _join([note, "some standard errors are not finite"])
    return [
        {
            "model": model, "term": term, "estimate": float(result.params[term]),
            "se": float(result.bse[term]), "ci_low": float(bounds.loc[term].iloc[0]),
            "ci_high": float(bounds.loc[term].iloc[1]), "p_val": float(result.pvalues[term]),
            "n": n, "n_groups": n_groups, "note": note,
        }
        for term in terms
    ]


def ols_robust(
    data: pd.DataFrame, formula: str, *, cov_type: str = "HC3", ci: float = 0.95
) -> pd.DataFrame:
    """OLS through the statsmodels formula API with heteroskedasticity-robust standard errors.

    Parameters
    ----------
    data : pandas.DataFrame
        Table with one row per unit.
    formula : str
        Patsy formula, e.g. ``"score ~ log_pop + urban"``. Rows with a missing value in a
        used column are dropped.
    cov_type : {"HC0", "HC1", "HC2", "HC3"}, default "HC3"
        Sandwich estimator; HC3 (MacKinnon & White, 1985) suits small samples.
    ci : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per coefficient with columns ``model, term, estimate, se, ci_low,
        ci_high, p_val, n, n_groups, note``; inference uses t with ``n - k`` degrees of
        freedom; ``n_groups`` is NaN. Degenerate designs (fewer rows than parameters
        + 2, a constant regressor, collinearity) give one NaN row with the reason in
        ``note``.

    Raises
    ------
    ParameterError
        If ``cov_type`` or ``ci`` is not allowed or the formula cannot be evaluated on
        ``data`` (a ``ValueError``; the message lists the available columns).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6], "y": [1.1, 1.9, 3.2, 3.9, 5.2, 5.8]})
    >>> res = ols_robust(df, "y ~ x")
    >>> res[["term", "estimate"]].round(3).values.tolist()
    [['Intercept', 0.107], ['x', 0.974]]
    >>> res["model"].iloc[0], int(res["n"].iloc[0])
    ('ols_hc3', 6)
    """
    _check_frame(data)
    ci = _check_ci(ci)
    if cov_type not in ROBUST_COV_TYPES:
        allowed = ", ".join(repr(c) for c in ROBUST_COV_TYPES)
        raise ParameterError(f"cov_type must be one of {allowed}; got {cov_type!r}")
    name = f"ols_{cov_type.lower()}"
    data = _formula_data(data)
    n = _n_used(formula, data)
    if n == 0:
        return _degenerate(name, 0, math.nan, "no complete rows for the variables in the formula")
    model = _build_model(smf.ols, formula, data)
    problem = _design_problem(model.exog, list(model.exog_names), n)
    if problem:
        return _degenerate(name, n, math.nan, problem)
    result, messages = _caught(model.fit, cov_type=cov_type, use_t=True)
    exog = model.exog
    leverage = np.einsum("ij,jk,ik->i", exog, np.linalg.pinv(exog.T @ exog), exog)
    if cov_type in ("HC2", "HC3") and leverage.max() > 1 - _LEVERAGE_TOL:
        # HC2/HC3 divide by 1 - h; at h = 1 the residual is 0 and the ratio is rounding noise
        messages.insert(
            0,
            f"{int((leverage > 1 - _LEVERAGE_TOL).sum())} row(s) with leverage 1 "
            f"(e.g. a dummy for a single unit): {cov_type} standard errors unreliable",
        )
    return _regression_frame(
        _tidy_rows(name, result, list(model.exog_names), ci, n, math.nan, _join(messages))
    )


def _fe_term(group: Hashable) -> str:
    text = str(group)
    if text.isidentifier():
        return f"C({text})"
    return f"C(Q({text!r}))"


def ols_fixed_effects(
    data: pd.DataFrame, formula: str, *, group: Hashable, ci: float = 0.95
) -> pd.DataFrame:
    """OLS with group fixed effects and standard errors clustered by group.

    ``C(group)`` is added to the formula; the fixed-effect dummies are estimated but not
    reported. Standard errors are cluster-robust (CR1, statsmodels ``cov_type="cluster"``)
    with t inference on ``n_groups - 1`` degrees of freedom.

    Parameters
    ----------
    data : pandas.DataFrame
        Table with one row per unit.
    formula : str
        Patsy formula without the fixed effects, e.g. ``"score ~ log_pop"``.
    group : hashable
        Column whose levels get fixed effects and define the clusters.
    ci : float, default 0.95
        Two-sided confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, term, estimate, se, ci_low, ci_high, p_val, n, n_groups,
        note`` for the non-fixed-effect terms; ``n_groups`` is the number of clusters.
        With fewer than 10 clusters ``note`` warns that clustered SEs are unreliable.
        Degenerate input gives one NaN row with the reason in ``note``.

    Raises
    ------
    ParameterError
        If ``ci`` is not allowed or the formula cannot be evaluated on ``data`` (a
        ``ValueError``; the message lists the available columns).
    MissingColumnError
        If ``group`` is not a column of ``data``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"g": list("aabbcc") * 2, "x": range(12),
    ...                    "y": [1, 2, 4, 4, 7, 8, 7, 8, 11, 9, 12, 14]})
    >>> res = ols_fixed_effects(df, "y ~ x", group="g")
    >>> res["term"].tolist(), int(res["n_groups"].iloc[0])
    (['Intercept', 'x'], 3)
    >>> res["note"].iloc[0]
    'few clusters (n_groups = 3 < 10): clustered SEs unreliable'
    """
    _check_frame(data)
    ci = _check_ci(ci)
    _check_column(data, group, "group")
    _check_formula(formula)
    name = "ols_fe_cluster"
    data = _formula_data(data)
    fe = _fe_term(group)
    full = f"{formula} + {fe}"
    n = _n_used(full, data)
    if n == 0:
        return _degenerate(name, 0, math.nan, "no complete rows for the variables in the formula")
    model = _build_model(smf.ols, full, data)
    groups = data.loc[np.asarray(model.data.row_labels), group]
    codes, levels = pd.factorize(groups)
    n_groups = len(levels)
    if n_groups < 2:
        return _degenerate(
            name, n, float(n_groups),
            f"n_groups = {n_groups}: fixed effects and clustered SEs need at least 2 groups",
        )
    names = list(model.exog_names)
    problem = _design_problem(model.exog, names, n)
    if problem:
        return _degenerate(name, n, float(n_groups), problem)
    result, messages = _caught(
        model.fit, cov_type="cluster", cov_kwds={"groups": codes}, use_t=True
    )
    notes = []
    if n_groups < FEW_CLUSTERS:
        notes.append(
            f"few clusters (n_groups = {n_groups} < {FEW_CLUSTERS}): clustered SEs unreliable"
        )
    terms = [term for term in names if not term.startswith(f"{fe}[")]
    return _regression_frame(
        _tidy_rows(name, result, terms, ci, n, float(n_groups), _join(notes + messages))
    )


def mixed_intercept(
    data: pd.DataFrame, formula: str, *, group: Hashable, ci: float = 0.95
) -> pd.DataFrame:
    """Linear mixed model with a random intercept per group, fitted by REML.

    Parameters
    ----------
    data : pandas.DataFrame
        Table with one row per unit.
    formula : str
        Patsy formula for the fixed part, e.g. ``"score ~ log_pop"``.
    group : hashable
        Column defining the groups that share a random intercept.
    ci : float, default 0.95
        Two-sided confidence level (normal-based, as in statsmodels).

    Returns
    -------
    pandas.DataFrame
        Columns ``model, term, estimate, se, ci_low, ci_high, p_val, n, n_groups,
        note``: the fixed-effect terms, then a ``"Group Var"`` row whose estimate is
        the random-intercept variance (no Wald SE, interval or p-value, which are
        unreliable for a variance near zero). Convergence warnings from statsmodels are
        put in ``note`` instead of being printed. At a boundary fit (group variance
        ≤ ``BOUNDARY_SHARE`` × residual variance) the model is OLS: the OLS estimates
        and SEs are reported and ``note`` says so. Degenerate input
        gives one NaN row with the reason in ``note``.

    Raises
    ------
    ParameterError
        If ``ci`` is not allowed or the formula cannot be evaluated on ``data`` (a
        ``ValueError``; the message lists the available columns).
    MissingColumnError
        If ``group`` is not a column of ``data``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(8), 5)
    >>> x = rng.normal(size=40)
    >>> df = pd.DataFrame({"g": g, "x": x,
    ...                    "y": 1 + 2 * x + rng.normal(size=8)[g] + rng.normal(size=40)})
    >>> res = mixed_intercept(df, "y ~ x", group="g")
    >>> res["term"].tolist()
    ['Intercept', 'x', 'Group Var']
    >>> bool(res.loc[res["term"] == "Group Var", "estimate"].iloc[0] >= 0)
    True
    """
    _check_frame(data)
    ci = _check_ci(ci)
    _check_column(data, group, "group")
    name = "mixedlm_reml"
    data = _formula_data(data.loc[data[group].notna()])
    n = _n_used(formula, data)
    if n == 0:
        return _degenerate(
            name, 0, math.nan, "no complete rows for the variables in the formula and group"
        )
    fixed = _build_model(smf.ols, formula, data)
    used = data.loc[np.asarray(fixed.data.row_labels)].reset_index(drop=True)
    n_groups = int(used[group].nunique())
    if n_groups < 2:
        return _degenerate(
            name, n, float(n_groups),
            f"n_groups = {n_groups}: a random intercept needs at least 2 groups",
        )
    names = list(fixed.exog_names)
    problem = _design_problem(fixed.exog, names, n)
    if problem:
        return _degenerate(name, n, float(n_groups), problem)
    model = _build_model(smf.mixedlm, formula, used, groups=used[group].to_numpy())
    try:
        result, messages = _caught(model.fit, reml=True)
    except (np.linalg.LinAlgError, ValueError) as err:
        return _degenerate(name, n, float(n_groups), f"MixedLM fit failed: {err}")
    notes = []
    if not result.converged:
        notes.append("MixedLM did not converge")
    if n_groups < FEW_CLUSTERS:
        notes.append(
            f"few groups (n_groups = {n_groups} < {FEW_CLUSTERS}): group variance imprecise"
        )
    group_var = float(np.asarray(result.cov_re)[0, 0])
    scale = float(result.scale)
    if not group_var > BOUNDARY_SHARE * scale:
        # Boundary fit: with the random-intercept variance at (about) zero the REML fit is the
        # OLS fit, but statsmodels' Hessian SEs at the boundary are not OLS's (they come out far
        # larger). Report the OLS fit, which is what the model reduces to, and say so.
        ols = fixed.fit()
        boundary = (f"boundary fit: group variance {group_var:.3g} is about 0 (≤ {BOUNDARY_SHARE:g} × "
                    f"residual variance {scale:.3g}); the model reduces to OLS, whose estimates and "
                    f"SEs are reported")
        notes = [m for m in notes + messages if "boundary" not in m.lower()
                 and "singular" not in m.lower()] + [boundary]
        rows = _tidy_rows(name, ols, names, ci, n, float(n_groups), _join(notes))
        rows.append({"model": name, "term": "Group Var", "estimate": max(group_var, 0.0), "se": math.nan,
                     "ci_low": math.nan, "ci_high": math.nan, "p_val": math.nan, "n": n,
                     "n_groups": float(n_groups),
                     "note": _join([boundary, "random-intercept variance; Wald SE not reported"])})
        return _regression_frame(rows)
    note = _join(notes + messages)
    k_fe = len(names)
    fe_bounds = np.asarray(result.conf_int(alpha=1 - ci))[:k_fe]
    fe_params = np.asarray(result.fe_params)
    fe_se = np.asarray(result.bse_fe)
    fe_p = np.asarray(result.pvalues)[:k_fe]
    rows = [
        {
            "model": name, "term": term, "estimate": float(fe_params[j]),
            "se": float(fe_se[j]), "ci_low": float(fe_bounds[j, 0]),
            "ci_high": float(fe_bounds[j, 1]), "p_val": float(fe_p[j]),
            "n": n, "n_groups": float(n_groups), "note": note,
        }
        for j, term in enumerate(names)
    ]
    rows.append(
        {
            "model": name, "term": "Group Var",
            "estimate": group_var, "se": math.nan,
            "ci_low": math.nan, "ci_high": math.nan, "p_val": math.nan,
            "n": n, "n_groups": float(n_groups),
            "note": _join([note, "random-intercept variance; Wald SE not reported"]),
        }
    )
    return _regression_frame(rows)
