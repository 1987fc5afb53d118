"""Comparative figures: what each figure contains (bars, points, tick labels, band colours,
annotations), checked against figures typed in by hand from the seed reports; the gallery renders
without missing glyphs; the same input gives the same PNG bytes."""
import math
import re
import unicodedata
import warnings

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from matplotlib.colors import to_hex, to_rgba
from matplotlib.text import Text
from scipy import stats as sps

from analysis import figures as F
from analysis import gallery
from analysis.config import DATA_DIR
from analysis.dataset import load_dataset
from analysis.errors import ParameterError
from analysis.reference import bands as reference_bands
from analysis.views import area_units, wide_values

NARI = "bac-kan/huyen-na-ri"
# Na Rì report 443/BC-UBND, table II, in its rank order (STT): name, total, band as printed.
NARI_TABLE = [
    ("xã Quang Phong", 89.49, "Tốt"), ("thị trấn Yên Lạc", 88.82, "Tốt"), ("xã Dương Sơn", 88.54, "Tốt"),
    ("xã Sơn Thành", 88.50, "Tốt"), ("xã Văn Minh", 88.30, "Tốt"), ("xã Côn Minh", 88.09, "Tốt"),
    ("xã Đồng Xá", 87.96, "Tốt"), ("xã Cư Lễ", 87.39, "Tốt"), ("xã Liêm Thủy", 86.82, "Tốt"),
    ("xã Cường Lợi", 86.45, "Tốt"), ("xã Xuân Dương", 84.04, "Tốt"), ("xã Kim Lư", 83.91, "Tốt"),
    ("xã Kim Hỷ", 82.98, "Tốt"), ("xã Trần Phú", 82.43, "Tốt"), ("xã Văn Lang", 81.93, "Tốt"),
    ("xã Văn Vũ", 73.97, "Khá"), ("xã Lương Thượng", 72.61, "Khá"),
]
# Satisfaction column (/18 in the header) of the same table, same order: 15 communes print 20.
NARI_MDHL = [20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 17.9, 20, 20, 20, 14.7]
# Xã Lương Thượng's row: CKMB 18/18, TDGQ 8/20, DVTT 17,31/22, MDHL 14,7/18, MDSH 14,6/22.
LUONG_THUONG_PCT = [100.0, 40.0, 17.31 / 22 * 100, 14.7 / 18 * 100, 14.6 / 22 * 100]
# Bắc Kạn report, paragraph 9: monthly totals and ranks of 63, January–July 2024.
BACKAN_TOTALS = [66.13, 62.72, 71.66, 75.35, 68.81, 76.94, 82.88]
BACKAN_RANKS = [31, 26, 21, 17, 33, 16, 8]
OKABE_ITO = {"#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#000000"}


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DATA_DIR)


@pytest.fixture(scope="module")
def nari(ds):
    return F.unit_totals(ds, "2024-07", area=NARI, level="commune", source="nari-2024-07")


@pytest.fixture(scope="module")
def nari_groups(ds):
    return F.unit_groups(ds, "2024-07", area=NARI, level="commune", source="nari-2024-07")


@pytest.fixture(scope="module")
def nari_rates(ds):
    communes = area_units(ds, NARI, level="commune")["unit_id"]
    specs = {"online": ("indicators", "online_submission_rate"), "payment": ("indicators", "online_payment_rate"),
             "MDHL": ("scores", "MDHL")}
    return wide_values(ds, specs, period="2024-07", units=communes)


@pytest.fixture(scope="module")
def synthetic_ds():
    synthetic = pytest.importorskip("analysis.synthetic")
    return synthetic.national(seed=0, months=1)


def drawn_texts(artist):
    """The texts an artist draws: its Text artists and the labels of its label columns."""
    found = list(artist.findobj(Text))
    for column in artist.findobj(F._Labels):
        found += column.texts()
    return found


def texts(fig, gid=None):
    return [t for t in drawn_texts(fig) if gid is None or t.get_gid() == gid]


def tick_texts(labels):
    return [t.get_text().replace("\n", " ") for t in labels]


def drawn_ticks(ax, which="x"):
    """Locations and labels of the ticks an axis draws (by matplotlib, or by figures._own_ticks:
    a column of labels with gid ``xtick-label``/``ytick-label``, marks ``xtick``/``ytick``)."""
    marks = [a for a in ax.lines if a.get_gid() == f"{which}tick"]
    if not marks:
        axis = ax.xaxis if which == "x" else ax.yaxis
        return list(axis.get_majorticklocs()), [t.get_text() for t in axis.get_majorticklabels()]
    locs = list((marks[0].get_xdata() if which == "x" else marks[0].get_ydata()))
    columns = [a for a in ax.artists if a.get_gid() == f"{which}tick-label"]
    return locs, (columns[0].get_texts() if columns else [])


def by_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def unit_labels(fig):
    """The unit names of a ranking, in bar order (texts left of the axes, not tick labels)."""
    return by_gid(drawn_texts(fig.axes[0]), "unit-label")


# --------------------------------------------------------------------------- palette and style


def test_palette_has_one_colour_per_reference_band_from_okabe_ito():
    assert list(F.BAND_COLOURS) == list(reference_bands()["band"])
    colours = [c.lower() for c in F.BAND_COLOURS.values()]
    assert len(set(colours)) == 5
    assert set(colours) <= OKABE_ITO
    assert {F.SERIES_COLOUR, F.OVER_MAX_COLOUR} <= OKABE_ITO
    assert not {F.SERIES_COLOUR, F.OVER_MAX_COLOUR} & set(colours)


def test_cut_points_come_from_reference_bands():
    table = F.cut_points()
    assert sorted(v for v in table["lower"] if v > 0) == [50, 70, 80, 90]
    assert table["label"].tolist()[0] == "Xuất sắc (≥ 90)"


@pytest.mark.parametrize("value, band", [(90.0, "Xuất sắc"), (89.99, "Tốt"), (80, "Tốt"), (79.99, "Khá"),
                                         (70, "Khá"), (69.99, "Trung bình"), (50, "Trung bình"),
                                         (49.99, "Yếu"), (0, "Yếu")])
def test_bands_of_uses_lower_inclusive_cut_points(value, band):
    assert F.bands_of([value]) == [band]


# --------------------------------------------------------------------------- 1. ranking bars


@pytest.fixture(scope="module")
def nari_ranking(nari):
    return F.ranking_bars(nari, highlight="xã Văn Vũ", reference=("huyện Na Rì", 87.15),
                          title="Huyện Na Rì – Tháng 7/2024")


def test_ranking_has_one_bar_per_commune_best_on_top(nari_ranking):
    ax = nari_ranking.axes[0]
    bars = ax.containers[0].patches
    assert len(bars) == 17
    assert tick_texts(unit_labels(nari_ranking)) == [name for name, _, _ in NARI_TABLE]
    assert not ax.get_yticks().size  # names are texts, not ticks
    assert [round(b.get_width(), 2) for b in bars] == [v for _, v, _ in NARI_TABLE]
    assert ax.yaxis_inverted()  # first label (best) on top


def test_ranking_bar_colour_is_the_printed_band(nari_ranking):
    bars = nari_ranking.axes[0].containers[0].patches
    for bar, (name, _, band) in zip(bars, NARI_TABLE):
        assert to_hex(bar.get_facecolor()) == F.BAND_COLOURS[band], name


def test_ranking_marks_cut_points_reference_and_highlight(nari_ranking):
    ax = nari_ranking.axes[0]
    cuts = {line.get_gid(): line.get_xdata()[0] for line in ax.lines if str(line.get_gid()).startswith("cut-")}
    assert cuts == {"cut-50": 50, "cut-70": 70, "cut-80": 80, "cut-90": 90}
    assert {t.get_text() for t in texts(nari_ranking) if str(t.get_gid()).startswith("cut-label")} == \
        {"50", "70", "80", "90"}
    ref = by_gid(ax.lines, "reference")
    assert len(ref) == 1 and ref[0].get_xdata()[0] == 87.15
    legend = [t.get_text() for t in nari_ranking.legends[0].get_texts()]
    assert "huyện Na Rì: 87,15" in legend and "Tốt (80–<90)" in legend
    labels = unit_labels(nari_ranking)
    bold = [t.get_text() for t in labels if t.get_fontweight() == "bold"]
    assert bold == ["xã Văn Vũ"]
    widths = [b.get_linewidth() for b in ax.containers[0].patches]
    assert widths[15] > 2 * max(widths[:15])


def test_ranking_value_labels_use_the_decimal_comma(nari_ranking):
    values = [t.get_text() for t in texts(nari_ranking, "value-label")]
    assert values[0] == "89,49" and values[-1] == "72,61" and len(values) == 17


def test_ranking_colours_every_band_of_phu_tan(ds):
    # Phú Tân, Phụ lục 1 (tuần 01): Phú Long 55,87 Trung bình; Hòa Lạc 75,17 Khá; Phú Hùng 89,21 Tốt.
    t = F.unit_totals(ds, "2024-05-w1", area="an-giang/huyen-phu-tan", level="commune")
    fig = F.ranking_bars(t)
    ax = fig.axes[0]
    colour = dict(zip(tick_texts(unit_labels(fig)), (to_hex(b.get_facecolor()) for b in ax.containers[0])))
    assert len(colour) == 18
    assert colour["Phú Long"] == F.BAND_COLOURS["Trung bình"]
    assert colour["Hòa Lạc"] == F.BAND_COLOURS["Khá"]
    assert colour["Phú Hùng"] == F.BAND_COLOURS["Tốt"]


def test_ranking_rejects_duplicates_and_unknown_highlight():
    df = pd.DataFrame({"name": ["xã A", "xã A"], "value": [80.0, 81.0]})
    with pytest.raises(ParameterError, match="several rows"):
        F.ranking_bars(df)
    with pytest.raises(ParameterError, match="xã Z"):
        F.ranking_bars(df.iloc[:1], highlight="xã Z")


def test_ranking_names_units_without_a_value():
    df = pd.DataFrame({"name": ["xã A", "xã B"], "value": [80.0, float("nan")]})
    fig = F.ranking_bars(df)
    assert len(fig.axes[0].containers[0]) == 1
    assert "xã B" in texts(fig, "footnote")[0].get_text()


# --------------------------------------------------------------------------- 2. group profile


def test_heatmap_shows_each_group_as_percent_of_its_maximum(nari, nari_groups):
    order = nari.sort_values("value", ascending=False, kind="mergesort")["unit_id"]
    data = nari_groups.set_index("unit_id").loc[order].reset_index()
    fig = F.group_profile_heatmap(data)
    ax = fig.axes[0]
    arr = np.asarray(ax.images[0].get_array())
    assert arr.shape == (17, 5)
    assert tick_texts(ax.get_yticklabels()) == [name for name, _, _ in NARI_TABLE]
    heads = tick_texts(ax.get_xticklabels())
    for name, top in [("Công khai, minh bạch", 18), ("Tiến độ, kết quả giải quyết", 20),
                      ("Cung cấp dịch vụ trực tuyến", 22), ("Mức độ hài lòng", 18), ("Số hóa hồ sơ", 22)]:
        assert any(h.startswith(name) and h.endswith(f"(/{top})") for h in heads), name
    np.testing.assert_allclose(arr[:, 3], np.array(NARI_MDHL) / 18 * 100)
    np.testing.assert_allclose(arr[-1], LUONG_THUONG_PCT)
    over = texts(fig, "over-max")
    assert len(over) == sum(v > 18 for v in NARI_MDHL) == 15
    assert all(t.get_text() == "111%*" for t in over)
    note = texts(fig, "over-max-note")[0].get_text()
    assert "vượt điểm tối đa" in note and "20/18" in note
    assert ax.images[0].cmap.get_over()[:3] == pytest.approx(to_rgba(F.OVER_MAX_COLOUR)[:3])


def test_heatmap_converts_six_groups_to_the_five_group_view():
    six = pd.DataFrame({"name": "huyện Na Rì", "group": ["CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH"],
                        "value": [14.6, 17.3, 6.6, 8.0, 17.8, 14.9]})
    fig = F.group_profile_heatmap(six, view="five")
    arr = np.asarray(fig.axes[0].images[0].get_array())
    assert arr.shape == (1, 5)
    assert arr[0, 2] == pytest.approx((6.6 + 8.0) / 22 * 100)
    assert np.asarray(F.group_profile_heatmap(six).axes[0].images[0].get_array()).shape == (1, 6)
    five = pd.DataFrame({"name": "xã A", "group": ["CKMB", "DVTT"], "value": [18, 13.99]})
    with pytest.raises(ParameterError, match="cannot be split"):
        F.group_profile_heatmap(five, view="six")


def test_unit_vs_average_sets_a_commune_against_the_district_mean(nari_groups):
    fig = F.unit_vs_average(nari_groups, "xã Lương Thượng")
    ax = fig.axes[0]
    unit, = by_gid(ax.lines, "unit")
    mean, = by_gid(ax.lines, "average")
    assert len(unit.get_xdata()) == len(mean.get_xdata()) == 5
    np.testing.assert_allclose(unit.get_xdata(), LUONG_THUONG_PCT)
    assert mean.get_xdata()[3] == pytest.approx(np.mean(NARI_MDHL) / 18 * 100)
    assert mean.get_xdata()[0] == pytest.approx(100.0)
    labels = tick_texts(ax.get_yticklabels())
    assert labels[0] == "Công khai, minh bạch (/18)" and labels[3] == "Mức độ hài lòng (/18)"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["Trung bình của khối (17 đơn vị)", "xã Lương Thượng"]
    assert fig.get_suptitle().startswith("Xã Lương Thượng")


# --------------------------------------------------------------------------- 3. correlation

# Na Rì report: online submission (I.3.1) and the satisfaction column of table II, in the order
# of the online-submission table (as in tests/test_questions.py).
ONLINE_ORDER = [100, 100, 87.1, 84.1, 84.1, 80, 76.8, 76.2, 68.6, 66.7, 63.6, 63, 62.1, 61.5, 48, 40, 20.7]
MDHL_ORDER = [20, 20, 20, 20, 20, 20, 20, 17.9, 20, 20, 20, 20, 20, 20, 20, 14.7, 20]


@pytest.fixture(scope="module")
def nari_scatter(nari_rates):
    return F.correlation_scatter(nari_rates, "online", "MDHL", x_label="Tỷ lệ hồ sơ nộp trực tuyến (%)",
                                 y_label="Điểm mức độ hài lòng (/18)", x_max=100, y_max=18,
                                 method="spearman")


def test_scatter_marks_the_units_at_the_ceiling(nari_scatter):
    ax = nari_scatter.axes[0]
    points, = by_gid(ax.collections, "points")
    ceiling, = by_gid(ax.collections, "ceiling")
    assert len(points.get_offsets()) + len(ceiling.get_offsets()) == 17
    assert len(ceiling.get_offsets()) == sum(v >= 18 for v in MDHL_ORDER) == 15
    assert sorted(np.asarray(points.get_offsets())[:, 1].tolist()) == [14.7, 17.9]
    assert to_hex(ceiling.get_facecolor()[0]) == F.OVER_MAX_COLOUR
    legend = [t.get_text() for t in nari_scatter.legends[0].get_texts()]
    assert "Đạt mức trần" in legend and "Đường hồi quy OLS" in legend
    assert "Khoảng tin cậy 95% của đường hồi quy" in legend


def test_scatter_annotates_n_r_ci_and_p_in_vietnamese_notation(nari_scatter):
    rho, p = sps.spearmanr(ONLINE_ORDER, MDHL_ORDER)
    z, half = math.atanh(rho), 1.959964 * math.sqrt((1 + rho ** 2 / 2) / 14)  # Bonett-Wright
    low, high = math.tanh(z - half), math.tanh(z + half)
    text = texts(nari_scatter, "stats")[0].get_text()

    def vi(x, d=2):
        return f"{x:.{d}f}".replace(".", ",").replace("-", "\u2212")

    assert text.startswith("n = 17")
    assert f"ρ (Spearman) = {vi(rho)}" in text
    assert f"KTC 95%: {vi(low)} đến {vi(high)}" in text
    assert f"p = {vi(p, 3)}" in text
    assert "Đạt mức trần: 15/17 đơn vị" in text


def test_scatter_line_is_ols_with_a_confidence_band(nari_rates):
    fig = F.correlation_scatter(nari_rates, "online", "payment", x_max=100, y_max=100)
    ax = fig.axes[0]
    line, = by_gid(ax.lines, "ols")
    x, y = line.get_xdata(), line.get_ydata()
    complete = nari_rates[["online", "payment"]].dropna()
    slope, intercept = np.polyfit(complete["online"], complete["payment"], 1)
    np.testing.assert_allclose(y, intercept + slope * x)
    band, = by_gid(ax.collections, "ols-ci")
    vertices = band.get_paths()[0].vertices
    model = sm.OLS(complete["payment"].to_numpy(), sm.add_constant(complete["online"].to_numpy())).fit()
    frame = model.get_prediction(sm.add_constant(x)).summary_frame(alpha=0.05)
    for xi, low, high in list(zip(x, frame["mean_ci_lower"], frame["mean_ci_upper"]))[::10]:
        at = vertices[np.isclose(vertices[:, 0], xi), 1]
        assert at.min() == pytest.approx(low) and at.max() == pytest.approx(high)
    assert "r (Pearson) = " in texts(fig, "stats")[0].get_text()


def test_scatter_without_a_ceiling_or_variance_says_so():
    df = pd.DataFrame({"a": [10.0, 20, 30, 40, 50], "b": [5.0, 5, 5, 5, 5]})
    fig = F.correlation_scatter(df, "a", "b", y_max=18)
    assert not by_gid(fig.axes[0].lines, "ols")
    assert "không tính được" in texts(fig, "stats")[0].get_text()
    assert "Đạt mức trần" not in [t.get_text() for t in fig.legends[0].get_texts()]


# --------------------------------------------------------------------------- 4. trend


@pytest.fixture(scope="module")
def backan_trend(ds):
    return F.trend(F.unit_series(ds, "bac-kan"))


def test_trend_draws_backan_january_to_july_2024(backan_trend):
    ax, ax_rank = backan_trend.axes
    points, = by_gid(ax.collections, "total-points")
    assert np.asarray(points.get_offsets())[:, 1].tolist() == BACKAN_TOTALS
    colours = [to_hex(c) for c in points.get_facecolors()]
    assert colours == [F.BAND_COLOURS[b] for b in F.bands_of(BACKAN_TOTALS)]
    assert colours[0] == F.BAND_COLOURS["Trung bình"] and colours[-1] == F.BAND_COLOURS["Tốt"]
    rank, = by_gid(ax_rank.lines, "rank-line")
    assert rank.get_ydata().tolist() == BACKAN_RANKS
    assert ax_rank.yaxis_inverted()
    assert ax_rank.get_ylabel() == "Xếp hạng (/63)"
    assert [t.replace("\n", " ") for t in drawn_ticks(ax_rank)[1]] == [f"{m}/2024" for m in range(1, 8)]
    assert drawn_ticks(ax)[1] == []  # the top panel shares the ticks, without labels
    assert [t.get_text() for t in texts(backan_trend, "value-label")][:2] == ["66,13", "62,72"]
    assert not by_gid(ax.lines, "merger")


def test_trend_shades_the_band_zones_in_the_palette(backan_trend):
    ax = backan_trend.axes[0]
    zones = {p.get_gid(): p for p in ax.patches if str(p.get_gid()).startswith("zone:")}
    assert set(zones) >= {"zone:Trung bình", "zone:Khá", "zone:Tốt", "zone:Xuất sắc"}
    for gid, patch in zones.items():
        assert to_hex(patch.get_facecolor()[:3]) == F.BAND_COLOURS[gid.split(":", 1)[1]]
        assert 0 < patch.get_alpha() < 0.5


def test_trend_across_the_july_2025_merger_is_flagged():
    df = pd.DataFrame({"period_id": ["2025-05", "2025-06", "2025-07", "2025-08"],
                       "value": [80.1, 81.2, 70.5, 72.0], "rank": [20, 18, 10, 9],
                       "rank_of": [63, 63, 34, 34], "name": "tỉnh X"})
    fig = F.trend(df)
    ax, ax_rank = fig.axes
    assert len(by_gid(ax.lines, "merger")) == 1 and len(by_gid(ax_rank.lines, "merger")) == 1
    assert "không so sánh" in texts(fig, "merger-note")[0].get_text()
    assert ax_rank.get_ylabel() == "Xếp hạng (/63 → /34)"


# --------------------------------------------------------------------------- 5. across provinces


def test_distributions_show_every_unit_by_area(ds, nari):
    phutan = F.unit_totals(ds, "2024-05-w1", area="an-giang/huyen-phu-tan", level="commune")
    sadec = F.unit_totals(ds, "2022-11", area="dong-thap/thanh-pho-sa-dec", level="commune")
    data = pd.concat([nari.assign(area="huyện Na Rì"), phutan.assign(area="huyện Phú Tân"),
                      sadec.assign(area="thành phố Sa Đéc")])
    fig = F.province_distributions(data, by="area")
    ax = fig.axes[0]
    units, = by_gid(ax.collections, "units")
    assert len(units.get_offsets()) == 17 + 18 + 9
    medians = {name: np.median(block["value"]) for name, block in data.groupby("area")}
    best_first = sorted(medians, key=medians.get, reverse=True)
    sizes = {"huyện Na Rì": 17, "huyện Phú Tân": 18, "thành phố Sa Đéc": 9}
    assert tick_texts(ax.get_yticklabels()) == [f"{name} (n = {sizes[name]})" for name in best_first]
    assert best_first[-1] == "thành phố Sa Đéc"
    xs = np.asarray(units.get_offsets())[:, 0]
    for x, colour in zip(xs, units.get_facecolors()):
        assert to_hex(colour) == F.BAND_COLOURS[F.bands_of([x])[0]]
    assert sum(to_hex(c) == F.BAND_COLOURS["Yếu"] for c in units.get_facecolors()) == 9  # Sa Đéc


def test_province_totals_label_the_published_rank(ds):
    t = F.unit_totals(ds, "2024-07", level="province")
    fig = F.province_totals(t, label="province", highlight="bac-kan")
    ax = fig.axes[0]
    assert len(ax.containers[0]) == 2
    assert tick_texts(unit_labels(fig)) == ["Bắc Kạn", "Tuyên Quang"]
    assert [t.get_text() for t in texts(fig, "value-label")] == ["82,88  (hạng 8/63)", "81,77  (hạng 14/63)"]
    assert [to_hex(b.get_facecolor()) for b in ax.containers[0]] == [F.BAND_COLOURS["Tốt"]] * 2


def test_province_totals_without_ranks_compute_competition_ranks():
    df = pd.DataFrame({"name": ["A", "B", "C"], "value": [80.0, 90.0, 80.0]})
    fig = F.province_totals(df, rank=None)
    assert [t.get_text() for t in texts(fig, "value-label")] == \
        ["90,00  (hạng 1/3)", "80,00  (hạng 2/3)", "80,00  (hạng 2/3)"]
    assert "tính trên các tỉnh" in texts(fig, "footnote")[0].get_text()


def test_small_multiples_one_panel_per_province(ds):
    g = F.unit_groups(ds, "2024-07", level="province")
    fig = F.group_small_multiples(g)
    assert [a.get_gid() for a in fig.axes] == ["panel:Bắc Kạn", "panel:Tuyên Quang"]
    bars = [b for b in fig.axes[0].patches if b.get_gid() == "bars"]
    assert len(bars) == 6
    # Bắc Kạn 07/2024: CKMB 14,1/18, MDHL 18/18.
    widths = [b.get_width() for b in bars]
    assert widths[0] == pytest.approx(14.1 / 18 * 100) and widths[4] == pytest.approx(100.0)
    assert tick_texts(fig.axes[0].get_yticklabels())[0] == "Công khai, minh bạch"


def test_synthetic_figures_are_labelled(synthetic_ds):
    totals = F.unit_totals(synthetic_ds, "2026-01", level="province")
    fig = F.province_totals(totals, label="province")
    assert len(fig.axes[0].containers[0]) == 34
    assert fig.get_suptitle().replace("\n", " ").endswith("(dữ liệu giả lập)")
    groups = F.unit_groups(synthetic_ds, "2026-01", level="province")
    fig = F.group_small_multiples(groups)
    assert len(fig.axes) == 34
    assert fig.get_suptitle().replace("\n", " ").endswith("(dữ liệu giả lập)")
    communes = F.unit_totals(synthetic_ds, "2026-01", level="commune")
    fig = F.province_distributions(communes.iloc[:400])
    assert "(dữ liệu giả lập)" in fig.get_suptitle().replace("\n", " ")
    assert F.ranking_bars(totals.iloc[:3], synthetic=False).get_suptitle() == "Xếp hạng theo tổng điểm"


# --------------------------------------------------------------------------- text, style, rendering


def all_figures(ds, nari, nari_groups, nari_rates):
    return [F.ranking_bars(nari, reference=("huyện Na Rì", 87.15)), F.group_profile_heatmap(nari_groups),
            F.unit_vs_average(nari_groups, "xã Văn Vũ"),
            F.correlation_scatter(nari_rates, "online", "MDHL", x_max=100, y_max=18),
            F.trend(F.unit_series(ds, "bac-kan")),
            F.province_totals(F.unit_totals(ds, "2024-07", level="province")),
            F.group_small_multiples(F.unit_groups(ds, "2024-07", level="province")),
            F.province_distributions(nari)]


def test_text_is_nfc_and_readable(ds, nari, nari_groups, nari_rates):
    for fig in all_figures(ds, nari, nari_groups, nari_rates):
        F.to_png(fig, dpi=30)  # draws the ticks
        assert fig.get_figwidth() == pytest.approx(7.0)
        for t in fig.findobj(Text):
            if t.get_text() and t.get_visible():
                assert unicodedata.is_normalized("NFC", t.get_text()), t.get_text()
                assert t.get_fontsize() >= 9, (t.get_text(), t.get_fontsize())
                assert t.get_fontfamily() == ["DejaVu Sans"], t.get_text()
        numbers = " ".join(t.get_text() for t in fig.findobj(Text))
        assert not re.search(r"\d\.\d{2}\b", numbers), "decimal point in a label"


def test_figures_leave_global_state_alone(nari):
    before = dict(mpl.rcParams)
    F.ranking_bars(nari)
    after = dict(mpl.rcParams)
    assert before == after
    source = open(F.__file__, encoding="utf-8").read() + open(gallery.__file__, encoding="utf-8").read()
    assert not re.search(r"import\s+matplotlib\.pyplot|from\s+matplotlib\s+import\s+pyplot", source)


def test_same_input_gives_identical_png_bytes(nari, nari_rates):
    first = F.to_png(F.ranking_bars(nari, highlight="xã Văn Vũ"))
    second = F.to_png(F.ranking_bars(nari, highlight="xã Văn Vũ"))
    assert first == second
    assert first.startswith(b"\x89PNG") and b"Software" not in first and b"matplotlib" not in first.lower()
    # the strip plot's jitter is seeded, so it draws the same points too
    a = F.to_png(F.province_distributions(nari.assign(province="x")), dpi=50)
    b = F.to_png(F.province_distributions(nari.assign(province="x")), dpi=50)
    assert a == b
    assert F.to_png(F.ranking_bars(nari)) != first


def test_gallery_renders_without_missing_glyphs(ds, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("analysis.dataset.load_dataset", lambda path: ds)  # already loaded
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = gallery.main(["--data", str(DATA_DIR), "--out", str(tmp_path), "--dpi", "30",
                             "--no-synthetic"])
    assert code == 0
    glyphs = [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert not glyphs
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in names if not n.endswith(".png")], "temporary files left behind"
    for expected in ("nari-2024-07-commune-ranking.png", "nari-2024-07-commune-group-heatmap.png",
                     "nari-2024-07-commune-unit-vs-average.png", "bac-kan-trend.png",
                     "commune-distributions.png", "2024-07-province-totals.png",
                     "2024-07-province-groups.png", "sadec-2022-11-commune-ranking.png",
                     "phutan-2024-05-w1-commune-ranking.png"):
        assert expected in names
    assert all((tmp_path / n).read_bytes().startswith(b"\x89PNG") for n in names)
    out = capsys.readouterr().out.splitlines()
    assert sorted(out[:-1]) == names and out[-1] == f"{len(names)} figures in {tmp_path}"


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_small_multiple_titles_never_overlap_at_34_provinces(synthetic_ds, lang):
    """34 provinces (synthetic national data) with their long names: every panel title stays
    inside its column, so no two titles touch ("tỉnh Đồng Thápthành phố Đồng Nai" was the bug)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    g = F.unit_groups(synthetic_ds, synthetic_ds.periods["period_id"].iloc[0], level="province")
    # names as long as the longest real ones ("thành phố Hồ Chí Minh", "tỉnh Bà Rịa - Vũng Tàu")
    g["province"] = "thành phố " + g["name"].str.replace("tỉnh ", "", regex=False) + " – Đồng Tháp mới"
    assert g["province"].nunique() == 34
    fig = F.group_small_multiples(g, panel="province", lang=lang)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    titles = [a.title for a in fig.axes if a.title.get_text()]
    assert len(titles) == 34
    boxes = [t.get_window_extent(renderer) for t in titles]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not _boxes_overlap(a, b)
    # and each title fits within its own panel's width (plus the gap to the next panel)
    for ax, box in zip([a for a in fig.axes if a.title.get_text()], boxes):
        panel = ax.get_window_extent(renderer)
        assert box.width <= panel.width * 1.25


def test_figures_take_a_language(ds):
    g = F.unit_groups(ds, "2024-07", level="province")
    vi = F.group_small_multiples(g)
    en = F.group_small_multiples(g, lang="en")
    assert tick_texts(en.axes[0].get_yticklabels())[0] == "Transparency"
    assert "% of max" in [t.get_text() for t in texts(en)] and "% tối đa" in [t.get_text() for t in texts(vi)]
    rates = pd.DataFrame({"x": [10.5, 20.25, 30, 45, 60, 70], "y": [80, 85.5, 90, 95, 97, 100]})
    fig = F.correlation_scatter(rates, "x", "y", y_max=100, lang="en")
    stats = next(t.get_text() for t in texts(fig, "stats"))
    assert "95% CI" in stats and "KTC" not in stats and "," not in stats.split("CI")[1].split(")")[0].replace(" to ", "")
    fig_vi = F.correlation_scatter(rates, "x", "y", y_max=100)
    assert "KTC 95%" in next(t.get_text() for t in texts(fig_vi, "stats"))
    trend = F.trend(pd.DataFrame({"period_id": ["2024-06", "2024-07"], "value": [76.94, 82.88]}), lang="en")
    labels = [t.get_text() for t in texts(trend)]
    assert "82.88" in labels and "Total" in labels and "Good" in labels


def test_svg_keeps_text_as_nfc_text_with_stable_bytes_and_ids(nari):
    """The HTML and notebook form: vector SVG whose words are <text> elements in NFC (findable
    in the page), in a font stack that starts with the face matplotlib measured, with no date,
    the same bytes for the same input and ids prefixed so several figures share a page."""
    import xml.etree.ElementTree as ET

    decomposed = unicodedata.normalize("NFD", "xã Đồng Xá")  # the figure must write NFC
    table = nari.assign(name=nari["name"].replace("xã Đồng Xá", decomposed))
    first = F.to_svg(F.ranking_bars(table, highlight="xã Văn Vũ"), prefix="fig-units-a")
    second = F.to_svg(F.ranking_bars(table, highlight="xã Văn Vũ"), prefix="fig-units-a")
    assert first == second
    root = ET.fromstring(first)
    ns = "{http://www.w3.org/2000/svg}"
    texts = ["".join(t.itertext()) for t in root.iter(ns + "text")]
    for name, _, _ in NARI_TABLE:
        assert name in texts, name
    assert "xã Đồng Xá" in texts and unicodedata.normalize("NFC", first) == first
    assert all(t.get("style", "").count("font-family: 'DejaVu Sans', ") == 1 for t in root.iter(ns + "text"))
    assert not list(root.iter(ns + "path")) or root.find(f".//{ns}defs") is not None
    assert "<dc:date>" not in first and "<metadata>" not in first and not first.startswith("<?xml")
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert ids and all(i.startswith("fig-units-a-") for i in ids)
    refs = re.findall(r'(?:url\(#|href="#)([^)"]+)', first)
    assert refs and set(refs) <= set(ids)
    # rendering twice (SVG for the page, PNG for Word, SVG again) draws the same figure
    fig = F.ranking_bars(table)
    once = F.to_svg(fig)
    F.to_png(fig, dpi=30)
    assert F.to_svg(fig) == once
    # an English figure in English notation
    two = pd.DataFrame({"name": ["xã A", "xã B"], "value": [89.49, 75.25]})
    assert ">89.49</text>" in F.to_svg(F.ranking_bars(two, lang="en"))
    assert ">89,49</text>" in F.to_svg(F.ranking_bars(two, lang="vi"))


def test_trend_of_snapshots_is_placed_by_cut_off_day_with_readable_ticks():
    """Year-to-date snapshots two days apart: each at its cut-off day, ticks labelled by day,
    close ones left unlabelled so no two labels collide, the newest always labelled."""
    import pandas as pd

    from analysis.figures import trend

    ids = ["2026-ytd-09-24", "2026-ytd-09-26", "2026-ytd-09-27", "2026-ytd-09-30", "2026-ytd-10-02"]
    df = pd.DataFrame({"period_id": ids, "value": [62.74, 62.74, 64.98, 65.22, 65.47],
                       "rank": [None, 13, None, 6, None], "rank_of": [34] * 5})
    for lang, axis in (("vi", "Ngày chốt số liệu (lũy kế)"), ("en", "Cut-off date (to date)")):
        fig = trend(df, unit_label="tỉnh Gia Lai", lang=lang)
        bottom = fig.axes[1]
        ticks, labels = drawn_ticks(bottom)
        assert list(ticks) == [float(pd.Timestamp(f"2026-{d}").toordinal()) for d in
                               ("09-24", "09-26", "09-27", "09-30", "10-02")]
        assert labels[0] == "24/9\n2026" and labels[-1] == "2/10"
        shown = [x for x, lab in zip(ticks, labels) if lab]
        assert all(b - a >= (ticks[-1] - ticks[0] + 20) / 12 for a, b in zip(shown, shown[1:]))
        assert bottom.get_xlabel() == axis


def _outside_texts_fit(fig) -> None:
    """Drawn on the raster canvas (hinted text, a little wider than the SVG measure the layout
    uses): every visible text inside the figure, the labels beside a plot clear of it, the
    legends clear of every plot, its x labels and the footnote."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    F.to_png(fig, dpi=110)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    frame = fig.bbox
    drawn = [(ax.get_gid() or "axes", ax.get_tightbbox(r)) for ax in fig.axes]  # ticks drawn, labels, texts
    drawn += [(t.get_text(), t.get_window_extent(r)) for t in fig.texts if t.get_text()]
    drawn += [(legend.get_texts()[0].get_text(), legend.get_window_extent(r)) for legend in fig.legends]
    for name, box in drawn:
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, name
        assert frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1, name
    for ax in fig.axes:
        plot = ax.get_window_extent(r)
        # names and values of a ranking (bars), zone names of a trend (not the labels at its points)
        beside = ("unit-label", "value-label") if ax.containers else ("zone-label",)
        for t in drawn_texts(ax):
            if t.get_gid() in beside:
                box = t.get_window_extent(r)
                assert box.x1 <= plot.x0 or box.x0 >= plot.x1, t.get_text()
    notes = [t.get_window_extent(r) for t in fig.texts if t.get_gid() in ("footnote", "merger-note")]
    for legend in fig.legends:
        box = legend.get_window_extent(r)
        for other in [ax.get_tightbbox(r) for ax in fig.axes] + notes:
            assert not _boxes_overlap(box, other), legend.get_texts()[0].get_text()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_figures_laid_out_when_built_keep_their_text_clear(ds, nari, nari_rates, lang):
    """The rankings, trends, scatters and small multiples are laid out from measured text, not by
    matplotlib's engine: long names, rank labels, wrapped titles, legends and footnotes fit."""
    long = pd.DataFrame({"name": ["Sở Nông nghiệp và Phát triển nông thôn", "Sở Lao động - Thương binh và Xã hội",
                                  "Ban Quản lý các Khu công nghiệp", "xã Đặng Hữu"],
                         "value": [91.2, 75.0, float("nan"), 45.3]})
    merger = pd.DataFrame({"period_id": ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08"],
                           "value": [99.5, 80.1, 81.2, 70.5, 72.0], "rank": [1, 20, 18, 10, 9],
                           "rank_of": [63, 63, 63, 34, 34], "name": "tỉnh Bà Rịa - Vũng Tàu"})
    figures = [
        F.ranking_bars(nari, highlight="xã Lương Thượng", reference=("huyện Na Rì", 87.15), lang=lang),
        F.ranking_bars(long, highlight="xã Đặng Hữu", lang=lang,
                       title="Một tiêu đề rất dài để kiểm tra việc xuống dòng của tiêu đề trong hình với "
                             "tên đơn vị dài và ghi chú"),
        F.province_totals(F.unit_totals(ds, "2024-07", level="province"), label="province", lang=lang),
        F.trend(F.unit_series(ds, "bac-kan"), lang=lang),
        F.trend(merger, lang=lang),
        F.trend(merger.drop(columns="rank"), lang=lang),
        F.correlation_scatter(nari_rates, "online", "MDHL", x_max=100, y_max=18, lang=lang,
                              x_label="Tỷ lệ hồ sơ nộp trực tuyến (%)", y_label="Điểm mức độ hài lòng (/18)"),
        F.group_small_multiples(F.unit_groups(ds, "2024-07", level="province"), lang=lang),
    ]
    for fig in figures:
        assert fig.get_layout_engine() is None
        _outside_texts_fit(fig)


@pytest.mark.parametrize("canvas", ["svg", "agg"])
def test_labels_layout_keyed_by_metrics_is_matplotlibs(canvas):
    """A column of labels lays out a plain one-line label from a cache keyed by its measured
    size, not its text: what it draws is what Text._get_layout gives for each label (names of
    one width, values, an empty label, a mathtext and a two-line label, which keep the text key),
    on the SVG renderer of the module and on Agg, at the figure's and at another dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_mixed import MixedModeRenderer

    names = ["88,18", "88,81", "xã Ân", "UBND xã Giả lập 04-0091", "", "$x^2$", "hai\ndòng", r"5 \$ 3", "xã An"]
    fig = F.ranking_bars(pd.DataFrame({"name": [f"xã {i}" for i in range(3)], "value": [91.2, 75.0, 60.5]}))
    ax = fig.axes[0]
    column = F._Labels(ax, ax.transData, [(0, i, n, "bold" if i == 2 else "normal") for i, n in enumerate(names)],
                       ha="right", va="center", fontsize=9)
    for dpi in (72, 110):
        fig.dpi = dpi
        if canvas == "svg":
            import io
            renderer = MixedModeRenderer(fig, 7, 3, 72, F._RendererSVG(7 * 72, 3 * 72, io.StringIO()))
        else:
            renderer = FigureCanvasAgg(fig).get_renderer()
        for item in column._items:
            text = column._at(item)
            assert column._layout(renderer) == text._get_layout(renderer)[1], item
    assert any(key[2] for key in F._LAYOUTS)  # plain labels were keyed by their size


def test_svg_patterns_match_as_written_with_a_word_boundary():
    """to_svg's patterns spell ``\\bid="`` as ``i(?<=\\bi)d="`` (faster to search): the same
    matches on a drawing and on names next to letters, digits, underscores and accents."""
    fig = F.ranking_bars(pd.DataFrame({"name": ['xã "id="A"', "xã B"], "value": [91.2, 75.0]}), lang="vi")
    import io
    buf = io.StringIO()
    F._CanvasSVG(fig)
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "x"}):
        fig.savefig(buf, format="svg")
    samples = [buf.getvalue(), 'gid="a" id="b" xid="c" _id="d" id="" id="e ', 'id="x"id="y" éid="z" -id="w" url(#q)',
               'ủid="k" 1id="m" xlink:href="#r" id="url(#s)"', 'id="a)" url(#)b" id="c']
    spelled = {F._SVG_ID: r'\bid="([^"]+)"', F._SVG_REF: r'(\bid="|url\(#|xlink:href="#)([^"\)]+)(?=["\)])',
               F._SVG_HEADS: r'(\bid="|url\(#|xlink:href="#)(?=[^"\)]+["\)])'}
    for fast, plain in spelled.items():
        plain = re.compile(plain)
        for s in samples:
            assert [m.group(0, *range(1, fast.groups + 1)) for m in fast.finditer(s)] == \
                [m.group(0, *range(1, plain.groups + 1)) for m in plain.finditer(s)]
            assert [m.span() for m in fast.finditer(s)] == [m.span() for m in plain.finditer(s)]
    assert F._SVG_ID.findall(samples[1]) == ["b"]


@pytest.mark.parametrize("family", [("DejaVu Sans",), ("sans-serif",), ("No Such Font", "DejaVu Sans")])
def test_text_metrics_are_matplotlibs(family):
    """figures measures a text as matplotlib's text-to-path does (the SVG renderer's measure),
    reading the font once per font: the same numbers for plain text and mathtext, in every
    weight, style and size, for the report fonts and a family found through an alias or a
    fallback; a change in matplotlib's measure fails here."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    texts = ["UBND xã Giả lập 04-0091", "79,51", "", " ", "Đặng Hữu ỷ ữ", "AVAWAT fi", "$x^2$", "−0,36  (12/63)"]
    measure = TextToPath()
    for text in texts:
        for weight, style, size in (("normal", "normal", 9.0), ("bold", "normal", 10.0), ("normal", "italic", 12.5)):
            prop = FontProperties(family=list(family), weight=weight, style=style, size=size)
            ismath = text.startswith("$")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = measure.get_text_width_height_descent(text, prop, ismath)
                got = F._svg_text_metrics.__wrapped__(text, F._font_key(prop), ismath)
            assert got == expected, (text, weight, style, size)


def test_rc_context_restores_what_matplotlibs_restores():
    """The figures' rc context sets its settings inside and, on leaving (also on an error),
    puts back every rcParam as it was, those changed inside too, as matplotlib.rc_context."""
    before = dict(mpl.rcParams)
    with pytest.raises(RuntimeError):
        with F._rc_context(F.STYLE):
            assert all(mpl.rcParams[k] == mpl.rcParams.validate[k](v) for k, v in F.STYLE.items())
            mpl.rcParams["lines.linewidth"] = 7.5
            mpl.rcParams["font.size"] = 3
            raise RuntimeError
    assert dict(mpl.rcParams) == before
    with F._rc_context({}), mpl.rc_context({"lines.linewidth": 2.5}):
        assert mpl.rcParams["lines.linewidth"] == 2.5
    assert dict(mpl.rcParams) == before


@pytest.mark.parametrize("mode", [None, "expand"])
def test_legend_draws_as_matplotlibs(mode):
    """A figure legend drawn with its boxes measured once per drawing (figures._Legend) gives the
    same SVG and PNG as matplotlib's Legend, for a band legend with a title and for a legend of
    two-line entries in expand mode; it keeps nothing between drawings."""
    from matplotlib.legend import Legend

    fig = F.ranking_bars(pd.DataFrame({"name": ["xã A", "xã B", "xã C"], "value": [91.2, 75.0, 45.5]}),
                         reference=("Trung bình\nhuyện", 70.0))
    if mode:
        fig.legends[0]._mode = mode
    legend = fig.legends[0]
    assert type(legend) is F._Legend
    ours = F.to_svg(fig), F.to_png(fig), F.to_svg(fig)
    assert ours[0] == ours[2]
    assert not any("get_bbox" in box.__dict__ for box in F._offset_boxes(legend._legend_box))
    legend.__class__ = Legend
    assert (F.to_svg(fig), F.to_png(fig)) == ours[:2]


def test_text_box_font_follows_the_rc_settings():
    """The figure font a text is measured in is made once per size, weight and font settings:
    an italic or a larger default font gives the key FontProperties gives."""
    from matplotlib.font_manager import FontProperties

    for rc in ({}, {"font.style": "italic"}, {"font.size": 14, "font.weight": "bold"}):
        with mpl.rc_context(rc):
            for size, weight in ((9, "normal"), ("large", None), (10.5, "bold")):
                key = F._figure_font_key(size, weight, tuple(mpl.rcParams[k] for k in F._FONT_RC))
                assert key == F._font_key(FontProperties(family=F.FONT_FAMILY, size=size, weight=weight))


def test_svg_is_what_matplotlibs_svg_canvas_writes(nari, nari_rates):
    """The module's SVG canvas (text measured once per text and font, labels of a column and
    plain texts written directly) writes the bytes matplotlib's own SVG canvas writes for the
    same figures: a ranking with a highlighted unit and a reference line, and a scatter."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    figures = [F.ranking_bars(nari, highlight="xã Văn Vũ", reference=("Trung bình", 80.0)),
               F.correlation_scatter(nari_rates, "online", "MDHL")]
    for fig in figures:
        ours = F.to_svg(fig)
        original = F._CanvasSVG
        try:
            F._CanvasSVG = FigureCanvasSVG
            theirs = F.to_svg(fig)
        finally:
            F._CanvasSVG = original
        assert ours == theirs


def test_svg_prefix_in_two_plain_passes_is_the_one_pass_of_heads():
    """to_svg prefixes ids and references with two passes of plain replacements where the
    prefix is plain: the same text as one pass over every kind of head, on a drawing and on
    heads next to each other, inside names, after word characters and without a name."""
    import io

    fig = F.ranking_bars(pd.DataFrame({"name": ["xã A", "xã B"], "value": [91.2, 75.0]}), reference=("TB", 80.0))
    buf = io.StringIO()
    F._CanvasSVG(fig)
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "x"}):
        fig.savefig(buf, format="svg")
    samples = [buf.getvalue(), 'id="a" url(#b) xlink:href="#c" gid="d" xid="e" id="" url(#) id="url(#f)"',
               'id="x"id="y" url(#id="z") xlink:href="#url(#w)" id="v', 'éid="k" _id="m" -id="n" url(#p"']
    for prefix in ["f", "fig-units-a", "r1.2_x", ""]:
        assert F._PLAIN_PREFIX.fullmatch(prefix)
        for s in samples:
            one = F._SVG_HEADS.sub("\\g<1>" + prefix + "-", s)
            two = F._SVG_REF_HASH.sub("#" + prefix + "-", F._SVG_ID_QUOTE.sub('"' + prefix + "-", s))
            assert two == one, (prefix, s[:80])
    assert not F._PLAIN_PREFIX.fullmatch('a"b') and not F._PLAIN_PREFIX.fullmatch("a(#")
    assert 'id="a\\-figure_1"' in F.to_svg(fig, prefix="a\\")  # any other prefix: the one pass


def test_bars_drawn_in_one_pass_are_what_each_rectangle_draws(nari, monkeypatch):
    """A ranking's bars drawn by one artist (figures._Bars, one graphics context, corners read
    once) give the SVG and PNG of each Rectangle drawing itself, a highlighted bar included."""
    fig = F.ranking_bars(nari, highlight="xã Văn Vũ")
    ours = F.to_svg(fig), F.to_png(fig, dpi=40)
    monkeypatch.setattr(F, "_plain_bars", lambda transform, patches: False)
    assert (F.to_svg(fig), F.to_png(fig, dpi=40)) == ours
