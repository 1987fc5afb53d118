"""The headline question on the 17 communes of Na Rì (07/2024), checked against scipy on the
figures typed in from the seed report, plus the cases the data cannot answer."""
import numpy as np
import pytest
from scipy import stats as sps

from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.errors import ParameterError
from analysis.questions import online_vs_satisfaction

# Na Rì report 443/BC-UBND: online submission (I.3.1), online payment (I.3.2) and the satisfaction
# column of the commune table (II), in the order of the online-submission table.
COMMUNES = ["Cường Lợi", "Đồng Xá", "Dương Sơn", "Liêm Thủy", "Côn Minh", "Trần Phú", "Văn Lang", "Kim Hỷ",
            "Quang Phong", "Sơn Thành", "Văn Minh", "Cư Lễ", "Yên Lạc", "Xuân Dương", "Kim Lư", "Lương Thượng",
            "Văn Vũ"]
ONLINE = [100, 100, 87.1, 84.1, 84.1, 80, 76.8, 76.2, 68.6, 66.7, 63.6, 63, 62.1, 61.5, 48, 40, 20.7]
PAYMENT = [93.75, 33.33, 81.25, 90, 72.73, 10.42, 24.58, 73.33, 67.31, 66.67, 53.85, 69.57, 64.89, 58.33,
           51.43, 0, 0]
MDHL = [20, 20, 20, 20, 20, 20, 20, 17.9, 20, 20, 20, 20, 20, 20, 20, 14.7, 20]


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DATA_DIR)


@pytest.fixture(scope="module")
def nari(ds):
    return online_vs_satisfaction(ds, "2024-07", province="bac-kan")


def row(res, y, method):
    t = res.tests
    return t.loc[(t.x == "online_submission_rate") & (t.y == y) & (t.method == method)].iloc[0]


@pytest.mark.parametrize("method, scipy_fn", [("spearman", sps.spearmanr), ("pearson", sps.pearsonr)])
def test_online_vs_payment_matches_scipy(nari, method, scipy_fn):
    r = row(nari, "online_payment_rate", method)
    expected = scipy_fn(ONLINE, PAYMENT)
    assert r.n == 17
    assert r.r == pytest.approx(expected[0], abs=1e-12)
    assert r.p_val == pytest.approx(expected[1], rel=1e-9)
    assert r.ci_low < r.r < r.ci_high


def test_online_vs_satisfaction_with_ceiling_diagnostic(nari):
    assert nari.satisfaction == "MDHL"
    r = row(nari, "MDHL", "spearman")
    rho, p = sps.spearmanr(ONLINE, MDHL)
    assert r.r == pytest.approx(rho, abs=1e-12) and r.p_val == pytest.approx(p, rel=1e-9)
    # 15 of 17 communes are printed at 20 under a column whose maximum is 18: at the ceiling.
    assert r.y_share_at_max == pytest.approx(15 / 17)
    # Bonett–Wright interval on Fisher z, computed here by hand.
    z, se = np.arctanh(rho), np.sqrt((1 + rho**2 / 2) / (17 - 3))
    q = sps.norm.ppf(0.975)
    assert (r.ci_low, r.ci_high) == pytest.approx((np.tanh(z - q * se), np.tanh(z + q * se)))
    assert nari.answerable
    assert "trần" in nari.verdict_vi and "ceiling" in nari.verdict_en
    assert "0,24" in nari.verdict_vi  # decimal comma in the Vietnamese text


def test_unit_table_is_the_seventeen_communes(nari):
    assert len(nari.table) == 17
    assert sorted(n.split(" ", 1)[1] if n.startswith("xã") else n.replace("thị trấn ", "")
                  for n in nari.table["name"]) == sorted(COMMUNES)


def test_part_of_flag_marks_group_against_total(nari):
    t = nari.tests
    assert not t.loc[t.y == "TOTAL", "x_part_of_y"].any()  # online rate is not a part of the total
    assert "p_bh" in t and "p_holm" in t


def test_no_units_says_so_in_words(ds):
    res = online_vs_satisfaction(ds, "2024-07", province="tuyen-quang")
    assert not res.answerable
    assert "cần ít nhất 4" in res.verdict_vi and "at least 4" in res.verdict_en


def test_constant_satisfaction_says_so_in_words(ds):
    import copy

    flat = copy.copy(ds)
    flat.scores = ds.scores.copy()
    flat.scores.loc[flat.scores.group == "MDHL", "value"] = 18.0
    res = online_vs_satisfaction(flat, "2024-07", province="bac-kan")
    assert not res.answerable
    assert "như nhau ở mọi đơn vị" in res.verdict_vi
    assert np.isnan(row(res, "MDHL", "spearman").r)


def test_province_required_unless_pooled(ds):
    with pytest.raises(ParameterError, match="province"):
        online_vs_satisfaction(ds, "2024-07")
