"""Tests for analysis.stats against hand computations, scipy and numpy, not its own output."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from analysis.errors import DataError, ParameterError
from analysis.stats import (
    CORRELATION_COLUMNS,
    REGRESSION_COLUMNS,
    MissingColumnError,
    ceiling_floor,
    correlation_matrix,
    correlation_test,
    fisher_ci,
    mixed_intercept,
    ols_fixed_effects,
    ols_robust,
)

Z975 = sps.norm.ppf(0.975)


def hand_fisher(r, se, crit=Z975):
    z = math.atanh(r)
    return math.tanh(z - crit * se), math.tanh(z + crit * se)


def hand_bh(p):
    """Benjamini-Hochberg step-up adjustment, written out independently of statsmodels."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        adjusted[i] = running
    return adjusted


def hand_holm(p):
    """Holm step-down adjustment, written out independently of statsmodels."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


@pytest.fixture
def small():
    return pd.DataFrame({"x": [1, 2, 3, 4, 5], "y": [2, 4, 5, 4, 5]})


@pytest.fixture
def noisy():
    rng = np.random.default_rng(7)
    n = 60
    a = rng.normal(size=n)
    b = 0.4 * a + rng.normal(size=n)
    b = np.round(b, 1)  # ties, so tau-b differs from tau-a
    a[[3, 10]] = np.nan
    b[[10, 20, 30]] = np.nan
    return pd.DataFrame({"a": a, "b": b})


# --------------------------------------------------------------------- fisher_ci


def test_fisher_ci_matches_hand_formula():
    low, high = fisher_ci(0.5, 30)
    exp_low, exp_high = hand_fisher(0.5, 1 / math.sqrt(27))
    assert low == pytest.approx(exp_low, abs=1e-12)
    assert high == pytest.approx(exp_high, abs=1e-12)


def test_fisher_ci_custom_variance_and_level():
    low, high = fisher_ci(-0.3, 50, ci=0.90, var=0.437 / 46)
    exp = hand_fisher(-0.3, math.sqrt(0.437 / 46), crit=sps.norm.ppf(0.95))
    assert (low, high) == pytest.approx(exp, abs=1e-12)


@pytest.mark.filterwarnings("error")
def test_fisher_ci_edges():
    assert all(math.isnan(v) for v in fisher_ci(0.5, 3))
    assert all(math.isnan(v) for v in fisher_ci(math.nan, 30))
    assert fisher_ci(1.0, 10) == (1.0, 1.0)
    assert fisher_ci(-1.0, 10) == (-1.0, -1.0)
    assert fisher_ci(1 + 1e-15, 10) == (1.0, 1.0)  # rounding overshoot is clipped
    with pytest.raises(ValueError, match="ci"):
        fisher_ci(0.5, 30, ci=95)


# ------------------------------------------------------------- correlation_test


def test_columns_fixed_and_rows_concatenate(small):
    res = correlation_test(small, "x", "y")
    assert tuple(res.columns) == CORRELATION_COLUMNS
    assert list(res.columns) == [
        "x", "y", "n", "r", "ci_low", "ci_high", "p_val", "method", "ci_method", "note",
    ]
    both = pd.concat([res, correlation_test(small, "y", "x", "kendall")], ignore_index=True)
    assert both[["x", "y"]].values.tolist() == [["x", "y"], ["y", "x"]]
    assert res.loc[0, "note"] == ""


def test_pearson_worked_example_by_hand(small):
    # deviations: dx = -2,-1,0,1,2; dy = -2,0,1,0,1 -> Sxy = 6, Sxx = 10, Syy = 6
    r = 6 / math.sqrt(10 * 6)
    assert r == pytest.approx(0.7745966692414834, abs=1e-15)
    t = r * math.sqrt(3) / math.sqrt(1 - r**2)
    p = 2 * sps.t.sf(t, 3)
    low, high = math.tanh(math.atanh(r) - Z975 / math.sqrt(2)), math.tanh(
        math.atanh(r) + Z975 / math.sqrt(2)
    )
    row = correlation_test(small, "x", "y").iloc[0]
    assert row["n"] == 5
    assert row["r"] == pytest.approx(r, abs=1e-12)
    assert row["p_val"] == pytest.approx(p, rel=1e-9)
    assert row["ci_low"] == pytest.approx(low, abs=1e-12)
    assert row["ci_high"] == pytest.approx(high, abs=1e-12)
    assert row["ci_low"] == pytest.approx(-0.3401, abs=1e-4)
    assert row["ci_high"] == pytest.approx(0.9842, abs=1e-4)
    assert row["method"] == "pearson"
    assert row["ci_method"] == "fisher-z"


def test_pearson_against_scipy_with_pairwise_drop(noisy):
    keep = noisy.dropna()
    expected = sps.pearsonr(keep["a"], keep["b"])
    row = correlation_test(noisy, "a", "b").iloc[0]
    assert row["n"] == len(keep) == 56
    assert row["r"] == pytest.approx(expected.statistic, abs=1e-12)
    assert row["p_val"] == pytest.approx(expected.pvalue, rel=1e-9)
    exp_low, exp_high = hand_fisher(expected.statistic, 1 / math.sqrt(len(keep) - 3))
    assert row["ci_low"] == pytest.approx(exp_low, abs=1e-12)
    assert row["ci_high"] == pytest.approx(exp_high, abs=1e-12)


def test_pearson_ci_level(noisy):
    keep = noisy.dropna()
    r = sps.pearsonr(keep["a"], keep["b"]).statistic
    row = correlation_test(noisy, "a", "b", ci=0.90).iloc[0]
    exp = hand_fisher(r, 1 / math.sqrt(len(keep) - 3), crit=sps.norm.ppf(0.95))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(exp, abs=1e-12)


def test_spearman_against_scipy_and_bonett_wright(noisy):
    keep = noisy.dropna()
    n = len(keep)
    expected = sps.spearmanr(keep["a"], keep["b"])
    r = expected.statistic
    row = correlation_test(noisy, "a", "b", "spearman").iloc[0]
    assert row["r"] == pytest.approx(r, abs=1e-12)
    assert row["p_val"] == pytest.approx(expected.pvalue, rel=1e-9)
    exp = hand_fisher(r, math.sqrt((1 + r**2 / 2) / (n - 3)))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(exp, abs=1e-12)
    assert row["ci_method"] == "fisher-z bonett-wright"


def test_kendall_tau_b_against_scipy_and_bonett_wright(noisy):
    keep = noisy.dropna()
    n = len(keep)
    expected = sps.kendalltau(keep["a"], keep["b"], variant="b")
    tau = expected.statistic
    row = correlation_test(noisy, "a", "b", "kendall").iloc[0]
    assert row["r"] == pytest.approx(tau, abs=1e-12)
    assert row["p_val"] == pytest.approx(expected.pvalue, rel=1e-9)
    exp = hand_fisher(tau, math.sqrt(0.437 / (n - 4)))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(exp, abs=1e-12)
    assert row["ci_method"] == "fisher-z bonett-wright"


def test_kendall_tau_b_by_hand_with_ties():
    # pairs (1,1) (2,2) (3,2) (4,3): concordant 5, discordant 0, ties in y only 1
    df = pd.DataFrame({"x": [1, 2, 3, 4], "y": [1, 2, 2, 3]})
    tau_b = 5 / math.sqrt((6 - 0) * (6 - 1))
    row = correlation_test(df, "x", "y", "kendall").iloc[0]
    assert row["r"] == pytest.approx(tau_b, abs=1e-12)


# ------------------------------------------------------------ degenerate input


@pytest.mark.filterwarnings("error")
def test_too_few_pairs():
    df = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0], "y": [3.0, 1.0, 2.0, np.nan]})
    row = correlation_test(df, "x", "y").iloc[0]
    assert row["n"] == 2
    assert all(math.isnan(row[c]) for c in ("r", "ci_low", "ci_high", "p_val"))
    assert row["note"] == "n = 2 < 4 complete pairs: too few units to estimate a correlation"


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall"])
def test_constant_column(method):
    df = pd.DataFrame({"waiting": np.arange(17.0), "satisfaction": [18] * 17})
    row = correlation_test(df, "waiting", "satisfaction", method).iloc[0]
    assert row["n"] == 17
    assert all(math.isnan(row[c]) for c in ("r", "ci_low", "ci_high", "p_val"))
    assert row["note"] == (
        "'satisfaction' is constant (18 for all 17 units): no variance, correlation undefined"
    )


@pytest.mark.filterwarnings("error")
def test_all_nan_column():
    df = pd.DataFrame({"x": np.arange(6.0), "empty": [np.nan] * 6})
    row = correlation_test(df, "x", "empty", "spearman").iloc[0]
    assert row["n"] == 0
    assert math.isnan(row["r"]) and math.isnan(row["p_val"])
    assert "'empty'" in row["note"] and "no non-missing values" in row["note"]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall"])
def test_perfect_correlation(method):
    df = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6], "y": [12, 10, 8, 6, 4, 2]})
    row = correlation_test(df, "x", "y", method).iloc[0]
    assert row["r"] == pytest.approx(-1.0)
    assert row["ci_low"] == pytest.approx(-1.0) and row["ci_high"] == pytest.approx(-1.0)
    assert "perfect correlation" in row["note"]


@pytest.mark.filterwarnings("error")
def test_kendall_with_four_pairs_has_no_interval():
    df = pd.DataFrame({"x": [1, 2, 3, 4], "y": [1, 3, 2, 4]})
    row = correlation_test(df, "x", "y", "kendall").iloc[0]
    assert row["r"] == pytest.approx(sps.kendalltau([1, 2, 3, 4], [1, 3, 2, 4]).statistic)
    assert math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    assert "at least 5" in row["note"]


@pytest.mark.filterwarnings("error")
def test_near_constant_warning_goes_to_note():
    df = pd.DataFrame({"a": [1.0, 1 + 1e-15, 1, 1, 1 + 2e-15, 1], "b": [1, 2, 3, 4, 5, 6]})
    row = correlation_test(df, "a", "b").iloc[0]
    assert "nearly constant" in row["note"]


@pytest.mark.filterwarnings("error")
def test_unknown_method_raises(small):
    with pytest.raises(ParameterError, match="method") as info:
        correlation_test(small, "x", "y", "pearsn")
    assert isinstance(info.value, ValueError)
    for allowed in ("pearson", "spearman", "kendall"):
        assert allowed in str(info.value)


@pytest.mark.filterwarnings("error")
def test_missing_column_raises(small):
    with pytest.raises(ValueError, match="'score'") as info:
        correlation_test(small, "x", "score")
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, MissingColumnError)
    assert "'x', 'y'" in str(info.value)


@pytest.mark.filterwarnings("error")
def test_parameter_errors(small):
    with pytest.raises(DataError, match="column 'label': must be numeric"):
        correlation_test(small.assign(label=list("abcde")), "x", "label")
    with pytest.raises(ValueError, match="ci"):
        correlation_test(small, "x", "y", ci=1.5)
    with pytest.raises(TypeError, match="column name"):
        correlation_test(small, "x", [2, 4, 5, 4, 5])
    with pytest.raises(TypeError, match="DataFrame"):
        correlation_test({"x": [1, 2]}, "x", "y")


@pytest.mark.filterwarnings("error")
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(-1e6, 1e6)),
            st.one_of(st.none(), st.floats(-1e6, 1e6)),
        ),
        min_size=0,
        max_size=25,
    ),
    st.sampled_from(["pearson", "spearman", "kendall"]),
)
def test_never_crashes_or_warns(pairs, method):
    df = pd.DataFrame(pairs, columns=["x", "y"], dtype=float)
    row = correlation_test(df, "x", "y", method).iloc[0]
    keep = df.dropna()
    assert row["n"] == len(keep)
    if math.isnan(row["r"]):
        assert row["note"] != ""
    else:
        assert -1 <= row["r"] <= 1
        if not math.isnan(row["ci_low"]):
            assert row["ci_low"] <= row["r"] + 1e-12 <= row["ci_high"] + 2e-12


# ---------------------------------------------------------------- ceiling_floor


def test_ceiling_floor_by_hand():
    values = pd.Series([20, 20, 19.5, 0, 0, 0, 12, np.nan])
    assert ceiling_floor(values, maximum=20) == {
        "share_at_max": 2 / 7, "share_at_min": 3 / 7, "n": 7,
    }
    assert ceiling_floor([4, 5, 5 - 1e-12, 1], maximum=5, minimum=1) == {
        "share_at_max": 0.5, "share_at_min": 0.25, "n": 4,
    }


@pytest.mark.filterwarnings("error")
def test_ceiling_floor_degenerate_and_errors():
    empty = ceiling_floor([np.nan, None], maximum=10)
    assert empty["n"] == 0 and math.isnan(empty["share_at_max"])
    with pytest.raises(ValueError, match="maximum"):
        ceiling_floor([1, 2], maximum=0)
    with pytest.raises(ValueError, match="numeric"):
        ceiling_floor(["a", "b"], maximum=10)


# ----------------------------------------------------------- correlation_matrix


def test_hand_adjustments_on_fixed_p_values():
    p = [0.01, 0.04, 0.03, 0.2]
    assert hand_bh(p) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert hand_holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.2])


@pytest.fixture
def scores():
    rng = np.random.default_rng(2024)
    n = 40
    mdhl = rng.integers(0, 11, size=n).astype(float)
    other = rng.integers(0, 21, size=n).astype(float)
    df = pd.DataFrame({
        "MDHL": mdhl,
        "OTHER": other,
        "TOTAL": mdhl + other,
        "NOISE": rng.normal(size=n),
        "satisfaction": 18.0,
    })
    df.loc[[0, 1], "NOISE"] = np.nan
    return df


@pytest.mark.filterwarnings("error")
def test_matrix_long_form_and_adjusted_p(scores):
    pairs = [("MDHL", "TOTAL"), ("OTHER", "NOISE"), ("MDHL", "satisfaction"), ("NOISE", "TOTAL")]
    res = correlation_matrix(scores, pairs, "spearman")
    assert len(res) == 4
    assert list(res.columns[: len(CORRELATION_COLUMNS)]) == list(CORRELATION_COLUMNS)
    for i, (x, y) in enumerate(pairs[:2] + pairs[3:]):
        i = i if i < 2 else 3
        keep = scores[[x, y]].dropna()
        assert res.loc[i, "r"] == pytest.approx(sps.spearmanr(keep[x], keep[y]).statistic)
    assert math.isnan(res.loc[2, "p_val"])
    assert math.isnan(res.loc[2, "p_bh"]) and math.isnan(res.loc[2, "p_holm"])
    valid = res["p_val"].notna()
    p = res.loc[valid, "p_val"].to_numpy()
    assert res.loc[valid, "p_bh"].to_numpy() == pytest.approx(hand_bh(p))
    assert res.loc[valid, "p_holm"].to_numpy() == pytest.approx(hand_holm(p))
    assert not any(c.endswith("share_at_max") for c in res.columns)


def test_matrix_part_of_flags(scores):
    pairs = [("MDHL", "TOTAL"), ("TOTAL", "MDHL"), ("OTHER", "TOTAL"), ("OTHER", "NOISE")]
    res = correlation_matrix(scores, pairs, part_of={"MDHL": "TOTAL", "OTHER": ["TOTAL", "X"]})
    assert res["x_part_of_y"].tolist() == [True, False, True, False]
    assert correlation_matrix(scores, pairs)["x_part_of_y"].tolist() == [False] * 4


def test_matrix_ceiling_floor_shares(scores):
    res = correlation_matrix(
        scores, [("MDHL", "NOISE"), ("TOTAL", "MDHL")], maxima={"MDHL": 10, "TOTAL": 30}
    )
    complete = scores["NOISE"].notna()
    mdhl = scores.loc[complete, "MDHL"]
    assert res.loc[0, "x_share_at_max"] == pytest.approx((mdhl == 10).mean())
    assert res.loc[0, "x_share_at_min"] == pytest.approx((mdhl == 0).mean())
    assert math.isnan(res.loc[0, "y_share_at_max"]) and math.isnan(res.loc[0, "y_share_at_min"])
    assert res.loc[1, "x_share_at_max"] == pytest.approx((scores["TOTAL"] == 30).mean())
    assert res.loc[1, "y_share_at_max"] == pytest.approx((scores["MDHL"] == 10).mean())
    assert res.loc[1, "y_share_at_min"] == pytest.approx((scores["MDHL"] == 0).mean())


@pytest.mark.filterwarnings("error")
def test_matrix_empty_and_bad_pairs(scores):
    empty = correlation_matrix(scores, [])
    assert empty.empty and "p_bh" in empty.columns
    with pytest.raises(ValueError, match="pairs"):
        correlation_matrix(scores, ["MDHL"])
    with pytest.raises(ValueError, match="method"):
        correlation_matrix(scores, [("MDHL", "TOTAL")], "cramer")


# ------------------------------------------------------------------- regression


@pytest.fixture
def reg_data():
    rng = np.random.default_rng(99)
    n = 30
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 3, size=n)
    y = 1.0 + 0.5 * x1 - 0.8 * x2 + rng.normal(scale=0.5 + np.abs(x1), size=n)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2})


def hand_sandwich(X, y, kind):
    n, k = X.shape
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ X.T @ y
    e = y - X @ beta
    h = np.einsum("ij,jk,ik->i", X, bread, X)
    weights = {"HC0": e**2, "HC1": e**2 * n / (n - k), "HC3": e**2 / (1 - h) ** 2}[kind]
    cov = bread @ (X.T * weights) @ X @ bread
    return beta, np.sqrt(np.diag(cov))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("kind", ["HC3", "HC0", "HC1"])
def test_ols_robust_against_hand_sandwich(reg_data, kind):
    X = np.column_stack([np.ones(len(reg_data)), reg_data["x1"], reg_data["x2"]])
    y = reg_data["y"].to_numpy()
    beta, se = hand_sandwich(X, y, kind)
    res = ols_robust(reg_data, "y ~ x1 + x2", cov_type=kind)
    assert tuple(res.columns) == REGRESSION_COLUMNS
    assert res["term"].tolist() == ["Intercept", "x1", "x2"]
    assert res["estimate"].to_numpy() == pytest.approx(beta, abs=1e-10)
    assert res["se"].to_numpy() == pytest.approx(se, rel=1e-9)
    df_resid = len(y) - 3
    t = beta / se
    assert res["p_val"].to_numpy() == pytest.approx(2 * sps.t.sf(np.abs(t), df_resid), rel=1e-7)
    crit = sps.t.ppf(0.975, df_resid)
    assert res["ci_low"].to_numpy() == pytest.approx(beta - crit * se, abs=1e-10)
    assert res["ci_high"].to_numpy() == pytest.approx(beta + crit * se, abs=1e-10)
    assert (res["n"] == 30).all() and res["n_groups"].isna().all()
    assert (res["note"] == "").all()


@pytest.mark.filterwarnings("error")
def test_ols_robust_drops_missing_rows(reg_data):
    data = reg_data.copy()
    data.loc[[2, 5], "x1"] = np.nan
    data.loc[7, "y"] = np.nan
    data["unused"] = np.nan  # columns outside the formula do not drop rows
    keep = data.dropna(subset=["y", "x1", "x2"])
    X = np.column_stack([np.ones(len(keep)), keep["x1"], keep["x2"]])
    beta, se = hand_sandwich(X, keep["y"].to_numpy(), "HC3")
    res = ols_robust(data, "y ~ x1 + x2")
    assert (res["n"] == 27).all()
    assert res["estimate"].to_numpy() == pytest.approx(beta, abs=1e-10)
    assert res["se"].to_numpy() == pytest.approx(se, rel=1e-9)


@pytest.mark.filterwarnings("error")
def test_ols_robust_degenerate(reg_data):
    few = ols_robust(reg_data.head(4), "y ~ x1 + x2")
    assert len(few) == 1 and few["estimate"].isna().all()
    assert few.loc[0, "n"] == 4
    assert few.loc[0, "note"] == (
        "n = 4 rows < 3 parameters + 2: too few rows to estimate the model"
    )

    const = ols_robust(reg_data.assign(satisfaction=18), "y ~ x1 + satisfaction")
    assert len(const) == 1 and math.isnan(const.loc[0, "se"])
    assert "'satisfaction' is constant (18 for all 30 rows)" in const.loc[0, "note"]

    empty = ols_robust(reg_data.assign(x1=np.nan), "y ~ x1")
    assert empty.loc[0, "n"] == 0 and empty.loc[0, "note"] != ""

    collinear = ols_robust(reg_data.assign(x3=2 * reg_data["x1"]), "y ~ x1 + x3")
    assert "rank deficient" in collinear.loc[0, "note"]


@pytest.mark.filterwarnings("error")
def test_ols_robust_flags_leverage_one(reg_data):
    single = reg_data.assign(only_first=[1.0] + [0.0] * (len(reg_data) - 1))
    res = ols_robust(single, "y ~ x1 + only_first")
    assert "1 row(s) with leverage 1" in res.loc[0, "note"]
    assert ols_robust(single, "y ~ x1 + only_first", cov_type="HC1").loc[0, "note"] == ""


@pytest.mark.filterwarnings("error")
def test_ols_robust_parameter_errors(reg_data):
    with pytest.raises(ValueError, match="cov_type"):
        ols_robust(reg_data, "y ~ x1", cov_type="HC9")
    with pytest.raises(ValueError, match="available columns"):
        ols_robust(reg_data, "y ~ nothere")


@pytest.fixture
def panel():
    rng = np.random.default_rng(5)
    groups = np.repeat([f"p{i:02d}" for i in range(12)], 6)
    effect = dict(zip(np.unique(groups), rng.normal(scale=2, size=12)))
    x = rng.normal(size=groups.size) + np.array([effect[g] for g in groups]) / 2
    z = rng.integers(0, 2, size=groups.size).astype(float)
    y = 2 + 0.7 * x - 0.4 * z + np.array([effect[g] for g in groups]) + rng.normal(size=x.size)
    # a shuffled, duplicated index must not break the group alignment
    index = rng.permutation(np.repeat(np.arange(36), 2))
    return pd.DataFrame({"province": groups, "x": x, "z": z, "y": y}, index=index)


def hand_fixed_effects(df, regressors, group):
    dummies = pd.get_dummies(df[group], drop_first=True, dtype=float)
    X = np.column_stack([np.ones(len(df)), df[regressors].to_numpy(), dummies.to_numpy()])
    y = df["y"].to_numpy()
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    e = y - X @ beta
    bread = np.linalg.inv(X.T @ X)
    codes = pd.factorize(df[group])[0]
    meat = np.zeros((X.shape[1], X.shape[1]))
    for g in np.unique(codes):
        score = X[codes == g].T @ e[codes == g]
        meat += np.outer(score, score)
    n, k = X.shape
    n_groups = codes.max() + 1
    factor = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    se = np.sqrt(np.diag(factor * bread @ meat @ bread))
    return beta[: 1 + len(regressors)], se[: 1 + len(regressors)], n_groups


@pytest.mark.filterwarnings("error")
def test_fixed_effects_against_dummy_least_squares(panel):
    beta, se, n_groups = hand_fixed_effects(panel, ["x", "z"], "province")
    res = ols_fixed_effects(panel, "y ~ x + z", group="province")
    assert tuple(res.columns) == REGRESSION_COLUMNS
    assert res["term"].tolist() == ["Intercept", "x", "z"]
    assert res["estimate"].to_numpy() == pytest.approx(beta, abs=1e-10)
    assert res["se"].to_numpy() == pytest.approx(se, rel=1e-8)
    # t inference on n_groups - 1 degrees of freedom
    p = 2 * sps.t.sf(np.abs(beta / se), n_groups - 1)
    assert res["p_val"].to_numpy() == pytest.approx(p, rel=1e-6)
    assert (res["n_groups"] == 12).all() and (res["n"] == 72).all()
    assert (res["note"] == "").all()


@pytest.mark.filterwarnings("error")
def test_fixed_effects_few_clusters_and_missing(panel):
    data = panel[panel["province"] < "p06"].reset_index(drop=True)
    data.loc[0, "x"] = np.nan
    data.loc[7, "province"] = None
    keep = data.dropna(subset=["x", "z", "y", "province"])
    beta, _, n_groups = hand_fixed_effects(keep, ["x"], "province")
    res = ols_fixed_effects(data, "y ~ x", group="province")
    assert res["estimate"].to_numpy() == pytest.approx(beta, abs=1e-10)
    assert n_groups == 6
    assert (res["n"] == len(keep)).all() and (res["n_groups"] == 6).all()
    assert (res["note"] == "few clusters (n_groups = 6 < 10): clustered SEs unreliable").all()


@pytest.mark.filterwarnings("error")
def test_fixed_effects_degenerate(panel):
    one = ols_fixed_effects(panel.assign(province="all"), "y ~ x", group="province")
    assert len(one) == 1 and math.isnan(one.loc[0, "estimate"])
    assert "at least 2 groups" in one.loc[0, "note"]
    # a regressor constant within province is absorbed by the fixed effects
    level = panel["province"].str[1:].astype(float)
    absorbed = ols_fixed_effects(panel.assign(level=level), "y ~ x + level", group="province")
    assert len(absorbed) == 1 and "rank deficient" in absorbed.loc[0, "note"]
    with pytest.raises(KeyError, match="district"):
        ols_fixed_effects(panel, "y ~ x", group="district")


@pytest.fixture
def balanced():
    rng = np.random.default_rng(11)
    n_groups, m = 10, 6
    g = np.repeat(np.arange(n_groups), m)
    y = 5 + rng.normal(scale=1.5, size=n_groups)[g] + rng.normal(size=g.size)
    return pd.DataFrame({"g": g, "y": y})


@pytest.mark.filterwarnings("error")
def test_mixed_intercept_matches_balanced_anova(balanced):
    # balanced one-way random effects: REML equals the ANOVA estimators when MSB > MSW
    n_groups, m = 10, 6
    means = balanced.groupby("g")["y"].mean()
    grand = balanced["y"].mean()
    msb = m * ((means - grand) ** 2).sum() / (n_groups - 1)
    msw = ((balanced["y"] - balanced["g"].map(means)) ** 2).sum() / (n_groups * (m - 1))
    assert msb > msw
    res = mixed_intercept(balanced, "y ~ 1", group="g")
    assert tuple(res.columns) == REGRESSION_COLUMNS
    assert res["term"].tolist() == ["Intercept", "Group Var"]
    fixed = res.iloc[0]
    assert fixed["estimate"] == pytest.approx(grand, abs=1e-8)
    assert fixed["se"] == pytest.approx(math.sqrt(msb / (n_groups * m)), rel=1e-4)
    lo, hi = grand - Z975 * fixed["se"], grand + Z975 * fixed["se"]
    assert (fixed["ci_low"], fixed["ci_high"]) == pytest.approx((lo, hi), rel=1e-8)
    assert res.iloc[1]["estimate"] == pytest.approx((msb - msw) / m, rel=1e-4)
    assert (res["n"] == 60).all() and (res["n_groups"] == 10).all()


@pytest.mark.filterwarnings("error")
def test_mixed_intercept_equals_ols_at_zero_group_variance():
    # x and the errors are centred within groups, so every group mean of y is exactly 1:
    # the REML group variance sits on the boundary and GLS reduces to OLS
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(10), 6)

    def within(v):
        return v - pd.Series(v).groupby(g).transform("mean").to_numpy()

    x = within(rng.normal(size=g.size))
    y = 1 + 2 * x + within(rng.normal(size=g.size))
    X = np.column_stack([np.ones(g.size), x])
    beta, ssr = np.linalg.lstsq(X, y, rcond=None)[:2]
    ols_se = np.sqrt(np.diag(ssr[0] / (g.size - 2) * np.linalg.inv(X.T @ X)))
    res = mixed_intercept(pd.DataFrame({"g": g, "x": x, "y": y}), "y ~ x", group="g")
    assert res["term"].tolist() == ["Intercept", "x", "Group Var"]
    assert res["estimate"].iloc[:2].to_numpy() == pytest.approx(beta, abs=1e-6)
    assert res["se"].iloc[:2].to_numpy() == pytest.approx(ols_se, rel=1e-3)
    group_var = res["estimate"].iloc[2]
    assert 0 <= group_var < 1e-4
    # the boundary warning is in the note instead of being printed (warnings are errors here)
    assert "boundary" in res["note"].iloc[0]


@pytest.mark.filterwarnings("error")
def test_mixed_intercept_boundary_reports_ols_not_hessian_ses():
    # no group effect; REML puts the group variance on 0 and statsmodels' Hessian SE of x comes
    # out about 56% above the OLS SE for this draw: the fit must say "boundary" and give OLS SEs
    rng = np.random.default_rng(21)
    g = np.repeat(np.arange(5), 4)
    x = rng.normal(size=20)
    df = pd.DataFrame({"g": g, "x": x, "y": 1 + 0.5 * x + rng.normal(size=20)})
    X = np.column_stack([np.ones(20), x])
    beta, ssr = np.linalg.lstsq(X, df["y"].to_numpy(), rcond=None)[:2]
    ols_se = np.sqrt(np.diag(ssr[0] / (20 - 2) * np.linalg.inv(X.T @ X)))
    res = mixed_intercept(df, "y ~ x", group="g")
    assert res["estimate"].iloc[:2].to_numpy() == pytest.approx(beta, abs=1e-6)
    assert res["se"].iloc[:2].to_numpy() == pytest.approx(ols_se, rel=1e-9)
    assert all("boundary fit" in n and "reduces to OLS" in n for n in res["note"])
    assert res["estimate"].iloc[2] >= 0 and math.isnan(res["se"].iloc[2])


@pytest.mark.filterwarnings("error")
def test_mixed_intercept_close_to_ols_with_small_group_variance():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(12), 8)
    x = rng.normal(size=g.size)
    df = pd.DataFrame({"g": g, "x": x, "y": 1 + 2 * x + rng.normal(size=g.size)})
    X = np.column_stack([np.ones(len(df)), x])
    beta = np.linalg.lstsq(X, df["y"].to_numpy(), rcond=None)[0]
    res = mixed_intercept(df, "y ~ x", group="g")
    assert res["estimate"].iloc[:2].to_numpy() == pytest.approx(beta, abs=0.05)
    assert res.loc[res["term"] == "Group Var", "estimate"].iloc[0] >= 0


@pytest.mark.filterwarnings("error")
def test_mixed_intercept_degenerate(balanced):
    const = mixed_intercept(balanced.assign(k=3.0), "y ~ k", group="g")
    assert len(const) == 1 and "'k' is constant" in const.loc[0, "note"]
    one = mixed_intercept(balanced.assign(g=1), "y ~ 1", group="g")
    assert len(one) == 1 and "at least 2 groups" in one.loc[0, "note"]
    empty = mixed_intercept(balanced.assign(y=np.nan), "y ~ 1", group="g")
    assert empty.loc[0, "n"] == 0 and math.isnan(empty.loc[0, "estimate"])
    few = mixed_intercept(balanced.iloc[[0, 6]], "y ~ 1", group="g")
    assert len(few) == 1 and "too few rows" in few.loc[0, "note"]


# ---------------------------------------------------------------- coverage


def _coverage(method, truth, reps=400, n=30, rho=0.5):
    rng = np.random.default_rng(12345)
    cov = [[1.0, rho], [rho, 1.0]]
    hits = 0
    for _ in range(reps):
        sample = rng.multivariate_normal([0.0, 0.0], cov, size=n)
        row = correlation_test(pd.DataFrame(sample, columns=["a", "b"]), "a", "b", method)
        hits += int(row.loc[0, "ci_low"] <= truth <= row.loc[0, "ci_high"])
    return hits / reps


@pytest.mark.slow
def test_pearson_fisher_coverage():
    assert 0.93 <= _coverage("pearson", 0.5) <= 0.97


@pytest.mark.slow
def test_spearman_bonett_wright_coverage():
    # population Spearman rho for a bivariate normal: (6 / pi) * asin(rho / 2)
    assert 0.92 <= _coverage("spearman", 6 / math.pi * math.asin(0.25)) <= 0.98


@pytest.mark.slow
def test_kendall_bonett_wright_coverage():
    # population Kendall tau for a bivariate normal: (2 / pi) * asin(rho)
    assert 0.92 <= _coverage("kendall", 2 / math.pi * math.asin(0.5)) <= 0.98
