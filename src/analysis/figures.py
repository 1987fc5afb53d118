"""Comparative figures across units, provinces and periods: each returns a matplotlib Figure.

Every function builds a :class:`matplotlib.figure.Figure` with the object-oriented API (no
``pyplot``, so nothing leaks between calls), writes no file and draws the same figure every time
for the same input. :func:`to_png` renders a figure on the Agg canvas with fixed metadata, so the
same input gives the same PNG bytes; :func:`to_svg` gives the same SVG text.

The figures of every report (rankings, trends, scatters) are laid out when they are built, from
the measured size of their text; the others use matplotlib's constrained layout, run once at the
first rendering. Either way, later renderings draw the same figure. Those report figures also
draw with few artists: their ticks (marks, labels, grid), the names and values of a ranking, the
labels over a trend's points and a ranking's bars are each one artist drawing what matplotlib's
artists would (the same SVG elements, the same pixels), and their axes make no Tick objects.

Conventions shared by every figure:

- Every figure takes ``lang`` (``"vi"`` by default, or ``"en"``): titles, axes, legends and notes
  come from the message catalog of that language, numbers use its notation (``87,15`` or
  ``87.15``), and "KTC 95%" becomes "95% CI". Text is Unicode NFC.
- One colour-blind-safe palette for the five bands, :data:`BAND_COLOURS` (Okabe & Ito, 2008),
  green for the best band through vermilion for the weakest. Colours outside the bands:
  :data:`SERIES_COLOUR` (blue) for a unit or a series, :data:`OVER_MAX_COLOUR` (reddish purple)
  for values at or above the top of their scale, :data:`NEUTRAL_COLOUR` (grey) for averages.
- Bands come from :func:`analysis.scoring.band_of` and the cut points drawn from the same scheme,
  so a bar's colour always agrees with the cut lines.
- A figure whose data carries ``synthetic = True`` (or ``synthetic=True`` passed) has the title
  suffix :data:`SYNTHETIC_SUFFIX`.

The ``unit_totals``, ``unit_groups`` and ``unit_series`` helpers turn a loaded Dataset into the
tidy tables the figures take.
"""
from __future__ import annotations

import codecs
import collections
import contextlib
import contextvars
import functools
import io
import math
import os
import re
import textwrap
import unicodedata
from collections.abc import Iterable

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import cbook
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import XAxis, YAxis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import (FigureCanvasSVG, RendererSVG,
                                             _short_float_fmt)
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, font_family_aliases, get_font
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.markers import TICKDOWN, TICKLEFT
from matplotlib.offsetbox import OffsetBox
from matplotlib.ticker import FixedFormatter, FixedLocator
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text, _get_text_metrics_with_cache
from matplotlib import textpath as _textpath
from matplotlib.ft2font import LoadFlags
from matplotlib.textpath import TextToPath
from matplotlib.path import Path
from matplotlib.transforms import Affine2D, Bbox, blended_transform_factory, offset_copy

from .config import ALPHA
from .errors import ParameterError
from .i18n import check_lang, number as _format_number, period_label, text as _text
from .periods import MERGER_DATE, Period, crosses_merger, parse_period
from .reference import FIVE_GROUPS, SIX_GROUPS, bands as reference_bands, group_order, groups as reference_groups
from .scheme import Scheme, load_scheme
from .scoring import band_of
from .stats import correlation_test
from .units import short_name
from .views import area_units

__all__ = [
    "BAND_COLOURS", "SERIES_COLOUR", "OVER_MAX_COLOUR", "NEUTRAL_COLOUR", "FONT_FAMILY",
    "FIG_WIDTH", "SYNTHETIC_SUFFIX", "CEILING_LABEL", "STYLE",
    "to_png", "to_svg", "SVG_FONT_STACK", "bands_of", "cut_points",
    "unit_totals", "unit_groups", "unit_series",
    "ranking_bars", "group_profile_heatmap", "unit_vs_average", "correlation_scatter", "trend",
    "province_distributions", "province_totals", "group_small_multiples",
]

# Okabe & Ito (2008) colour-blind-safe palette; keys are the canonical band names of
# reference/bands.csv. Best band green, then sky blue, yellow, orange, vermilion.
BAND_COLOURS = dict(zip(reference_bands()["band"], reference_bands()["colour"]))
SERIES_COLOUR = "#0072b2"    # Okabe-Ito blue: a unit, a series, a regression line
OVER_MAX_COLOUR = "#cc79a7"  # Okabe-Ito reddish purple: at or above the top of the scale
NEUTRAL_COLOUR = "#7f7f7f"   # averages, boxes, reference lines
FONT_FAMILY = "DejaVu Sans"  # ships with matplotlib and covers Vietnamese letters
# The font-family of SVG text: the face matplotlib measured the text with first, then faces of
# the same design and metrics (DejaVu derives from Bitstream Vera; Verdana is its closest
# widespread relative), then any sans-serif. Text is anchored at its start, middle or end as
# matplotlib laid it out, so a fallback face shifts a label by its width difference only.
SVG_FONT_STACK = "'DejaVu Sans', 'Bitstream Vera Sans', Verdana, sans-serif"
FIG_WIDTH = 7.0              # inches: report width
SYNTHETIC_SUFFIX = _text("vi", "fig.synthetic")  # the Vietnamese suffix; English: "(synthetic data)"
CEILING_LABEL = _text("vi", "fig.ceiling")
# Applied with _rc_context (matplotlib.rc_context's rule) around building and rendering, never set globally.
STYLE = {
    "font.family": FONT_FAMILY,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 12,
    "axes.unicode_minus": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "image.interpolation": "nearest",
}
_SMALL = 9  # pt: the smallest text drawn
_GREY_TEXT = "#333333"
_ZONE_ALPHA = 0.18
_LABEL_PAD = 5  # pt between the axes and a unit name left of it
_TITLE_CHARS = 72  # characters per title line at 12 pt
_TEXT2PATH = TextToPath()  # the SVG renderer's text measure
_FOOT_CHARS = 92  # characters per footnote line at 9 pt on a 7-inch figure


# --------------------------------------------------------------------------- shared helpers


_LANG = contextvars.ContextVar("figure_lang", default="vi")


@contextlib.contextmanager
def _rc_context(rc: dict):
    """:func:`matplotlib.rc_context` for a dict of settings: every rcParam set or changed inside
    is restored on leaving (but ``backend``), as matplotlib does, from a copy of rcParams' stored
    values taken in one step (``dict.items``, as ``RcParams._update_raw`` reads them: what
    ``RcParams.copy`` reads key by key, at the cost of several Python calls per key, twice per
    figure; ``dict.copy`` would call them too, RcParams having its own ``__iter__``)."""
    rc_params = mpl.rcParams
    saved = dict(dict.items(rc_params))
    saved.pop("backend", None)
    try:
        rc_params.update(rc)
        yield
    finally:
        rc_params._update_raw(saved)


def _styled(func):
    """Build the figure inside the module's rc context, so nothing global changes, and in the
    language given by the keyword ``lang`` (``"vi"`` or ``"en"``)."""

    @functools.wraps(func)
    def wrapper(*args, lang: str = "vi", **kwargs):
        token = _LANG.set(check_lang(lang))
        try:
            with _rc_context(STYLE):
                return func(*args, **kwargs)
        finally:
            _LANG.reset(token)

    return wrapper


def _t(key: str, **values) -> str:
    """A message of the figure's language."""
    return _text(_LANG.get(), key, **values)


def _group_short(code: str) -> str:
    g = reference_groups()
    return g.at[code, "short_" + _LANG.get()] if code in g.index else code


def _nfc(text) -> str:
    return unicodedata.normalize("NFC", str(text))


def _cap(text: str) -> str:
    """First letter upper-case, for a unit name opening a title (``xã A`` -> ``Xã A``)."""
    text = _nfc(text)
    return text[:1].upper() + text[1:]


def _num(value, decimals: int = 2) -> str:
    """A number in the figure's language, with a typographic minus: ``-0,36`` -> ``−0,36``."""
    return _format_number(value, _LANG.get(), decimals).replace("-", "\u2212")


def _pct(value) -> str:
    return f"{_num(value, 0)}%"


def _p_text(p: float) -> str:
    if not math.isfinite(p):
        return "p = –"
    if p < 0.001:
        return f"p < {_num(0.001, 3)}"
    return f"p = {_num(p, 3)}"


def _title(title: str, synthetic: bool) -> str:
    title = _nfc(title)
    suffix = _t("fig.synthetic")
    if synthetic and suffix not in title:
        title = f"{title} {suffix}"
    return textwrap.fill(title, _TITLE_CHARS, break_long_words=False)


def _is_synthetic(data: pd.DataFrame, synthetic: bool | None) -> bool:
    if synthetic is not None:
        return bool(synthetic)
    return "synthetic" in data.columns and bool(data["synthetic"].fillna(False).astype(bool).any())


def _require(data, columns, func: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{func}: data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ParameterError(f"{func}: missing column(s) {', '.join(map(repr, missing))}; the table "
                             f"has {', '.join(map(repr, data.columns))}")


def _scheme(scheme: Scheme | None) -> Scheme:
    return scheme if scheme is not None else load_scheme()


def cut_points(scheme: Scheme | None = None) -> pd.DataFrame:
    """Bands with their cut points, best band first.

    Parameters
    ----------
    scheme : Scheme, optional
        Default: the newest scheme version (cut points from ``reference/bands.csv``), the same
        default as :func:`analysis.scoring.band_of`.

    Returns
    -------
    DataFrame
        Columns ``band, lower, upper, colour, label`` (``label`` such as ``Tốt (80–<90)``).

    Examples
    --------
    >>> cut_points()[["band", "lower"]].values.tolist()[:2]
    [['Xuất sắc', 90.0], ['Tốt', 80.0]]
    """
    return _cuts(scheme).copy()


def _cuts(scheme: Scheme | None) -> pd.DataFrame:
    """:func:`cut_points` for the figures of this module, which only read it (not a copy)."""
    s = _scheme(scheme)
    return _cut_table(s.band_names, s.band_lower, s.band_top, _LANG.get(), tuple(BAND_COLOURS.items()))


@functools.lru_cache(maxsize=32)
def _cut_table(names: tuple, lower: tuple, top: float, lang: str, colours: tuple) -> pd.DataFrame:
    """The table of :func:`cut_points`, for the bands, cut points, language and colours named."""
    colours = dict(colours)
    upper = list(lower[1:]) + [top]
    table = pd.DataFrame({"band": names, "lower": lower, "upper": upper}).iloc[::-1].reset_index(drop=True)
    unknown = [b for b in table["band"] if b not in colours]
    if unknown:
        raise ParameterError(f"no colour for band(s) {', '.join(unknown)}; BAND_COLOURS has "
                             f"{', '.join(colours)}")
    labels = []
    for i, row in table.iterrows():
        if i == 0:
            rng = f"≥ {row.lower:g}"
        elif i == len(table) - 1:
            rng = f"< {row.upper:g}"
        else:
            rng = f"{row.lower:g}–<{row.upper:g}"
        labels.append(f"{_band_name(row.band)} ({rng})")
    table["colour"] = table["band"].map(colours)
    table["label"] = labels
    return table


def bands_of(values, scheme: Scheme | None = None) -> list:
    """Canonical band of each total (:func:`analysis.scoring.band_of`), None where there is none.

    Totals above the top of the scale (published as printed) fall in the top band, so a figure
    can still colour them.

    Examples
    --------
    >>> bands_of([89.49, 73.97, float("nan")])
    ['Tốt', 'Khá', None]
    """
    s = _scheme(scheme)
    x = np.asarray(list(values), dtype=float)
    clipped = np.where(x > s.band_top, s.band_top, x)
    out = band_of(pd.Series(clipped), scheme=s)
    return [None if (isinstance(b, float) and math.isnan(b)) or b is None or b is pd.NA else str(b)
            for b in out.astype(object)]


def _band_name(band: str) -> str:
    """A band's name in the figure's language."""
    if _LANG.get() == "vi":
        return band
    names = reference_bands().set_index("band")["name_en"]
    return names.get(band, band)


def _colour_of(band) -> str:
    return BAND_COLOURS.get(band, "#bbbbbb") if band is not None else "#bbbbbb"


def _group_max(code: str, scheme: Scheme | None) -> float:
    if scheme is not None:
        return float(scheme.max_points(code))
    table = reference_groups()
    if code not in table.index:
        raise ParameterError(f"unknown group '{code}'; allowed: {', '.join(table.index)}")
    return float(table.at[code, "max_points"])


def _group_name(code: str) -> str:
    return _nfc(reference_groups().at[code, "name_" + _LANG.get()])


class _Legend(Legend):
    """matplotlib's Legend, drawn with each of its boxes measured once per drawing.

    Drawing a legend measures its box of boxes (title, columns, entries, each a handle and a
    text) from the top down, then each box measures itself and its children again as it is
    drawn: a text is laid out once per level above it. During one :meth:`draw`, each box keeps
    what it measured on that renderer (``get_bbox`` and ``_get_bbox_and_child_offsets``) and the
    kept values are dropped when the drawing ends. Within a drawing nothing a measure reads
    changes (the boxes are only moved, and a box's size ignores where it is), so every later
    call returns what it would have computed: the same drawing. matplotlib's
    ``Legend.draw`` does the rest (``test_legend_draws_as_matplotlibs`` compares the two)."""

    def draw(self, renderer):
        boxes = _offset_boxes(self._legend_box)
        for box in boxes:
            for name in ("get_bbox", "_get_bbox_and_child_offsets"):
                box.__dict__[name] = _measured_once(getattr(box, name))
        try:
            super().draw(renderer)
        finally:
            for box in boxes:
                box.__dict__.pop("get_bbox", None)
                box.__dict__.pop("_get_bbox_and_child_offsets", None)


def _offset_boxes(box) -> list:
    """An offset box and every offset box inside it."""
    found, todo = [], [box]
    while todo:
        b = todo.pop()
        if isinstance(b, OffsetBox):
            found.append(b)
            todo.extend(b.get_children())
    return found


def _measured_once(method):
    """``method(renderer)`` computed once per renderer (see :class:`_Legend`)."""
    kept = {}

    def measured(renderer):
        hit = kept.get(id(renderer))
        if hit is None or hit[0] is not renderer:
            hit = kept[id(renderer)] = (renderer, method(renderer))
        return hit[1]

    return measured


def _legend(fig: Figure, *args, **kwargs) -> Legend:
    """``fig.legend(*args, **kwargs)``, drawn as a :class:`_Legend`."""
    legend = fig.legend(*args, **kwargs)
    legend.__class__ = _Legend  # the same object and state; only its draw method is _Legend's
    return legend


def _band_legend(fig: Figure, scheme: Scheme | None, *, ncols: int = 3, extra=(), table=None) -> None:
    table = _cuts(scheme) if table is None else table
    handles = [Patch(facecolor=c, edgecolor="#555555", linewidth=0.5, label=lab)
               for c, lab in zip(table["colour"], table["label"])]
    _legend(fig, handles=handles + list(extra), loc="outside lower center", ncols=ncols, frameon=False,
            title=_t("fig.band_legend"), fontsize=_SMALL)


def _vline(ax, x: float, **props) -> Line2D:
    """A line across the axes at ``x`` (data), as ``ax.axvline`` draws it, for an axes whose
    limits are set by hand (axvline updates the data limits and asks for autoscaling)."""
    line = Line2D([x, x], [0, 1], transform=ax.get_xaxis_transform(which="grid"), **props)
    line.get_path()._interpolation_steps = mpl.axis.GRIDLINE_INTERPOLATION_STEPS
    ax.add_artist(line)
    return line


def _draw_cuts(ax, scheme: Scheme | None, table=None, *, by_hand: bool = False) -> None:
    """Dashed vertical lines at the band cut points, labelled with their value above the axes
    (``by_hand``: the axes' limits are set by hand, so the lines do not update them)."""
    table = _cuts(scheme) if table is None else table
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    for cut in sorted(v for v in table["lower"] if v > 0):
        props = {"color": "#444444", "linewidth": 0.8, "linestyle": (0, (4, 3)), "zorder": 3, "gid": f"cut-{cut:g}"}
        if by_hand:
            _vline(ax, cut, **props)
        else:
            ax.axvline(cut, **props)
        ax.text(cut, 1.0, f"{cut:g}", transform=trans, ha="center", va="bottom", fontsize=_SMALL,
                color=_GREY_TEXT, gid=f"cut-label-{cut:g}")


def _match_rows(data: pd.DataFrame, wanted, label: str, func: str) -> np.ndarray:
    """Boolean mask of rows whose label (or unit_id) is in ``wanted``."""
    if wanted is None:
        return np.zeros(len(data), dtype=bool)
    if isinstance(wanted, str):
        wanted = [wanted]
    wanted = {_nfc(w) for w in wanted}
    mask = np.array(data[label].map(lambda v: _nfc(v) in wanted), dtype=bool)
    if "unit_id" in data.columns:
        mask = mask | np.array(data["unit_id"].isin(wanted), dtype=bool)
    found = set(data.loc[mask, label].map(_nfc))
    if "unit_id" in data.columns:
        found |= set(data.loc[mask, "unit_id"])
    missing = sorted(wanted - found)
    if missing:
        raise ParameterError(f"{func}: {', '.join(map(repr, missing))} not found in column "
                             f"'{label}'" + (" or 'unit_id'" if "unit_id" in data.columns else ""))
    return mask


def _check_unique(data: pd.DataFrame, cols: list[str], func: str) -> None:
    dup = data.duplicated(subset=cols, keep=False)
    if dup.any():
        shown = data.loc[dup, cols].drop_duplicates().head(5).astype(str).agg(" / ".join, axis=1)
        raise ParameterError(f"{func}: several rows for {', '.join(shown)}; pass one row per "
                             f"{' × '.join(cols)}")


def _view_groups(codes: Iterable[str], view: str | None, scheme: Scheme | None) -> tuple[str, ...]:
    codes = set(codes)
    if view is None:
        view = "five" if "DVTT" in codes else "six"
    if view not in ("five", "six"):
        raise ParameterError(f"view must be 'five' or 'six', got {view!r}")
    if scheme is not None:
        return tuple(scheme.view(view))
    return FIVE_GROUPS if view == "five" else SIX_GROUPS


def _to_view(data: pd.DataFrame, key: list[str], group: str, value: str, view: str | None,
             scheme: Scheme | None, func: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Long table in the wanted view: DVTT = ONLINE + TTTT where only the six groups are given."""
    data = data.loc[data[group] != "TOTAL"]
    order = _view_groups(data[group], view, scheme)
    if "DVTT" in order:
        parts = data.loc[data[group].isin(["ONLINE", "TTTT"])]
        has = data.loc[data[group] == "DVTT", key].drop_duplicates()
        if len(parts):
            summed = parts.groupby(key, sort=False)[value].agg(lambda s: s.sum(min_count=2)
                                                             if len(s) == 2 else np.nan)
            summed = summed.reset_index()
            summed[group] = "DVTT"
            if len(has):
                summed = summed.merge(has, on=key, how="left", indicator=True)
                summed = summed.loc[summed["_merge"] == "left_only"].drop(columns="_merge")
            data = pd.concat([data, summed], ignore_index=True)
    elif (data[group] == "DVTT").any() and not data[group].isin(["ONLINE", "TTTT"]).any():
        raise ParameterError(f"{func}: the data has the five-group view (DVTT) only; it cannot be "
                             f"split into ONLINE and TTTT: use view='five'")
    data = data.loc[data[group].isin(order)]
    return data, order


def _percent_table(data: pd.DataFrame, label: str, group: str, value: str, view, scheme, func):
    _require(data, [label, group, value], func)
    data = data.loc[data[value].notna()].copy()
    data[label] = data[label].map(_nfc)
    data, order = _to_view(data, [label], group, value, view, scheme, func)
    _check_unique(data, [label, group], func)
    units = list(dict.fromkeys(data[label]))
    wide = data.pivot(index=label, columns=group, values=value).reindex(index=units, columns=list(order))
    maxima = pd.Series({g: _group_max(g, scheme) for g in order})
    return wide.astype(float) * 100.0 / maxima, wide.astype(float), maxima


class _NoTicksYet:
    """An axis' list of major or minor ticks that starts empty. matplotlib starts it with one
    tick (five artists) when an axes is made or cleared, only to give it the clip path and the
    grid settings; the figures laid out here draw their ticks with :func:`_own_ticks`. A tick
    asked for is made then, with the axis' settings and clip path (see :class:`_XAxis`)."""

    def __init__(self, name: str):
        self._name = name

    def __get__(self, instance, owner):
        if instance is None:
            return self
        ticks = instance.__dict__[self._name] = []
        return ticks


class _TicksOnDemand:
    """Axis methods for :class:`_NoTicksYet` lists: the clip path is kept for the ticks made
    later (matplotlib gives it to the ticks there are when it is set, and later ticks copy the
    first one's)."""

    majorTicks = _NoTicksYet("majorTicks")
    minorTicks = _NoTicksYet("minorTicks")

    def set_clip_path(self, path, transform=None):
        self._tick_clip = (path, transform)
        super().set_clip_path(path, transform)

    def _get_tick(self, major):
        tick = super()._get_tick(major)
        clip = getattr(self, "_tick_clip", None)
        if clip is not None:
            tick.set_clip_path(*clip)
        return tick


class _XAxis(_TicksOnDemand, XAxis):
    pass


class _YAxis(_TicksOnDemand, YAxis):
    pass


class _Axes(Axes):
    """The axes of the figures laid out here (rankings, trends, scatters): matplotlib's, with
    axes that make no tick until one is asked for (all their ticks are drawn by _own_ticks)."""

    def _init_axis(self):
        self.xaxis = _XAxis(self, clear=False)
        self.spines.bottom.register_axis(self.xaxis)
        self.spines.top.register_axis(self.xaxis)
        self.yaxis = _YAxis(self, clear=False)
        self.spines.left.register_axis(self.yaxis)
        self.spines.right.register_axis(self.yaxis)


def _new_figure(height: float, *, engine: bool = True) -> Figure:
    """A report-wide figure; ``engine=False`` for a figure that :func:`_arrange` lays out."""
    fig = Figure(figsize=(FIG_WIDTH, height), layout="constrained" if engine else None)
    if engine:
        fig.get_layout_engine().set(h_pad=_PAD / 72, w_pad=_PAD / 72)
    return fig


def _footnote(fig: Figure, lines: list[str], gid: str = "footnote") -> float:
    """Notes under the figure; the figure grows by their height and the layout leaves them room.
    Returns that height in inches (0 without notes)."""
    if not lines:
        return 0.0
    wrapped = "\n".join(textwrap.fill(_nfc(line), _FOOT_CHARS) for line in lines)
    height = (wrapped.count("\n") + 1) * _SMALL * 1.35 / 72 + 0.1
    old = fig.get_figheight()
    fig.set_figheight(old + height)
    frac = height / (old + height)
    if fig.get_layout_engine() is not None:
        fig.get_layout_engine().set(rect=(0, frac, 1, 1 - frac))
    fig.text(0.01, 0.02 * frac, wrapped, ha="left", va="bottom", fontsize=_SMALL, color=_GREY_TEXT,
             gid=gid)
    return height


# --------------------------------------------------------------------------- fixed layout
#
# The figures of every report (rankings, trend, scatter) are laid out once, when they are built,
# from the measured size of their text: the longest unit name sets the left margin, the widest
# value label the right one, the title, legend and footnote their bands. matplotlib's layout
# engine measures every artist of the figure twice on every rendering and is most of its cost.
# Text is measured as the SVG renderer measures it (unhinted outlines); the raster renderer's
# hinted text is up to a few per cent wider, which _SLACK covers.

_PAD = 0.06 * 72  # pt: the gap around and between the blocks of a figure
_SLACK = 1.04  # measured text widths are stretched by this much, for the raster renderer


@functools.lru_cache(maxsize=64)
def _font_heights(size: float, weight, family: tuple = (FONT_FAMILY,)) -> tuple[float, float, float]:
    """Ascent, descent and line gap in points of a font (the figure font by default), as
    matplotlib spaces lines: from its OS/2 table, else its hhea table."""
    prop = FontProperties(family=list(family), size=size, weight=weight)
    font = get_font(findfont(prop))
    scale = size / font.get_sfnt_table("head")["unitsPerEm"]
    for table, gap, ascent, descent in (("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                                        ("hhea", "lineGap", "ascent", "descent")):
        t = font.get_sfnt_table(table)
        if t is not None:
            return t[ascent] * scale, -t[descent] * scale, t[gap] * scale
    _, h, d = _svg_text_metrics("lp", _font_key(prop), False)
    return h - d, d, 0.0


_FONT_RC = ("font.style", "font.variant", "font.stretch", "font.size", "font.weight", "mathtext.fontset")


@functools.lru_cache(maxsize=64)
def _figure_font_key(size, weight, rc: tuple) -> tuple:
    """:func:`_font_key` of the figure font in a size and weight, the rcParams of ``_FONT_RC``
    being ``rc`` (made once: a FontProperties costs more than the text's measure when kept)."""
    return _font_key(FontProperties(family=FONT_FAMILY, size=size, weight=weight))


def _text_box(text: str, size: float, weight="normal") -> tuple[float, float]:
    """Width and height in points of a text of the figure font, lines laid out as matplotlib does."""
    get = mpl.rcParams._get  # what FontProperties reads besides the size and weight given
    key = _figure_font_key(size, weight, tuple(get(k) for k in _FONT_RC))
    lines = str(text).split("\n")
    ascent, descent, gap = _font_heights(size, weight)
    if len(lines) == 1:
        gap = 0.0
    width = height = 0.0
    for line in lines:
        w, h, d = _svg_text_metrics(line, key, False) if line else (0.0, 0.0, 0.0)
        width = max(width, w)
        height += max(h - d, ascent) + max(d, descent) + gap
    return width * _SLACK, height


def _widest(texts, size: float, weight="normal") -> float:
    return max((_text_box(t, size, weight)[0] for t in texts), default=0.0)


def _tick_texts(axis) -> list[str]:
    """The major tick labels an axis will draw (its locator and formatter; no Tick is made)."""
    lo, hi = sorted(axis.get_view_interval())
    locs = [v for v in axis.get_majorticklocs() if lo - 1e-9 * (hi - lo) <= v <= hi + 1e-9 * (hi - lo)]
    return list(axis.get_major_formatter().format_ticks(locs))


def _x_axis_depth(ax, labels: bool = True) -> float:
    """Points below the axes taken by the x ticks, their labels and the axis label."""
    depth = mpl.rcParams["xtick.major.size"] + mpl.rcParams["xtick.major.pad"]
    if labels:
        depth += max((_text_box(t, _tick_size("x"))[1] for t in _tick_texts(ax.xaxis)), default=0.0)
        if ax.get_xlabel():
            depth += ax.xaxis.labelpad + _text_box(ax.get_xlabel(), ax.xaxis.label.get_fontsize())[1]
    return depth


def _y_axis_width(ax) -> float:
    """Points left of the axes taken by the y ticks, their labels and the axis label."""
    width = mpl.rcParams["ytick.major.size"] + mpl.rcParams["ytick.major.pad"]
    width += _widest(_tick_texts(ax.yaxis), _tick_size("y"))
    if ax.get_ylabel():
        width += ax.yaxis.labelpad + _text_box(ax.get_ylabel(), ax.yaxis.label.get_fontsize())[1]
    return width


def _tick_size(which: str) -> float:
    return FontProperties(size=mpl.rcParams[f"{which}tick.labelsize"]).get_size_in_points()


_MEASURE = []  # one renderer that measures legends (kept, so its text metrics are reused)


def _legend_height(fig: Figure, legend) -> float:
    """Height in points of a figure legend, as drawn."""
    if not _MEASURE:
        _MEASURE.append(_RendererSVG(1, 1, io.StringIO()))
    dpi = fig.dpi
    fig.dpi = 72  # as the SVG canvas draws: points
    try:
        return legend.get_window_extent(_MEASURE[0]).height
    finally:
        fig.dpi = dpi


def _frame(fig: Figure, foot: float = 0.0) -> tuple[float, float, float, float]:
    """Place the title at the top of the figure and the figure legends above the footnote band
    (``foot`` inches, see :func:`_footnote`); return the box left for the axes and their labels,
    ``(x0, y0, x1, y1)`` in points from the bottom left corner."""
    width, height = fig.get_figwidth() * 72, fig.get_figheight() * 72
    y_top = height - _PAD
    title = fig.get_suptitle()
    if title:
        text = fig.texts[[t.get_text() for t in fig.texts].index(title)]
        text.set_y(y_top / height)
        text.set_verticalalignment("top")
        y_top -= _text_box(title, text.get_fontsize(), text.get_fontweight())[1] + _PAD
    y_bottom = foot * 72 + _PAD
    for legend in reversed(fig.legends):
        legend.set_bbox_to_anchor((0.5, y_bottom / height), transform=fig.transFigure)
        legend.borderaxespad = 0.0
        y_bottom += _legend_height(fig, legend) + _PAD
    return _PAD, y_bottom, width - _PAD, y_top


def _place(ax, x0: float, y0: float, x1: float, y1: float) -> None:
    """Put an axes at a box given in points."""
    width, height = ax.get_figure().get_figwidth() * 72, ax.get_figure().get_figheight() * 72
    ax.set_position([x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height])


def _arrange(fig: Figure, axes: list, *, left: float, right: float, top: float, bottom: float,
             gaps=(), ratios=None, foot: float = 0.0) -> None:
    """Place the figure's blocks, top to bottom: the title, the axes (stacked in one column,
    heights in ``ratios``, ``gaps`` points between them), the figure legends, the footnote band
    (``foot`` inches, see :func:`_footnote`). ``left``, ``right``, ``top`` and ``bottom`` are
    the points the axes' own labels take outside the column of axes."""
    x0, y0, x1, y1 = _frame(fig, foot)
    x0, x1 = x0 + left, x1 - right
    x0 = min(x0, x1 - 0.3 * fig.get_figwidth() * 72)  # labels too long: the axes keep 30% of the width
    y0, y1 = y0 + bottom, y1 - top
    ratios = list(ratios or [1] * len(axes))
    room = y1 - y0 - sum(gaps)
    y = y1
    for i, (ax, r) in enumerate(zip(axes, ratios)):
        h = room * r / sum(ratios)
        _place(ax, x0, y - h, x1, y)
        y -= h + (gaps[i] if i < len(gaps) else 0.0)


def _hbars(ax, y, widths, colours, *, height: float, one_artist: bool = False, **props) -> BarContainer:
    """Horizontal bars from 0, as ``ax.barh`` draws them (a :class:`BarContainer` of Rectangles
    in ``ax.containers`` and ``ax.patches``), for an axes whose limits are set by hand: ``barh``
    updates the data limits from every bar's outline, most of the cost of a long ranking.

    ``one_artist``: the Rectangles are only in the container, drawn by one :class:`_Bars` (a long
    ranking: an artist per bar costs more than its drawing)."""
    patches = []
    for yv, w, colour in zip(y, widths, colours):
        patch = Rectangle((0.0, yv - height / 2), w, height, facecolor=colour, label="_nolegend_", **props)
        if one_artist:  # clipped as the axes clip an artist added to them, by _Bars
            patch.axes = ax
            patch.set_figure(ax.get_figure(root=False))
            patch.set_transform(ax.transData)
        else:
            ax.add_artist(patch)
        patches.append(patch)
    container = BarContainer(patches, orientation="horizontal", label="_nolegend_")
    ax.add_container(container)
    if one_artist:
        _Bars(ax, patches)
    return container


def _plain_bars(transform, patches) -> bool:
    """Whether :class:`_Bars` may draw ``patches`` itself: upright, solid, unhatched, visible
    rectangles without effects, under an affine data transform."""
    return transform.is_affine and all(
        p.get_visible() and p.angle == 0 and not p.get_hatch() and not p.get_path_effects()
        and p.get_sketch_params() is None and p._linestyle in ("solid", "-") for p in patches)


class _Bars(Artist):
    """Rectangles (bars from :func:`_hbars`) drawn as each Rectangle draws itself (a group per
    bar with its gid, its colours and edge), in one pass with one graphics context and the
    axes' data transform read once."""

    def __init__(self, ax, patches):
        super().__init__()
        self._patches = patches
        self.set_zorder(patches[0].get_zorder() if patches else 1)
        ax.add_artist(self)  # clipped to the axes, as each bar would be

    def get_window_extent(self, renderer=None):
        boxes = [p.get_window_extent(renderer) for p in self._patches]
        return Bbox.union(boxes) if boxes else Bbox.null()

    def draw(self, renderer):
        if not self.get_visible() or not self._patches:
            return
        data = self.axes.transData
        if not _plain_bars(data, self._patches):
            for p in self._patches:
                if p.get_clip_on() and p.clipbox is None and p.get_clip_path() is None:
                    p.clipbox, p._clippath = self.clipbox, self._clippath
                p.draw(renderer)
            return
        matrix = data.get_affine().get_matrix()
        unit = Path.unit_rectangle()
        gc = renderer.new_gc()
        try:
            self._set_gc_clip(gc)  # the column's clip, the same for every bar (nothing below sets one)
            for p in self._patches:
                renderer.open_group("patch", p.get_gid())
                lw = 0 if p._edgecolor[3] == 0 else p._linewidth
                gc.set_linewidth(lw)
                gc.set_capstyle(p._capstyle)
                gc.set_joinstyle(p._joinstyle)
                gc.set_antialiased(p._antialiased)
                gc.set_url(p._url)
                gc.set_snap(p.get_snap())
                gc.set_alpha(p._alpha)
                gc.set_foreground(p._edgecolor, isRGBA=True)
                gc.set_dashes(*p._dash_pattern) if lw > 0 else gc.set_dashes(0, None)
                # the corners get_bbox gives (Bbox.from_extents of these, as float64)
                x0, y0, x1, y1 = (float(v) for v in p._convert_units())
                box = np.array([[x1 - x0, 0.0, x0], [0.0, y1 - y0, y0], [0.0, 0.0, 1.0]])
                renderer.draw_path(gc, unit, Affine2D(matrix @ box), p._facecolor if p._facecolor[3] else None)
                renderer.close_group("patch")
        finally:
            gc.restore()
        self.stale = False


_LAYOUTS: dict = {}  # see _Labels._layout


def _text_metrics(renderer, text: str, prop: FontProperties, dpi: float, font: tuple | None = None) -> tuple:
    """Width, height and descent of a plain text as ``Text._get_layout`` measures it on
    ``renderer`` (``matplotlib.text._get_text_metrics_with_cache``); for the SVG renderer of this
    module that is :func:`_svg_text_metrics`, read directly (``font``: ``_font_key(prop)``)."""
    direct = getattr(renderer, "_renderer", renderer)
    if isinstance(direct, _RendererSVG):
        return _svg_text_metrics(text, font or _font_key(prop), False)
    return _get_text_metrics_with_cache(renderer, text, prop, False, dpi)


class _Labels(Artist):
    """A column of texts that share every property but their position, text and weight (the
    names or values of a ranking, the tick labels of an axis), added to ``ax``.

    Drawn from one :class:`~matplotlib.text.Text` moved from label to label, so a renderer gets
    the same calls, in the same order, as from a Text per label (the same SVG and PNG), without
    making an artist per label. ``items`` are ``(x, y, text, weight)`` in ``transform``; the
    other keywords are Text properties."""

    def __init__(self, ax, transform, items, **props):
        super().__init__()
        self._items = [(float(x), float(y), str(text), weight) for x, y, text, weight in items]
        self._text = Text(0, 0, "", transform=transform, clip_on=False, **props)
        self._text.axes = ax
        self._text.set_figure(ax.get_figure(root=False))
        self.set_zorder(self._text.get_zorder())
        self.set_gid(self._text.get_gid())
        self.set_clip_on(False)
        self.set_clip_path(None)
        ax.add_artist(self)

    def _at(self, item) -> Text:
        x, y, text, weight = item
        t = self._text
        t._x, t._y, t._text = x, y, text
        if t._fontproperties._weight != weight:  # the weight is stored as given once validated
            t._fontproperties.set_weight(weight)
        return t

    def get_texts(self) -> list[str]:
        """The labels, in order."""
        return [text for _, _, text, _ in self._items]

    def get_positions(self) -> list[tuple[float, float]]:
        """Where the labels are, in the column's transform."""
        return [(x, y) for x, y, _, _ in self._items]

    def texts(self) -> list[Text]:
        """A :class:`~matplotlib.text.Text` per label, as drawn (for inspection: they are not in
        the figure)."""
        out = []
        for item in self._items:
            t = self._at(item)
            copy = Text(t._x, t._y, t._text, transform=t.get_transform(), clip_on=False)
            copy.update_from(t)
            copy.set_gid(t.get_gid())
            copy.set_zorder(t.get_zorder())
            copy.axes = t.axes
            copy.set_figure(t.get_figure(root=False))
            out.append(copy)
        return out

    def _settings(self, renderer) -> tuple:
        """What the layout of the present label depends on besides its text (see _layout); the
        same for every label of one weight during a drawing."""
        t = self._text
        return (type(getattr(renderer, "_renderer", renderer)), t.get_figure(root=True).dpi,
                _font_key(t._fontproperties), t._horizontalalignment, t._verticalalignment,
                t._multialignment, t._linespacing, t.get_rotation(), t._rotation_mode, t._parse_math,
                mpl.rcParams["text.hinting"], mpl.rcParams["text.hinting_factor"])

    def _layout(self, renderer, settings: tuple | None = None) -> list:
        """The lines of the present label and their offsets from its position (Text._get_layout),
        kept per text, font, alignment, kind of renderer, dpi and hinting: they depend on nothing
        else.

        A plain one-line label (no newline, no math, no TeX, no wrapping) is kept per its
        measured width, height and descent instead of its text: for such a label,
        ``Text._get_layout`` reads the text only through that one measurement (the same call,
        ``_get_text_metrics_with_cache``, made here) and returns the text itself as the line, so
        every label of one size shares an entry, the text put back in. Unit names are unique to
        a report, so keyed by text each one would be laid out afresh (most of a ranking's
        drawing). ``test_labels_layout_keyed_by_metrics_is_matplotlibs`` checks the equality.

        ``settings``: :meth:`_settings` for the present label, if already known."""
        t = self._text
        settings = self._settings(renderer) if settings is None else settings
        text = t._text
        plain = not (t._wrap or t.get_usetex() or "\n" in text)
        if plain:
            clean, ismath = t._preprocess_math(text)
            plain = ismath is False
        if plain:
            what = (_text_metrics(renderer, clean, t._fontproperties, settings[1], settings[2])
                    if clean else (0, 0, 0))
        else:
            what = text
        key = (plain, what, *settings)
        info = _LAYOUTS.get(key)
        if info is None:
            if len(_LAYOUTS) > 8192:
                _LAYOUTS.clear()
            info = _LAYOUTS[key] = t._get_layout(renderer)[1]
        if plain:
            (_, wad, xy), = info
            return [(text, wad, xy)]
        return info

    def get_window_extent(self, renderer=None):
        boxes = [self._at(item).get_window_extent(renderer) for item in self._items]
        return Bbox.union(boxes) if boxes else Bbox.null()

    def draw(self, renderer):
        if not self.get_visible():
            return
        t = self._text
        if t.get_usetex() or t.get_path_effects() or t.get_bbox_patch() or t.get_rotation() != 0:
            for item in self._items:
                self._at(item).draw(renderer)
            self.stale = False
            return
        # Text.draw for each label (matplotlib 3.11), less what a label of a column never has
        # (masked or unit positions, a box, path effects, TeX, rotation), with one graphics
        # context for the column: the same renderer calls in the same order
        t._renderer = renderer
        gid = t.get_gid()
        trans = t.get_transform()
        flip, height = renderer.flipy(), renderer.get_canvas_width_height()[1]
        angle = t.get_rotation()
        # the SVG renderer drawing now (a mixed-mode renderer draws through it): labels written directly
        direct = getattr(renderer, "_renderer", renderer)
        direct = direct if isinstance(direct, _RendererSVG) else None
        gc = renderer.new_gc()
        gc.set_foreground(to_rgba(t.get_color()), isRGBA=True)
        gc.set_alpha(t.get_alpha())
        gc.set_url(t.get_url())
        gc.set_antialiased(t._antialiased)
        gc.set_snap(t.get_snap())
        t._set_gc_clip(gc)
        # what is the same for every label of the column, found once: whether the SVG renderer
        # may write a label itself (draw_label's test), the positions (an affine transform of
        # all points at once gives each point's numbers), the layout settings of each weight
        writable = direct is not None and direct.label_writable(gc, t)
        items = self._items
        if trans.is_affine and items:
            positions = trans.transform(np.array([(x, y) for x, y, _, _ in items], dtype=float))
        else:
            positions = None
        settings = {}
        try:
            for i, item in enumerate(items):
                if not item[2]:
                    continue
                self._at(item)
                renderer.open_group("text", gid)
                weight = item[3]
                if weight not in settings:
                    settings[weight] = self._settings(renderer)
                info = self._layout(renderer, settings[weight])
                posx, posy = positions[i] if positions is not None else trans.transform((item[0], item[1]))
                if not (np.isfinite(posx) and np.isfinite(posy)):
                    renderer.close_group("text")
                    continue
                for line, _, (x, y) in info:
                    x, y = x + posx, y + posy
                    if flip:
                        y = height - y
                    clean, ismath = t._preprocess_math(line)
                    if len(info) == 1 and not ismath and writable:
                        # what draw_text writes, the anchor already known
                        direct._write_text(gc, y, clean, t._fontproperties, angle, t, (posx, posy),
                                           settings[weight][2])
                        continue
                    renderer.draw_text(gc, x, y, clean, t._fontproperties, angle, ismath=ismath,
                                       mtext=t if len(info) == 1 else None)
                renderer.close_group("text")
        finally:
            gc.restore()
        self.stale = False


def _own_ticks(ax, which: str, *, labels: bool = True, grid: dict | None = None,
               ticks: tuple | None = None) -> tuple[np.ndarray, list[str]]:
    """Draw the major ticks of an axis (``"x"``, bottom, or ``"y"``, left; pointing out) with
    three artists where matplotlib makes five per tick: the marks (one line of markers), the
    labels (:class:`_Labels`) and, given ``grid`` (Line2D properties), the grid lines (one line),
    with gids ``xtick``, ``xtick-label`` and ``xgrid`` (``y…`` for y).

    Call it once the axis' ticks and limits are final: the ticks are those its locator and
    formatter give (formatted together, as the axis does, those inside the view kept), drawn
    as the axis would, with its rc sizes, pads, colours and zorder; the axis then has none, and
    its label keeps its place below (left of) the tick labels. Returns the locations and labels,
    which ``ticks`` gives for an axis that shares them (the shared locator is emptied by the
    first call).
    """
    axis = ax.xaxis if which == "x" else ax.yaxis
    rc = mpl.rcParams
    if ticks is None:
        locs = np.asarray(axis.get_majorticklocs(), dtype=float)
        texts = list(axis.get_major_formatter().format_ticks(locs))
        lo, hi = sorted(axis.get_view_interval())
        inside = (locs >= lo - 1e-10 * (hi - lo)) & (locs <= hi + 1e-10 * (hi - lo))
        locs, texts = locs[inside], [t for t, ok in zip(texts, inside) if ok]
    else:
        locs, texts = ticks
    axis.set_major_locator(FixedLocator([]))  # as set_ticks([]), without making a tick
    fig = ax.get_figure(root=False)
    zorder = axis.get_zorder()
    size, pad = rc[f"{which}tick.major.size"], rc[f"{which}tick.major.pad"]
    colour = rc[f"{which}tick.color"]
    label_colour = rc[f"{which}tick.labelcolor"]
    label_colour = colour if label_colour == "inherit" else label_colour
    if which == "x":
        tick_trans, grid_trans = ax.get_xaxis_transform("tick1"), ax.get_xaxis_transform("grid")
        xy = (locs, np.zeros(len(locs)))
        marker = TICKDOWN
    else:
        tick_trans, grid_trans = ax.get_yaxis_transform("tick1"), ax.get_yaxis_transform("grid")
        xy = (np.zeros(len(locs)), locs)
        marker = TICKLEFT
    if grid is not None and len(locs):
        along = np.tile([0.0, 1.0, np.nan], len(locs))
        across = np.repeat(locs, 3)
        line = Line2D(across if which == "x" else along, along if which == "x" else across, gid=f"{which}grid",
                      transform=grid_trans, zorder=zorder, **{"linestyle": rc["grid.linestyle"],
                                                              "alpha": rc["grid.alpha"], **grid})
        line.get_path()._interpolation_steps = mpl.axis.GRIDLINE_INTERPOLATION_STEPS
        ax.add_artist(line)
    if len(locs):
        ax.add_artist(Line2D(*xy, transform=tick_trans, linestyle="none", marker=marker, markersize=size,
                             markeredgewidth=rc[f"{which}tick.major.width"], color=colour, zorder=zorder,
                             clip_on=False, gid=f"{which}tick"))
    if labels and len(locs):
        fontsize = FontProperties(size=rc[f"{which}tick.labelsize"]).get_size_in_points()
        if which == "x":
            trans = offset_copy(tick_trans, fig=fig, y=-(size + pad), units="points")
            items = zip(locs, np.zeros(len(locs)), texts, ["normal"] * len(locs))
            _Labels(ax, trans, items, ha=rc["xtick.alignment"], va="top", fontsize=fontsize,
                    color=label_colour, zorder=zorder, gid="xtick-label")
            axis.labelpad += size + pad + max(_text_box(t, fontsize)[1] for t in texts)
        else:
            trans = offset_copy(tick_trans, fig=fig, x=-(size + pad), units="points")
            items = zip(np.zeros(len(locs)), locs, texts, ["normal"] * len(locs))
            _Labels(ax, trans, items, ha="right", va=rc["ytick.alignment"], fontsize=fontsize,
                    color=label_colour, zorder=zorder, gid="ytick-label")
            axis.labelpad += size + pad + _widest(texts, fontsize) / _SLACK
    return locs, texts


def _luminance(colour) -> float:
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# --------------------------------------------------------------------------- rendering


def to_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes on the Agg canvas, with no varying metadata.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int, default 110
        110 dpi at 7 in gives a 770-pixel-wide image, sharp at report width.

    Returns
    -------
    bytes
        The same figure rendered twice gives the same bytes (the ``Software`` text chunk that
        names the matplotlib version is left out; no time stamp is written).

    Examples
    --------
    >>> import pandas as pd
    >>> fig = ranking_bars(pd.DataFrame({"name": ["xã A", "xã B"], "value": [91.2, 75.0]}))
    >>> to_png(fig)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    with _rc_context(STYLE):
        FigureCanvasAgg(fig)
        _lay_out_once(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _lay_out_once(fig: Figure) -> None:
    """Run the figure's layout engine once, then keep that layout.

    ``savefig`` on a figure with a layout engine draws it twice (a hidden draw that runs the
    layout, then the real one), and a constrained layout moves by a fraction of a point on each
    draw. Laying out once here and turning the engine off makes the first rendering cheaper
    (about a fifth less for a figure of many labels) and every later rendering (SVG for the
    page, PNG for Word, a second display in a notebook) draw the same figure.
    """
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
        fig.set_layout_engine(None)


# ``i(?<=\bi)d="`` is ``\bid="`` (an ``id`` attribute, not ``gid`` or ``xid``) written to open
# with a literal, so that the regex engine skips to the next "i" instead of trying the word
# boundary at every character of the drawing (about twenty times faster on a ranking's SVG);
# test_svg_patterns_match_as_written_with_a_word_boundary checks the two spellings agree.
_SVG_ID = re.compile(r'i(?<=\bi)d="([^"]+)"')
_SVG_REF = re.compile(r'(i(?<=\bi)d="|url\(#|xlink:href="#)([^"\)]+)(?=["\)])')
_SVG_HEAD = re.compile(r"\A<\?xml[^>]*>\s*<!DOCTYPE[^>]*>\s*", re.S)
_SVG_TARGET = re.compile(r'(?:url\(#|xlink:href="#)([^"\)]+)(?=["\)])')  # what references name
_SVG_HEADS = re.compile(r'(i(?<=\bi)d="|url\(#|xlink:href="#)(?=[^"\)]+["\)])')  # where a name starts
_SVG_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
# _SVG_HEADS in two passes whose replacement is plain text (a template with a group costs a
# Python call per match): the last character of each kind of head, looked back from
_SVG_ID_QUOTE = re.compile(r'"(?<=\bid=")(?=[^"\)]+["\)])')
_SVG_REF_HASH = re.compile(r'#(?:(?<=url\(#)|(?<=xlink:href="#))(?=[^"\)]+["\)])')
_PLAIN_PREFIX = re.compile(r"[A-Za-z0-9_.-]*")  # a prefix that cannot make or break a head


@functools.lru_cache(maxsize=16384)
def _svg_text_metrics(text: str, font: tuple, ismath) -> tuple[float, float, float]:
    """Width, height and descent in points of a text in a font, as the SVG renderer measures
    it (unhinted outlines, so independent of the renderer and of the dpi). ``font`` is
    :func:`_font_key` of the properties; the cache is bounded and its values depend on their
    key only, so a hit gives the same numbers as a miss."""
    if ismath:
        return _TEXT2PATH.get_text_width_height_descent(text, _font_properties(font), ismath)
    # TextToPath.get_text_width_height_descent (matplotlib 3.11) for plain text, the font's
    # files found once per font and font settings (_font_files) instead of at every text; the
    # same FT2Font (get_font), size, flags and arithmetic, so the same numbers
    # (test_text_metrics_are_matplotlibs compares them).
    ft = get_font(_font_files(font, _font_settings()))
    ft.set_size(_TEXT2PATH.FONT_SCALE, _TEXT2PATH.DPI)
    ft.set_text(text, 0.0, flags=LoadFlags.NO_HINTING)
    w, h = ft.get_width_height()
    w /= 64.0  # convert from subpixels
    h /= 64.0
    d = ft.get_descent()
    d /= 64.0
    scale = font[5] / _TEXT2PATH.FONT_SCALE
    return w * scale, h * scale, d * scale


def _font_properties(font: tuple) -> FontProperties:
    """The FontProperties of a :func:`_font_key`."""
    family, style, variant, weight, stretch, size, file, math_family = font
    return FontProperties(family=list(family), style=style, variant=variant, weight=weight,
                          stretch=stretch, size=size, fname=file, math_fontfamily=math_family)


def _font_settings() -> tuple:
    """What the font files found for given properties depend on besides them: matplotlib's font
    manager and its list of fonts (a font added changes it), the rcParams ``findfont`` reads and
    the environment variable it reads."""
    manager, get = _textpath._fontManager, mpl.rcParams._get
    return (id(manager), len(manager.ttflist), len(manager.afmlist), os.getenv("MPL_IGNORE_SYSTEM_FONTS"),
            *(_hashable(get(f"font.{key}")) for key in (
                "family", "style", "variant", "weight", "stretch", "size", "serif", "sans-serif",
                "cursive", "fantasy", "monospace")))


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


@functools.lru_cache(maxsize=256)
def _font_files(font: tuple, settings: tuple) -> tuple:
    """The font files matplotlib's text-to-path measure reads for a :func:`_font_key`
    (``_find_fonts_by_props``), under the settings of :func:`_font_settings`."""
    return tuple(_textpath._fontManager._find_fonts_by_props(_font_properties(font)))


def _font_key(prop: FontProperties) -> tuple:
    return (tuple(prop.get_family()), prop.get_style(), prop.get_variant(), prop.get_weight(),
            prop.get_stretch(), prop.get_size_in_points(), prop.get_file(), prop.get_math_fontfamily())


class _RendererSVG(RendererSVG):
    """matplotlib's SVG renderer measuring text through :func:`_svg_text_metrics`: matplotlib
    caches metrics per renderer, and every figure gets a new one (two with a layout engine), so
    without this every label of every figure would be measured afresh."""

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath == "TeX":
            return super().get_text_width_height_descent(s, prop, ismath)
        return _svg_text_metrics(s, _font_key(prop), ismath)

    def _get_font_height_metrics(self, prop):
        # matplotlib asks a renderer for the line heights of a font before reading the font's
        # tables itself, for every text it lays out; SVG is drawn at 72 dpi, so these are the
        # same numbers it would read, in points
        return _font_heights(prop.get_size_in_points(), prop.get_weight(), tuple(prop.get_family()))


    def _draw_text_as_text(self, gc, x, y, s, prop, angle, ismath, mtext=None):
        # The text of a report's figure is plain, upright and anchored where its Text is: the
        # element matplotlib writes for it, with the style of its font, colour and anchor made
        # once (matplotlib builds it for every text). Anything else is matplotlib's.
        if ismath or mtext is None or angle != 0 or any(f in font_family_aliases for f in prop.get_family()):
            return super()._draw_text_as_text(gc, x, y, s, prop, angle, ismath, mtext)
        anchor = mtext.get_transform().transform(mtext.get_unitless_position())
        self._write_text(gc, y, s, prop, angle, mtext, anchor)

    def _write_text(self, gc, y, s, prop, angle, mtext, anchor, font: tuple | None = None) -> None:
        """The ``<text>`` matplotlib writes for a plain upright text whose Text is anchored at
        ``anchor`` (display coordinates), ``y`` its baseline in SVG coordinates (``font``:
        ``_font_key(prop)``, if known)."""
        rgb = gc.get_rgb()
        key = (font or _font_key(prop), tuple(rgb), gc.get_alpha() if gc.get_forced_alpha() else rgb[3],
               mtext.get_ha())
        style = _TEXT_STYLES.get(key)
        if style is None:
            capture = _StyleCapture()
            writer, self.writer = self.writer, capture
            try:
                super()._draw_text_as_text(gc, anchor[0], y, s, prop, angle, False, mtext)
            finally:
                self.writer = writer
            style = _TEXT_STYLES[key] = capture.style
        ax, ay = anchor
        ay = self.height - ay
        v_offset = y - ay  # upright: the vertical layout moves the anchor, as matplotlib does
        ax, ay = ax + v_offset * 0.0, ay + v_offset * 1.0
        x, y = _short_float_fmt(ax), _short_float_fmt(ay)
        # _generate_transform([("rotate", (-angle, ax, ay))]), the coordinates formatted once: a
        # rotation of three numbers is always written, each number as _short_float_fmt gives it
        self.writer.element("text", s, attrib={"style": style, "x": x, "y": y,
                                               "transform": f"rotate({_short_float_fmt(-angle)} {x} {y})"})

    def draw_label(self, gc, y, s, prop, mtext, anchor) -> bool:
        """:meth:`draw_text` of a plain upright one-line text whose Text is anchored at ``anchor``
        (display coordinates, as its transform gives its position), for a column of labels
        (:class:`_Labels`); False, having drawn nothing, where matplotlib's path is needed."""
        if not self.label_writable(gc, mtext, prop):
            return False
        self._write_text(gc, y, s, prop, mtext.get_rotation(), mtext, anchor)
        return True

    def label_writable(self, gc, mtext, prop=None) -> bool:
        """Whether :meth:`draw_label` writes a label of ``mtext`` (font ``prop``, by default
        its own) drawn with ``gc`` itself."""
        prop = mtext._fontproperties if prop is None else prop
        return not (mpl.rcParams["svg.fonttype"] == "path" or gc.get_url() is not None or self._get_clip_attrs(gc)
                    or mtext.get_rotation() != 0 or any(f in font_family_aliases for f in prop.get_family()))


_TEXT_STYLES: dict = {}  # (font, colour, alpha, anchor) -> style of an SVG text: a few per run


class _StyleCapture:
    """Stands in for the SVG writer to read the style matplotlib gives a text."""

    style = None

    def element(self, tag, text=None, attrib=None, **extra):
        self.style = (attrib or {})["style"]


class _CanvasSVG(FigureCanvasSVG):
    """The SVG canvas with :class:`_RendererSVG` (its ``print_svg`` is matplotlib's, with that
    renderer)."""

    def print_svg(self, filename, *, bbox_inches_restore=None, metadata=None, **_savefig_kwargs):
        with cbook.open_file_cm(filename, "w", encoding="utf-8") as fh:
            if not cbook.file_requires_unicode(fh):
                fh = codecs.getwriter("utf-8")(fh)
            dpi = self.figure.dpi
            self.figure.dpi = 72
            width, height = self.figure.get_size_inches()
            renderer = MixedModeRenderer(
                self.figure, width, height, dpi,
                _RendererSVG(width * 72, height * 72, fh, image_dpi=dpi, metadata=metadata),
                bbox_inches_restore=bbox_inches_restore)
            self.figure.draw(renderer)
            renderer.finalize()


def to_svg(fig: Figure, prefix: str = "f") -> str:
    """Render a figure to SVG text, with its text kept as text, ready to be inlined in HTML.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    prefix : str, default ``"f"``
        Prepended to every ``id`` of the drawing (and to the references to it), so several
        figures inlined in one page never share an id. Give each figure of a page its own.

    Returns
    -------
    str
        An ``<svg>`` element (no XML declaration, no doctype, no metadata). Text is ``<text>``
        in :data:`SVG_FONT_STACK` (``svg.fonttype: none``): searchable, selectable, sharp at any
        zoom, and in Unicode NFC as drawn. An id that several elements share (a ``gid`` given
        to every value label) becomes their class. The same figure gives the same text every time: the
        ids of clip paths and markers are hashed with a fixed salt, and no date is written.

    Examples
    --------
    >>> import pandas as pd
    >>> fig = ranking_bars(pd.DataFrame({"name": ["xã Đặng Hữu", "xã B"], "value": [91.2, 75.0]}))
    >>> svg = to_svg(fig, prefix="r1")
    >>> svg.startswith("<svg") and ">xã Đặng Hữu</text>" in svg and 'id="r1-figure_1"' in svg
    True
    >>> svg == to_svg(fig, prefix="r1")
    True
    """
    with _rc_context({**STYLE, "svg.fonttype": "none", "svg.hashsalt": "chi-so-766", "svg.id": None}):
        _CanvasSVG(fig)
        _lay_out_once(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = _SVG_HEAD.sub("", buf.getvalue())
    if "<metadata>" in svg:  # none is written without metadata; the pattern would try every character
        svg = _SVG_METADATA.sub("", svg, count=1)
    counts = collections.Counter(_SVG_ID.findall(svg))
    # a gid given to several artists (value labels) names a kind of element: a class, not an id;
    # every other id (and every reference to it) gets the prefix.
    shared = [name for name, n in counts.items() if n > 1]
    if all(counts.get(name) == 1 for name in _SVG_TARGET.findall(svg)) and not any(")" in n for n in counts):
        # what matplotlib writes: every reference names a unique id. One fixed pattern and a
        # fixed replacement (no call per match), then the shared ones made classes
        if _PLAIN_PREFIX.fullmatch(prefix):
            # the same insertions as _SVG_HEADS: heads never overlap, and a plain prefix put
            # after an id's quote adds no quote, parenthesis or head for the second pass to see
            svg = _SVG_ID_QUOTE.sub('"' + prefix + "-", svg)
            svg = _SVG_REF_HASH.sub("#" + prefix + "-", svg)
        else:
            svg = _SVG_HEADS.sub("\\g<1>" + prefix.replace("\\", "\\\\") + "-", svg)
        for name in shared:
            svg = svg.replace(f'id="{prefix}-{name}"', f'class="{name}"')
    else:  # each match looked up in the counts

        def rename(m):
            head, name = m.group(1), m.group(2)
            n = counts.get(name, 0)
            if n == 1:
                return f"{head}{prefix}-{name}"
            if n > 1 and head == 'id="':
                return f'class="{name}'
            return m.group(0)

        svg = _SVG_REF.sub(rename, svg)
    svg = svg.replace("font-family: 'DejaVu Sans'", "font-family: " + SVG_FONT_STACK)
    return unicodedata.normalize("NFC", svg).rstrip() + "\n"


# --------------------------------------------------------------------------- tidy inputs


def _source_kinds(ds) -> pd.Series:
    return ds.sources.set_index("source_id")["kind"]


def _first_per_unit(rows: pd.DataFrame, kinds: pd.Series) -> pd.DataFrame:
    """One row per unit: the first printed value (file order), rank from the first row with one."""
    rows = rows.assign(synthetic=rows["source_id"].map(kinds).eq("synthetic"))
    cols = ["value", "rank", "rank_of", "band", "source_id", "section"]
    cols = [c for c in cols if c in rows.columns]
    first = rows.groupby("unit_id", sort=False)[cols].first()
    first["synthetic"] = rows.groupby("unit_id", sort=False)["synthetic"].any()
    first["n_values"] = rows.groupby("unit_id", sort=False)["value"].nunique()
    return first.rename(columns={"band": "band_printed"})


def _units_in_scope(ds, area: str | None, level: str | None) -> pd.DataFrame:
    if area is not None:
        return area_units(ds, area, level=level)
    units = ds.units
    return units if level is None else units.loc[units["level"] == level]


def unit_totals(ds, period: str, *, area: str | None = None, level: str | None = None,
                group: str = "TOTAL", source: str | None = None) -> pd.DataFrame:
    """One row per unit with its published total (or one group's points) for a period.

    Parameters
    ----------
    ds : Dataset
        Loaded data (:func:`analysis.dataset.load_dataset`) or synthetic tables of the same shape.
    period : str
        Period id, e.g. ``"2024-07"``.
    area : str, optional
        Unit id of a province or district: only the units below it.
    level : str, optional
        ``province``, ``department``, ``district`` or ``commune``.
    group : str, default "TOTAL"
    source : str, optional
        Only the figures printed by this source (``sources.source_id``).

    Returns
    -------
    DataFrame
        Columns ``unit_id, name, level, province_id, province, value, rank, rank_of,
        band_printed, source_id, section, n_values, synthetic``, units in ``units.csv`` order.
        When several sections print the unit, the first value in file order is kept
        (``n_values`` > 1 says they differ). ``province`` is the province's short name.

    Examples
    --------
    >>> from analysis.dataset import load_dataset
    >>> from analysis.config import DATA_DIR
    >>> t = unit_totals(load_dataset(DATA_DIR), "2024-07", area="bac-kan/huyen-na-ri", level="commune")
    >>> len(t), t.loc[0, "name"], float(t["value"].max())
    (17, 'xã Cường Lợi', 89.49)
    """
    units = _units_in_scope(ds, area, level)
    s = ds.scores
    rows = s.loc[(s["group"] == group) & (s["period_id"] == period) & s["unit_id"].isin(set(units["unit_id"]))]
    rows = rows.loc[rows["value"].notna() | rows["rank"].notna()]
    if source is not None:
        rows = rows.loc[rows["source_id"] == source]
    first = _first_per_unit(rows, _source_kinds(ds))
    names = ds.units.set_index("unit_id")
    out = units.loc[units["unit_id"].isin(first.index), ["unit_id", "name", "level", "province_id"]].copy()
    out["province"] = out["province_id"].map(names["name"]).map(short_name)
    out = out.join(first, on="unit_id")
    return out.reset_index(drop=True)


def unit_groups(ds, period: str, *, area: str | None = None, level: str | None = None,
                source: str | None = None) -> pd.DataFrame:
    """Group points of every unit for a period, long (one row per unit × group, TOTAL left out).

    Parameters are those of :func:`unit_totals`.

    Returns
    -------
    DataFrame
        Columns ``unit_id, name, level, province_id, province, group, value, max_stated,
        synthetic``; the first printed value per unit × group (file order).

    Examples
    --------
    >>> from analysis.dataset import load_dataset
    >>> from analysis.config import DATA_DIR
    >>> g = unit_groups(load_dataset(DATA_DIR), "2024-07", area="bac-kan/huyen-na-ri", level="commune")
    >>> len(g), sorted(g["group"].unique())
    (85, ['CKMB', 'DVTT', 'MDHL', 'MDSH', 'TDGQ'])
    """
    units = _units_in_scope(ds, area, level)
    s = ds.scores
    rows = s.loc[(s["group"] != "TOTAL") & (s["period_id"] == period) & s["value"].notna()
                 & s["unit_id"].isin(set(units["unit_id"]))]
    if source is not None:
        rows = rows.loc[rows["source_id"] == source]
    kinds = _source_kinds(ds)
    rows = rows.assign(synthetic=rows["source_id"].map(kinds).eq("synthetic"))
    first = rows.groupby(["unit_id", "group"], sort=False)[["value", "max_stated", "synthetic"]].first()
    first = first.reset_index()
    names = ds.units.set_index("unit_id")
    meta = units[["unit_id", "name", "level", "province_id"]].copy()
    meta["province"] = meta["province_id"].map(names["name"]).map(short_name)
    meta["_order"] = np.arange(len(meta))
    out = meta.merge(first, on="unit_id", how="inner")
    order = {g: i for i, g in enumerate(group_order())}  # both views, in report order
    out["_g"] = out["group"].map(order)
    out = out.sort_values(["_order", "_g"], kind="mergesort").drop(columns=["_order", "_g"])
    return out.reset_index(drop=True)


def unit_series(ds, unit_id: str, *, group: str = "TOTAL") -> pd.DataFrame:
    """A unit's published value and rank over every period the data has, oldest first.

    Returns
    -------
    DataFrame
        Columns ``period_id, label, value, rank, rank_of, name, synthetic``; one row per period
        (the first printed value and rank in file order).

    Examples
    --------
    >>> from analysis.dataset import load_dataset
    >>> from analysis.config import DATA_DIR
    >>> t = unit_series(load_dataset(DATA_DIR), "bac-kan")
    >>> t["period_id"].tolist()[:2], t["rank"].tolist()[-1], int(t["rank_of"].iloc[0])
    (['2024-01', '2024-02'], 8, 63)
    """
    if unit_id not in set(ds.units["unit_id"]):
        raise ParameterError(f"unknown unit '{unit_id}'")
    s = ds.scores
    rows = s.loc[(s["unit_id"] == unit_id) & (s["group"] == group)
                 & (s["value"].notna() | s["rank"].notna())]
    kinds = _source_kinds(ds)
    rows = rows.assign(synthetic=rows["source_id"].map(kinds).eq("synthetic"))
    first = rows.groupby("period_id", sort=False)[["value", "rank", "rank_of", "synthetic"]].first()
    first = first.reset_index()
    periods = [parse_period(p) for p in first["period_id"]]
    labels = ds.periods.set_index("period_id")["label_vi"]
    first["label"] = [str(labels[p.period_id]) if p.period_id in labels.index else p.label("vi")
                      for p in periods]
    first["_sort"] = [(p.start, p.end) for p in periods]
    first = first.sort_values("_sort", kind="mergesort").drop(columns="_sort")
    first["name"] = ds.units.set_index("unit_id").at[unit_id, "name"]
    return first[["period_id", "label", "value", "rank", "rank_of", "name", "synthetic"]].reset_index(drop=True)


# --------------------------------------------------------------------------- 1. ranking bars


def _bars(data: pd.DataFrame, *, value: str, label: str, highlight, reference, title: str,
          xlabel: str, scheme, synthetic, rank: str | None, rank_of: str | None, func: str,
          notes: list[str]) -> Figure:
    _require(data, [label, value] + [c for c in (rank, rank_of) if c], func)
    synthetic = _is_synthetic(data, synthetic)
    scheme = _scheme(scheme)  # loaded once for the bands, the cut lines and the legend
    missing = data.loc[data[value].isna(), label].map(_nfc).tolist()
    data = data.loc[data[value].notna()].copy()
    data[label] = data[label].map(_nfc)
    if data.empty:
        raise ParameterError(f"{func}: no row has a value in column '{value}'")
    _check_unique(data, [label], func)
    data = data.sort_values(value, ascending=False, kind="mergesort").reset_index(drop=True)
    emphasis = _match_rows(data, highlight, label, func)
    values = data[value].to_numpy(dtype=float)
    bands = bands_of(values, scheme)
    n = len(data)
    fig = _new_figure(1.9 + 0.27 * n, engine=False)
    ax = fig.add_subplot(axes_class=_Axes)
    y = np.arange(n)
    colours = [_colour_of(b) for b in bands]
    bars = _hbars(ax, y, values, colours, height=0.72, edgecolor="#555555", linewidth=0.5, zorder=2,
                  one_artist=True)
    for bar, strong, band in zip(bars, emphasis, bands):
        bar.set_gid(f"band:{band}")
        if strong:
            bar.set_edgecolor("black")
            bar.set_linewidth(2.2)
    # unit names as texts at their bar, left of the axes: a tick per unit would cost five artists
    # each (and the layout measures every one); the names look as tick labels do
    ax.yaxis.set_major_locator(FixedLocator([]))  # as set_yticks([]), without making a tick
    name_column = offset_copy(blended_transform_factory(ax.transAxes, ax.transData), fig=fig,
                              x=-_LABEL_PAD, units="points")
    # the names and the values are two columns of texts outside the axes (not clipped), each drawn
    # from one Text (see _Labels): a Text per label costs more to make than to draw
    weights = ["bold" if strong else "normal" for strong in emphasis]
    _Labels(ax, name_column, zip(np.zeros(n), y, data[label], weights), ha="right", va="center_baseline",
            fontsize=STYLE["ytick.labelsize"], gid="unit-label")
    top = max(100.0, float(np.nanmax(values)))
    value_column = blended_transform_factory(ax.transAxes, ax.transData)
    value_width = 0.0
    value_texts = []
    for i, (v, weight) in enumerate(zip(values, weights)):
        text = _num(v, 2)
        if rank is not None and pd.notna(data.at[i, rank]):
            of = data.at[i, rank_of] if rank_of is not None and pd.notna(data.at[i, rank_of]) else None
            text += f"  ({_t('fig.rank', rank=int(data.at[i, rank]))}" + (f"/{int(of)})" if of is not None else ")")
        value_texts.append(text)
        value_width = max(value_width, _text_box(text, _SMALL, weight)[0])
    # a column of values right of the plot, clear of the bars and the cut lines
    _Labels(ax, value_column, zip(np.full(n, 1.01), y, value_texts, weights), ha="left", va="center",
            fontsize=_SMALL, gid="value-label")
    table = _cuts(scheme)
    _draw_cuts(ax, scheme, table, by_hand=True)
    extra = []
    if reference is not None:
        ref_label, ref_value = reference
        ref_text = f"{_nfc(ref_label)}: {_num(ref_value, 2)}"
        _vline(ax, ref_value, color="black", linewidth=1.4, linestyle="-.", zorder=4, gid="reference",
               label=ref_text)
        extra.append(Line2D([], [], color="black", linewidth=1.4, linestyle="-.", label=ref_text))
    ax.set_xlim(0, top)
    ax.xaxis.set_major_locator(FixedLocator(np.arange(0, top + 0.01, 10)))  # drawn by _own_ticks
    ax.set_ylim(n - 0.5, -0.6)
    ax.set_xlabel(_nfc(xlabel or _t("fig.total")))
    ax.set_axisbelow(True)
    fig.suptitle(_title(title, synthetic))
    _band_legend(fig, scheme, extra=extra, table=table)
    if missing:
        notes = notes + [_t("fig.no_data", names=", ".join(missing))]
    foot = _footnote(fig, notes)
    names = max(_widest(data.loc[~emphasis, label], STYLE["ytick.labelsize"]),
                _widest(data.loc[emphasis, label], STYLE["ytick.labelsize"], "bold"))
    width = fig.get_figwidth() * 72
    # the value column starts 1% of the axes' width right of it (about 1% of the figure's)
    _arrange(fig, [ax], left=names + _LABEL_PAD, right=0.01 * width + value_width,
             top=_text_box("90", _SMALL)[1], bottom=_x_axis_depth(ax), foot=foot)
    _own_ticks(ax, "x", grid={"color": "#dddddd", "linewidth": 0.6})
    return fig


@_styled
def ranking_bars(data: pd.DataFrame, *, value: str = "value", label: str = "name", highlight=None,
                 reference: tuple[str, float] | None = None, title: str | None = None,
                 xlabel: str | None = None, scheme: Scheme | None = None,
                 synthetic: bool | None = None) -> Figure:
    """Units in order of their total, best on top, coloured by band, cut points marked.

    Parameters
    ----------
    data : DataFrame
        One row per unit with a label column and a value column (e.g. :func:`unit_totals`).
        Rows without a value are left out and named in a footnote.
    value, label : str
        Column names.
    highlight : str or list of str, optional
        Label(s) or unit id(s) of the reporting unit(s): bold label, black outline.
    reference : (str, float), optional
        The reporting area's own total, drawn as a dash-dot line (e.g. ``("huyện Na Rì", 87.15)``).
    title, xlabel : str
        Vietnamese title and axis label.
    scheme : Scheme, optional
        Cut points and bands (default: newest scheme, cut points from ``reference/bands.csv``).
    synthetic : bool, optional
        Force (or suppress) the synthetic-data title suffix; default: any ``synthetic`` row.

    Returns
    -------
    matplotlib.figure.Figure
        One horizontal bar per unit (``fig.axes[0].containers[0]``), each bar's facecolor
        ``BAND_COLOURS[band]``; lines with gid ``cut-50`` … ``cut-90``; the unit names, in bar
        order, are a column of labels with gid ``unit-label`` left of the axes (an artist of
        ``fig.axes[0].artists``: ``get_texts()`` gives them; no y ticks).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"name": ["xã A", "xã B", "xã C"], "value": [91.2, 75.0, 83.4]})
    >>> fig = ranking_bars(df, highlight="xã C", reference=("huyện X", 84.0))
    >>> [a.get_texts() for a in fig.axes[0].artists if a.get_gid() == "unit-label"]
    [['xã A', 'xã C', 'xã B']]
    """
    return _bars(data, value=value, label=label, highlight=highlight, reference=reference,
                 title=title or _t("fig.ranking_title"), xlabel=xlabel, scheme=scheme, synthetic=synthetic, rank=None,
                 rank_of=None, func="ranking_bars", notes=[])


# --------------------------------------------------------------------------- 2. group profile


@_styled
def group_profile_heatmap(data: pd.DataFrame, *, label: str = "name", group: str = "group",
                          value: str = "value", view: str | None = None, highlight=None,
                          title: str | None = None,
                          scheme: Scheme | None = None, synthetic: bool | None = None) -> Figure:
    """Heatmap of units × groups, each cell the group's points as a percentage of its maximum.

    Parameters
    ----------
    data : DataFrame
        Long table: one row per unit × group (e.g. :func:`unit_groups`). Units keep their
        order of first appearance.
    label, group, value : str
        Column names.
    view : {"five", "six"}, optional
        Five decision groups (``DVTT`` = online services + payment) or the six portal groups.
        Default: five when the data has ``DVTT``, else six. Six-group data shown in the five
        view gets ``DVTT = ONLINE + TTTT``; five-group data cannot be shown in the six view.
    highlight : str or list of str, optional
        Unit label(s) in bold.
    title : str
    scheme : Scheme, optional
        Group maxima (default ``reference/groups.csv``).
    synthetic : bool, optional

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0].images[0]`` holds the percentages (units × groups). Cells above 100%
        (points printed above the group's maximum, kept as published) get the colour
        :data:`OVER_MAX_COLOUR`, an asterisk and a footnote.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"name": ["xã A"] * 5, "group": ["CKMB", "TDGQ", "DVTT", "MDHL", "MDSH"],
    ...                    "value": [18, 17, 11, 20, 11]})
    >>> fig = group_profile_heatmap(df)
    >>> fig.axes[0].images[0].get_array().shape
    (1, 5)
    """
    synthetic = _is_synthetic(data, synthetic)
    pct, raw, maxima = _percent_table(data, label, group, value, view, scheme, "group_profile_heatmap")
    units, order = list(pct.index), list(pct.columns)
    emphasis = set(data.loc[_match_rows(data, highlight, label, "group_profile_heatmap"), label].map(_nfc))
    n, k = pct.shape
    fig = _new_figure(2.4 + 0.3 * n)
    ax = fig.add_subplot()
    cmap = mpl.colormaps["cividis"].with_extremes(over=OVER_MAX_COLOUR, bad="#e5e5e5")
    arr = np.ma.masked_invalid(pct.to_numpy(dtype=float))
    image = ax.imshow(arr, cmap=cmap, vmin=0, vmax=100, aspect="auto", gid="heatmap")
    over = False
    for i in range(n):
        for j in range(k):
            v = pct.iat[i, j]
            if not np.isfinite(v):
                ax.text(j, i, "–", ha="center", va="center", fontsize=_SMALL, color=_GREY_TEXT)
                continue
            colour = image.cmap(image.norm(v)) if v <= 100 else to_rgb(OVER_MAX_COLOUR)
            text = _pct(v)
            if v > 100 + 1e-9:
                text += "*"
                over = True
            ax.text(j, i, text, ha="center", va="center", fontsize=_SMALL,
                    color="white" if _luminance(colour[:3]) < 0.35 else "black",
                    gid="over-max" if v > 100 + 1e-9 else "cell")
    names = ([textwrap.fill(_group_name(g), 14) for g in order] if k <= 5
             else [textwrap.fill(_group_short(g), 11) for g in order])
    ax.set_xticks(range(k), labels=[f"{name}\n(/{maxima[g]:g})" for name, g in zip(names, order)],
                  fontsize=_SMALL)
    ax.xaxis.tick_top()
    ax.set_yticks(range(n), labels=units)
    for tick in ax.get_yticklabels():
        if tick.get_text() in emphasis:
            tick.set_fontweight("bold")
    ax.tick_params(length=0)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xticks(np.arange(-0.5, k, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    bar = fig.colorbar(image, ax=ax, extend="max", shrink=0.8, aspect=30, pad=0.02)
    bar.set_label(_t("fig.pct_of_max"), fontsize=_SMALL)
    bar.ax.tick_params(labelsize=_SMALL)
    bar.ax.text(0.5, 1.06, "> 100%", transform=bar.ax.transAxes, ha="center", va="bottom",
                fontsize=_SMALL)
    fig.suptitle(_title(title or _t("fig.heatmap_title"), synthetic))
    notes = []
    if over:
        notes.append(_t("fig.over_max_note"))
    _footnote(fig, notes, gid="over-max-note")
    return fig


@_styled
def unit_vs_average(data: pd.DataFrame, unit: str, *, label: str = "name", group: str = "group",
                    value: str = "value", view: str | None = None, average_label: str | None = None,
                    title: str | None = None, scheme: Scheme | None = None,
                    synthetic: bool | None = None) -> Figure:
    """A unit's group scores (% of each group's maximum) against the average of its block.

    Parameters
    ----------
    data : DataFrame
        Long table of every unit of the block (e.g. the communes of a district, or the provinces),
        one row per unit × group; the average is over all of them, the unit included.
    unit : str
        Label or unit id of the unit to show.
    label, group, value : str
        Column names.
    view : {"five", "six"}, optional
        As in :func:`group_profile_heatmap`.
    average_label : str, optional
        Legend text of the average (default ``Trung bình của khối (n đơn vị)``).
    title : str, optional
        Default: ``"<unit> so với trung bình của khối"``.
    scheme : Scheme, optional
    synthetic : bool, optional

    Returns
    -------
    matplotlib.figure.Figure
        A dot plot: lines with gid ``unit`` and ``average``, one point per group.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"name": ["xã A"] * 2 + ["xã B"] * 2, "group": ["CKMB", "MDHL"] * 2,
    ...                    "value": [18, 12, 9, 18]})
    >>> fig = unit_vs_average(df, "xã A", view="six")
    >>> [len(l.get_xdata()) for l in fig.axes[0].lines if l.get_gid() in ("unit", "average")]
    [6, 6]
    """
    synthetic = _is_synthetic(data, synthetic)
    _require(data, [label, group, value], "unit_vs_average")
    rows = _match_rows(data, unit, label, "unit_vs_average")
    unit_label = _nfc(data.loc[rows, label].iloc[0])
    pct, _, maxima = _percent_table(data, label, group, value, view, scheme, "unit_vs_average")
    order = list(pct.columns)
    mine = pct.loc[unit_label]
    mean = pct.mean(axis=0, skipna=True)
    counts = pct.notna().sum(axis=0)
    n_units = len(pct)
    k = len(order)
    fig = _new_figure(1.6 + 0.45 * k)
    ax = fig.add_subplot()
    y = np.arange(k)
    for i in range(k):
        if np.isfinite(mine.iloc[i]) and np.isfinite(mean.iloc[i]):
            ax.plot([mean.iloc[i], mine.iloc[i]], [i, i], color="#bbbbbb", linewidth=2.0, zorder=1,
                    gid="gap")
    ax.plot(mean.to_numpy(), y, linestyle="none", marker="D", markersize=7, markerfacecolor="white",
            markeredgecolor=NEUTRAL_COLOUR, markeredgewidth=1.6, zorder=3, gid="average",
            label=_nfc(average_label or _t("fig.block_average", n=n_units)))
    ax.plot(mine.to_numpy(), y, linestyle="none", marker="o", markersize=8, color=SERIES_COLOUR,
            zorder=4, gid="unit", label=unit_label)
    over = False
    for i in range(k):
        v = mine.iloc[i]
        if np.isfinite(v):
            star = "*" if v > 100 + 1e-9 else ""
            over |= bool(star)
            ax.text(v, i - 0.22, _pct(v) + star, ha="center", va="bottom", fontsize=_SMALL,
                    color=SERIES_COLOUR, fontweight="bold", gid="unit-label")
        m = mean.iloc[i]
        if np.isfinite(m):
            ax.text(m, i + 0.2, _pct(m), ha="center", va="top", fontsize=_SMALL,
                    color=_GREY_TEXT, gid="average-label")
    ax.axvline(100, color="#444444", linewidth=0.8, linestyle=(0, (4, 3)), gid="max-line")
    ax.set_yticks(y, labels=[f"{textwrap.fill(_group_name(g), 28)} (/{maxima[g]:g})" for g in order])
    ax.invert_yaxis()
    hi = max(110.0, float(np.nanmax(np.r_[mine.to_numpy(), mean.to_numpy(), 100.0])) + 8)
    ax.set_xlim(0, hi)
    ax.set_ylim(k - 0.5, -0.7)
    ax.set_xlabel(_t("fig.pct_of_max"))
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    _legend(fig, loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(_title(title or _t("fig.vs_average_title", unit=_cap(unit_label)), synthetic))
    notes = []
    if over:
        notes.append(_t("fig.over_max_short"))
    if (counts < n_units).any():
        notes.append(_t("fig.average_note"))
    _footnote(fig, notes)
    return fig


# --------------------------------------------------------------------------- 3. correlation


def _ols_band(x: np.ndarray, y: np.ndarray, grid: np.ndarray, level: float):
    """OLS line and the confidence band of its mean at ``grid`` (t with n - 2 df)."""
    from scipy import stats as sps

    n = len(x)
    xm = x.mean()
    sxx = float(((x - xm) ** 2).sum())
    slope = float(((x - xm) * (y - y.mean())).sum()) / sxx
    intercept = float(y.mean() - slope * xm)
    fit = intercept + slope * grid
    resid = y - (intercept + slope * x)
    s2 = float((resid ** 2).sum()) / (n - 2)
    half = sps.t.ppf(0.5 + level / 2, n - 2) * np.sqrt(s2 * (1.0 / n + (grid - xm) ** 2 / sxx))
    return fit, fit - half, fit + half


@_styled
def correlation_scatter(data: pd.DataFrame, x: str, y: str, *, x_label: str | None = None,
                        y_label: str | None = None, x_max: float | None = None,
                        y_max: float | None = None, method: str = "pearson",
                        title: str | None = None, ci: float = 1 - ALPHA,
                        synthetic: bool | None = None) -> Figure:
    """Scatter of ``y`` against ``x`` with the OLS line, its confidence band and the test result.

    Parameters
    ----------
    data : DataFrame
        One row per unit; rows missing ``x`` or ``y`` are left out (pairwise).
    x, y : str
        Numeric columns.
    x_label, y_label : str, optional
        Vietnamese axis labels (default: the column names).
    x_max, y_max : float, optional
        Top of each scale (100 for a rate, the group's maximum for points). Units at or above
        it are drawn with a triangle in :data:`OVER_MAX_COLOUR`, legend ``Đạt mức trần``.
    method : {"pearson", "spearman", "kendall"}
        Coefficient annotated (from :func:`analysis.stats.correlation_test`); the line is OLS.
    title : str, optional
    ci : float, default 0.95
        Confidence level of the coefficient's interval and of the line's band.
    synthetic : bool, optional

    Returns
    -------
    matplotlib.figure.Figure
        Collections with gid ``points`` and ``ceiling``, a line ``ols``, a band ``ols-ci`` and a
        text ``stats`` with n, the coefficient, its interval and p, in Vietnamese notation.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [10, 40, 55, 70, 100], "b": [12, 15, 14, 18, 18]})
    >>> fig = correlation_scatter(df, "a", "b", y_max=18)
    >>> next(t.get_text() for t in fig.axes[0].texts if t.get_gid() == "stats")[:5]
    'n = 5'
    """
    _require(data, [x, y], "correlation_scatter")
    synthetic = _is_synthetic(data, synthetic)
    res = correlation_test(data, x, y, method=method, ci=ci).iloc[0]
    xs = pd.to_numeric(data[x], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(data[y], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    ceiling = np.zeros(len(xs), dtype=bool)
    if x_max is not None:
        ceiling |= xs >= x_max - 1e-9
    if y_max is not None:
        ceiling |= ys >= y_max - 1e-9
    fig = _new_figure(5.2, engine=False)
    ax = fig.add_subplot(axes_class=_Axes)
    pct_level = _num(100 * ci, 0)
    if int(res["n"]) >= 3 and np.ptp(xs) > 0 and np.isfinite(res["r"]):
        lo_x = min(0.0, xs.min()) if x_max is not None else xs.min()
        hi_x = max(x_max, xs.max()) if x_max is not None else xs.max()
        grid = np.linspace(lo_x, hi_x, 101)
        fit, low, high = _ols_band(xs, ys, grid, ci)
        ax.fill_between(grid, low, high, color=SERIES_COLOUR, alpha=0.15, linewidth=0, zorder=1,
                        gid="ols-ci", label=_t("fig.ci_line", level=pct_level))
        ax.plot(grid, fit, color=SERIES_COLOUR, linewidth=1.6, zorder=2, gid="ols",
                label=_t("fig.ols"))
    ax.scatter(xs[~ceiling], ys[~ceiling], s=42, marker="o", color=SERIES_COLOUR, edgecolor="white",
               linewidth=0.6, zorder=4, gid="points", label=_t("fig.units"))
    ax.scatter(xs[ceiling], ys[ceiling], s=64, marker="^", color=OVER_MAX_COLOUR, edgecolor="black",
               linewidth=0.6, zorder=5, gid="ceiling", label=_t("fig.ceiling"))
    if y_max is not None:
        ax.axhline(y_max, color="#444444", linewidth=0.8, linestyle=(0, (4, 3)), gid="y-max")
        ax.text(1.0, y_max, _t("fig.max", value=_num(y_max, 0)) + " ", transform=blended_transform_factory(
            ax.transAxes, ax.transData), ha="right", va="bottom", fontsize=_SMALL, color=_GREY_TEXT)
    if x_max is not None:
        ax.axvline(x_max, color="#444444", linewidth=0.8, linestyle=(0, (4, 3)), gid="x-max")
    symbol = {"pearson": "r", "spearman": "ρ", "kendall": "τ"}[method]
    name = {"pearson": "Pearson", "spearman": "Spearman", "kendall": "Kendall"}[method]
    n = int(res["n"])
    if np.isfinite(res["r"]):
        ci_name = _t("fig.ci", level=pct_level)
        ci_text = (f"{ci_name}: " + _t("fig.to", low=_num(res['ci_low']), high=_num(res['ci_high']))
                   if np.isfinite(res["ci_low"]) else f"{ci_name}: –")
        stats_text = (f"n = {n}   {symbol} ({name}) = {_num(res['r'])}   ({ci_text})   "
                      f"{_p_text(res['p_val'])}")
    else:
        stats_text = f"n = {n}   " + _t("fig.no_r")
    if ceiling.any():
        stats_text += f"\n{_t('fig.ceiling')}: " + _t("fig.of_units", k=int(ceiling.sum()), n=len(xs))
    ax.text(0.0, 1.02, stats_text, transform=ax.transAxes, ha="left", va="bottom", fontsize=_SMALL,
            gid="stats")
    ax.set_xlabel(_nfc(x_label or x))
    ax.set_ylabel(_nfc(y_label or y))
    if x_max is not None:
        ax.set_xlim(min(0.0, float(xs.min(initial=0))) - 0.03 * x_max, max(x_max, float(xs.max(initial=0))) * 1.04)
    if y_max is not None:  # the band may run past the scale: show the scale, not the band
        top = max(y_max, float(ys.max(initial=0)))
        bottom = max(ax.get_ylim()[0], min(0.0, float(ys.min(initial=0))) - 0.04 * y_max)
        ax.set_ylim(bottom, top + 0.07 * (top - bottom))
    ax.set_axisbelow(True)
    handles, labels = ax.get_legend_handles_labels()
    if not ceiling.any():  # keep the legend entry only when a unit sits at the ceiling
        keep = [i for i, lab in enumerate(labels) if lab != _t("fig.ceiling")]
        handles, labels = [handles[i] for i in keep], [labels[i] for i in keep]
    _legend(fig, handles, labels, loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(_title(title or _t("fig.scatter_title", y=_nfc(y_label or y), x=_nfc(x_label or x)), synthetic))
    x_ticks = _tick_texts(ax.xaxis)
    _arrange(fig, [ax], left=_y_axis_width(ax), right=_text_box(x_ticks[-1] if x_ticks else "", _SMALL)[0] / 2,
             top=0.02 * ax.get_position().height * fig.get_figheight() * 72 + _text_box(stats_text, _SMALL)[1],
             bottom=_x_axis_depth(ax))
    for which in ("x", "y"):
        _own_ticks(ax, which, grid={"color": "#e5e5e5", "linewidth": 0.6})
    return fig


# --------------------------------------------------------------------------- 4. trend


_TO_DATE = ("ytd", "qtd", "mtd")


def _period_ticks(periods: list[Period]) -> list[str]:
    """Tick labels; a long monthly series shows the year only under its first month; a series of
    to-date snapshots is labelled by cut-off day (``24/9``), the year under the first of each."""
    if len(periods) > 8 and all(p.kind == "month" for p in periods):
        out, year = [], None
        for p in periods:
            out.append(f"{p.start.month}" if p.year == year else f"{p.start.month}\n{p.year}")
            year = p.year
        return out
    if periods and all(p.kind in _TO_DATE for p in periods):
        out, year = [], None
        for p in periods:
            day = f"{p.end.day}/{p.end.month}"
            out.append(day if p.end.year == year else f"{day}\n{p.end.year}")
            year = p.end.year
        return out
    return [_period_tick(p) for p in periods]


def _thin_ticks(xs: np.ndarray, labels: list[str], min_gap: float) -> list[str]:
    """Blank the labels of ticks closer than ``min_gap`` to the previous labelled one, keeping
    the last tick (the report's period) labelled."""
    out, last = list(labels), None
    for i, xv in enumerate(xs):
        if last is not None and xv - xs[last] < min_gap:
            if i == len(xs) - 1:
                out[last] = ""  # the newest wins over its close neighbour
            else:
                out[i] = ""
                continue
        last = i
    return out


def _period_tick(p: Period) -> str:
    if p.kind == "month":
        return f"{p.start.month}/{p.year}"
    if p.kind == "week":
        return f"{p.start.month}/{p.year}\n" + _t("fig.week", week=p.week)
    if p.kind == "quarter":
        return _t("fig.quarter", quarter=(p.start.month - 1) // 3 + 1, year=p.year)
    return textwrap.fill(period_label(p.period_id, _LANG.get(), p.end), 12)


def _period_x(p: Period) -> float:
    """Position on the time axis in days: the middle of the period, or the cut-off day of a
    to-date snapshot (snapshots of one year all start on 1 January)."""
    if p.kind in _TO_DATE:
        return float(p.end.toordinal())
    return (p.start.toordinal() + p.end.toordinal()) / 2.0


@_styled
def trend(data: pd.DataFrame, *, period: str = "period_id", value: str = "value", rank: str = "rank",
          rank_of: str = "rank_of", title: str | None = None, unit_label: str | None = None,
          scheme: Scheme | None = None, synthetic: bool | None = None) -> Figure:
    """A unit's total and rank over periods: two panels, band zones shaded, rank axis inverted.

    Parameters
    ----------
    data : DataFrame
        One row per period for one unit (e.g. :func:`unit_series`); ``rank``/``rank_of`` may be
        missing in some rows (or absent: then only the total is drawn).
    period, value, rank, rank_of : str
        Column names; ``period`` holds period ids (``2024-07``, ``2024-05-w1``, ``2024-Q3`` …).
    title : str, optional
        Default ``"<name>: tổng điểm và xếp hạng"`` when a ``name`` column is present.
    unit_label : str, optional
        Name used in the default title.
    scheme : Scheme, optional
    synthetic : bool, optional

    Returns
    -------
    matplotlib.figure.Figure
        Top panel: line ``total-line`` with band-coloured points ``total-points`` over the band
        zones (patches ``zone:<band>``). Bottom panel: line ``rank-line`` on an inverted axis
        labelled ``Xếp hạng (/63)``. A series crossing 1 July 2025 gets a line ``merger`` and a
        note that values before and after are not comparable.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"period_id": ["2024-01", "2024-02", "2024-03"], "value": [66.13, 62.72, 71.66],
    ...                    "rank": [31, 26, 21], "rank_of": [63, 63, 63]})
    >>> fig = trend(df, unit_label="tỉnh Bắc Kạn")
    >>> bool(fig.axes[1].yaxis_inverted()), fig.axes[1].get_ylabel()
    (True, 'Xếp hạng (/63)')
    """
    _require(data, [period, value], "trend")
    synthetic = _is_synthetic(data, synthetic)
    scheme = _scheme(scheme)  # loaded once for the zones and the bands
    _check_unique(data, [period], "trend")
    parsed = [parse_period(str(p), parameter="period") for p in data[period]]
    order = sorted(range(len(parsed)), key=lambda i: (parsed[i].start, parsed[i].end))
    data = data.iloc[order].reset_index(drop=True)
    parsed = [parsed[i] for i in order]
    xs = np.array([_period_x(p) for p in parsed])
    values = pd.to_numeric(data[value], errors="coerce").to_numpy(dtype=float)
    has_rank = rank in data.columns and data[rank].notna().any()
    if unit_label is None and "name" in data.columns and data["name"].notna().any():
        unit_label = str(data["name"].dropna().iloc[0])
    fig = _new_figure(5.6 if has_rank else 3.8, engine=False)
    if has_rank:
        ax, ax_rank = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2], subplot_kw={"axes_class": _Axes})
    else:
        ax, ax_rank = fig.add_subplot(axes_class=_Axes), None
    table = _cuts(scheme)
    finite = values[np.isfinite(values)]
    floor = 0.0
    if finite.size:
        lowest = bands_of([finite.min()], scheme)[0]
        floor = float(table.loc[table["band"] == lowest, "lower"].iloc[0]) if lowest else 0.0
    top = max(100.0, float(finite.max()) if finite.size else 100.0)
    pad = 0.03 * (top - floor)
    zone_width = 0.0
    for row in table.itertuples():
        lo = row.lower if row.Index < len(table) - 1 else min(row.lower, floor - pad)
        hi = top + pad if row.Index == 0 else row.upper  # the top band reaches the axis top
        if hi <= floor - pad:
            continue
        ax.axhspan(lo, hi, facecolor=row.colour, alpha=_ZONE_ALPHA, linewidth=0, zorder=0,
                   gid=f"zone:{row.band}")
        middle = (max(lo, floor) + min(hi, top)) / 2
        if hi <= floor:  # only the padding strip shows: no label
            continue
        ax.text(1.005, middle, _band_name(row.band), transform=blended_transform_factory(ax.transAxes, ax.transData),
                ha="left", va="center", fontsize=_SMALL, color=_GREY_TEXT, gid="zone-label")
        zone_width = max(zone_width, _text_box(_band_name(row.band), _SMALL)[0])
    ok = np.isfinite(values)
    ax.plot(xs[ok], values[ok], color="#222222", linewidth=1.4, zorder=2, gid="total-line")
    bands = bands_of(values[ok], scheme)
    ax.scatter(xs[ok], values[ok], s=46, color=[_colour_of(b) for b in bands], edgecolor="black",
               linewidth=0.8, zorder=3, gid="total-points")
    # the value over each point, 6 pt above it (one column of labels rather than an annotation each)
    above = offset_copy(ax.transData, fig=fig, y=6, units="points")
    _Labels(ax, above, ((xv, v, _num(v, 2), "normal") for xv, v in zip(xs[ok], values[ok])), ha="center",
            va="bottom", fontsize=_SMALL, gid="value-label")
    ax.set_ylim(floor - pad, top + pad)
    ax.set_ylabel(_t("fig.total"))
    notes = []
    if has_rank:
        ranks = pd.to_numeric(data[rank], errors="coerce").to_numpy(dtype=float)
        okr = np.isfinite(ranks)
        ax_rank.plot(xs[okr], ranks[okr], color=SERIES_COLOUR, marker="o", markersize=6, linewidth=1.4,
                     gid="rank-line")
        _Labels(ax_rank, offset_copy(ax_rank.transData, fig=fig, y=6, units="points"),
                ((xv, r, f"{int(r)}", "normal") for xv, r in zip(xs[okr], ranks[okr])), ha="center",
                va="bottom", fontsize=_SMALL, color=SERIES_COLOUR, gid="rank-label")
        sizes = (pd.to_numeric(data[rank_of], errors="coerce").dropna().astype(int).unique()
                 if rank_of in data.columns else np.array([], dtype=int))
        worst = int(max(sizes.max() if sizes.size else 0, np.nanmax(ranks)))
        ax_rank.set_ylim(worst + 0.5, 0.5)  # inverted: rank 1 on top
        ticks = [1] + [t for t in range(10, worst - 4, 10)] + [worst]
        ax_rank.yaxis.set_major_locator(FixedLocator(sorted(set(ticks))))
        of = " → ".join(f"/{s}" for s in dict.fromkeys(sizes.tolist())) if sizes.size else ""
        ax_rank.set_ylabel(_t("fig.rank_axis_of", of=of) if of else _t("fig.rank_axis"))
    bottom = ax_rank if ax_rank is not None else ax
    span = (xs.max() - xs.min()) if len(xs) > 1 else 30.0
    # at most about 12 labels across the axis; closer ticks keep their mark without a label
    # the ticks are drawn by _own_ticks once the figure is laid out
    bottom.xaxis.set_major_locator(FixedLocator(xs))
    bottom.xaxis.set_major_formatter(FixedFormatter(_thin_ticks(xs, _period_ticks(parsed), (span + 20) / 12)))
    bottom.set_xlim(xs.min() - 0.06 * span - 10, xs.max() + 0.06 * span + 10)
    bottom.set_xlabel(_t("fig.month_axis") if all(p.kind == "month" for p in parsed) else
                      _t("fig.cutoff_axis") if all(p.kind in _TO_DATE for p in parsed) else _t("fig.period_axis"))
    if crosses_merger(parsed):
        xm = float(MERGER_DATE.toordinal()) - 0.5
        for a in filter(None, (ax, ax_rank)):
            a.axvline(xm, color="black", linewidth=1.2, linestyle=(0, (2, 2)), gid="merger")
        ax.text(xm, 1.01, " 1/7/2025", transform=blended_transform_factory(ax.transData, ax.transAxes),
                ha="left", va="bottom", fontsize=_SMALL, gid="merger-label")
        notes.append(_t("fig.merger_note"))
    if any(p.kind in ("week", "ytd") for p in parsed):
        notes.append(_t("fig.snapshot_note"))
    default = _t("fig.trend_title", unit=_cap(unit_label)) if unit_label else _t("fig.trend_title_plain")
    fig.suptitle(_title(title or default, synthetic))
    foot = _footnote(fig, notes, gid="merger-note" if crosses_merger(parsed) else "footnote")
    # labels 6 pt above each point may rise over a panel whose highest point is near its top:
    # laid out once, then again with room for what rises over
    label = 6 + _text_box("0", _SMALL)[1]
    panels = [ax] if ax_rank is None else [ax, ax_rank]
    above = _text_box(" 1/7/2025", _SMALL)[1] if crosses_merger(parsed) else 0.0

    def place(over):
        _arrange(fig, panels, left=max(_y_axis_width(a) for a in panels),
                 right=0.005 * fig.get_figwidth() * 72 + zone_width, top=max(above, over[0]),
                 bottom=_x_axis_depth(bottom), gaps=[_PAD * 2 + over[-1]] if ax_rank is not None else (),
                 ratios=[3, 2] if ax_rank is not None else None, foot=foot)

    place([0.0] * len(panels))
    over = [_overhang(a, label) for a in panels]
    if any(over):
        place([v + 1 for v in over])
    ticks = _own_ticks(bottom, "x")
    _own_ticks(ax, "y", grid={"color": "white", "linewidth": 0.6})
    if ax_rank is not None:
        _own_ticks(ax, "x", labels=False, ticks=ticks)
        _own_ticks(ax_rank, "y", grid={"color": "#e5e5e5", "linewidth": 0.6})
    return fig


def _overhang(ax, label: float) -> float:
    """Points by which a text ``label`` points tall above the highest point of the total or rank
    line of ``ax`` rises over the top of the axes, at their present size."""
    lo, hi = ax.get_ylim()
    fracs = [(v - lo) / (hi - lo) for line in ax.lines if line.get_gid() in ("total-line", "rank-line")
             for v in line.get_ydata()]
    if not fracs:
        return 0.0
    height = ax.get_position().height * ax.get_figure().get_figheight() * 72
    return max(0.0, label - (1 - max(fracs)) * height)


# --------------------------------------------------------------------------- 5. across provinces


@_styled
def province_distributions(data: pd.DataFrame, *, by: str = "province", value: str = "value",
                           label: str | None = "name", title: str | None = None,
                           xlabel: str | None = None, scheme: Scheme | None = None,
                           synthetic: bool | None = None, seed: int = 0) -> Figure:
    """Distribution of unit totals by province: a box per province with every unit as a point.

    Parameters
    ----------
    data : DataFrame
        One row per unit with the grouping column ``by`` (province name, or any label such as
        ``"huyện Na Rì (7/2024)"``) and ``value``. Groups are sorted by median, best on top.
    by, value : str
        Column names.
    label : str, optional
        Column of unit names, used only to reject duplicated units.
    title, xlabel : str
    scheme : Scheme, optional
    synthetic : bool, optional
    seed : int, default 0
        Seed of the vertical jitter of the points (fixed, so the figure is reproducible).

    Returns
    -------
    matplotlib.figure.Figure
        One box per group; a collection ``units`` with one point per unit, coloured by band;
        y tick labels ``"<group> (n = k)"``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"province": ["A"] * 3 + ["B"] * 2, "value": [91, 85, 72, 60, 48]})
    >>> fig = province_distributions(df)
    >>> len(fig.axes[0].collections[0].get_offsets())
    5
    """
    _require(data, [by, value], "province_distributions")
    synthetic = _is_synthetic(data, synthetic)
    if label and label in data.columns:
        _check_unique(data.loc[data[value].notna()], [by, label], "province_distributions")
    data = data.loc[data[value].notna()].copy()
    data[by] = data[by].map(_nfc)
    medians = data.groupby(by, sort=False)[value].median()
    names = sorted(medians.index, key=lambda g: (-medians[g], g))
    k = len(names)
    fig = _new_figure(1.9 + 0.42 * k)
    ax = fig.add_subplot()
    samples = [data.loc[data[by] == g, value].to_numpy(dtype=float) for g in names]
    ax.boxplot(samples, positions=np.arange(k), orientation="horizontal", widths=0.6,
               showfliers=False, patch_artist=True, zorder=2,
               boxprops={"facecolor": "#f2f2f2", "edgecolor": NEUTRAL_COLOUR},
               medianprops={"color": "black", "linewidth": 1.6},
               whiskerprops={"color": NEUTRAL_COLOUR}, capprops={"color": NEUTRAL_COLOUR})
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i, s in enumerate(samples):
        xs.append(s)
        ys.append(i + rng.uniform(-0.22, 0.22, size=len(s)))
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    bands = bands_of(xs, scheme)
    ax.scatter(xs, ys, s=26, color=[_colour_of(b) for b in bands], edgecolor="#333333", linewidth=0.5,
               zorder=4, gid="units")
    ax.set_yticks(np.arange(k), labels=[textwrap.fill(f"{g} (n = {len(s)})", 30) for g, s in zip(names, samples)])
    ax.invert_yaxis()
    _draw_cuts(ax, scheme)
    ax.set_xlim(0, max(100.0, float(xs.max())) + 2)
    ax.set_xlabel(_nfc(xlabel or _t("fig.total")))
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    fig.suptitle(_title(title or _t("fig.distributions_title"), synthetic))
    _band_legend(fig, scheme)
    return fig


@_styled
def province_totals(data: pd.DataFrame, *, value: str = "value", label: str = "name",
                    rank: str | None = "rank", rank_of: str | None = "rank_of", highlight=None,
                    title: str | None = None, xlabel: str | None = None,
                    scheme: Scheme | None = None, synthetic: bool | None = None) -> Figure:
    """Province totals sorted best first, coloured by band, each labelled with its rank.

    Parameters
    ----------
    data : DataFrame
        One row per province with ``label`` and ``value``; ``rank``/``rank_of`` as published
        (e.g. ``8`` of ``63``). Without a rank column the rank is the competition rank
        (1, 2, 2, 4) among the provinces shown, and a footnote says so.
    value, label, rank, rank_of : str
        Column names.
    highlight : str or list of str, optional
        The reporting province(s).
    title, xlabel : str
    scheme : Scheme, optional
    synthetic : bool, optional

    Returns
    -------
    matplotlib.figure.Figure
        Like :func:`ranking_bars`, value labels ``"82,88  (hạng 8/63)"``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"name": ["Bắc Kạn", "Tuyên Quang"], "value": [82.88, 81.77],
    ...                    "rank": [8, 14], "rank_of": [63, 63]})
    >>> fig = province_totals(df, highlight="Bắc Kạn")
    >>> len(fig.axes[0].containers[0])
    2
    """
    _require(data, [label, value], "province_totals")
    notes = []
    data = data.copy()
    if rank is None or rank not in data.columns or data[rank].isna().all():
        v = data[value]
        data["_rank"] = v.rank(method="min", ascending=False)
        data["_rank_of"] = float(v.notna().sum())
        rank, rank_of = "_rank", "_rank_of"
        notes.append(_t("fig.ranks_computed"))
    elif rank_of is not None and rank_of not in data.columns:
        rank_of = None
    return _bars(data, value=value, label=label, highlight=highlight, reference=None,
                 title=title or _t("fig.province_totals_title"),
                 xlabel=xlabel, scheme=scheme, synthetic=synthetic, rank=rank, rank_of=rank_of,
                 func="province_totals", notes=notes)


def _panel_title(name: str, ncols: int) -> str:
    """A panel title that fits its column: at most two lines of the characters a panel is wide
    (the first-column panels lose width to the group labels), shortened with "…" beyond."""
    width_in = FIG_WIDTH * 0.78 / ncols  # the axes' share of the figure, less the row labels
    chars = max(8, int(width_in * 72 / (_SMALL * 0.62)))  # DejaVu Sans: ~0.62 em per character
    lines = textwrap.wrap(_nfc(name), chars, break_long_words=True)
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), chars, placeholder="…")]
    return "\n".join(lines)


@_styled
def group_small_multiples(data: pd.DataFrame, *, panel: str = "province", group: str = "group",
                          value: str = "value", view: str | None = None, ncols: int | None = None,
                          average_label: str | None = None,
                          title: str | None = None,
                          scheme: Scheme | None = None, synthetic: bool | None = None) -> Figure:
    """Small multiples of group profiles: one panel per province (or any panel label).

    Parameters
    ----------
    data : DataFrame
        Long table, one row per panel × group (a province's own group points), or several units
        per panel, in which case the panel shows their mean (a footnote says so). Panels keep
        their order of first appearance.
    panel, group, value : str
        Column names.
    view : {"five", "six"}, optional
        As in :func:`group_profile_heatmap`.
    ncols : int, optional
        Panels per row (default: up to 5).
    average_label : str, optional
        Legend text of the mean over all panels (default ``Trung bình của n ô``).
    title : str
    scheme : Scheme, optional
    synthetic : bool, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel (gid ``panel:<label>``), each with one bar per group (% of the
        group's maximum, gid ``bars``); a tick ``average`` marks the mean over all panels.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"province": ["A"] * 6 + ["B"] * 6,
    ...                    "group": ["CKMB", "TDGQ", "ONLINE", "TTTT", "MDHL", "MDSH"] * 2,
    ...                    "value": [14, 19, 8, 8, 18, 14, 13, 18, 9, 7, 17, 15]})
    >>> fig = group_small_multiples(df)
    >>> [a.get_gid() for a in fig.axes]
    ['panel:A', 'panel:B']
    """
    _require(data, [panel, group, value], "group_small_multiples")
    synthetic = _is_synthetic(data, synthetic)
    data = data.loc[data[value].notna()].copy()
    data[panel] = data[panel].map(_nfc)
    key = [panel] + (["unit_id"] if "unit_id" in data.columns else [])
    data, order = _to_view(data, key, group, value, view, scheme, "group_small_multiples")
    several = data.groupby([panel, group]).size().max() > 1 if len(data) else False
    means = data.groupby([panel, group], sort=False)[value].mean().reset_index()
    panels = list(dict.fromkeys(data[panel]))
    if not panels:
        raise ParameterError("group_small_multiples: no row has a value")
    wide = means.pivot(index=panel, columns=group, values=value).reindex(index=panels, columns=list(order))
    maxima = pd.Series({g: _group_max(g, scheme) for g in order})
    pct = wide.astype(float) * 100.0 / maxima
    overall = pct.mean(axis=0, skipna=True)
    n = len(panels)
    ncols = ncols or min(n, 5)
    nrows = math.ceil(n / ncols)
    k = len(order)
    panel_titles = [_panel_title(name, ncols) for name in panels]
    lines = max(t.count("\n") + 1 for t in panel_titles)
    fig = _new_figure(1.3 + nrows * (0.22 * k + 0.55 + 0.16 * (lines - 1)), engine=False)
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    y = np.arange(k)
    top = max(110.0, float(np.nanmax(pct.to_numpy())) + 5 if np.isfinite(pct.to_numpy()).any() else 110.0)
    # Limits and ticks are set once: the axes share them, and setting them (or autoscaling after
    # every bar) on each of n shared panels costs n x n updates (a second at 34 provinces).
    for a in axes.flat:
        a.set_autoscale_on(False)
    axes.flat[0].set_xlim(0, top)
    axes.flat[0].set_xticks([0, 50, 100])
    axes.flat[0].set_ylim(k - 0.5, -0.5)  # first group on top in every panel
    over = False
    for idx, a in enumerate(axes.flat):
        if idx >= n:
            fig.delaxes(a)
            above = axes.flat[idx - ncols]  # the panel above an empty slot keeps its x labels
            above.xaxis.set_tick_params(labelbottom=True)
            above.set_xlabel(_t("fig.pct_max_short"), fontsize=_SMALL)
            continue
        name = panels[idx]
        vals = pct.loc[name].to_numpy(dtype=float)
        a.set_gid(f"panel:{name}")
        _hbars(a, y, np.full(k, 100.0), ["#eeeeee"] * k, height=0.75, zorder=1, gid="background")
        colours = [OVER_MAX_COLOUR if v > 100 + 1e-9 else SERIES_COLOUR for v in vals]
        over |= bool(np.any(vals > 100 + 1e-9))
        _hbars(a, y, np.nan_to_num(vals), colours, height=0.75, zorder=2, gid="bars")
        a.plot(overall.to_numpy(), y, linestyle="none", marker="|", markersize=9, markeredgewidth=1.8,
               color="black", zorder=3, gid="average")
        a.set_title(panel_titles[idx], fontsize=_SMALL, pad=3, gid="panel-title")
        a.tick_params(labelsize=_SMALL, length=2)
        if idx % ncols == 0:
            a.set_yticks(y, labels=[_group_short(g) for g in order])
    for a in axes[-1]:
        a.set_xlabel(_t("fig.pct_max_short"), fontsize=_SMALL)
    handles = [Patch(color=SERIES_COLOUR, label=_t("fig.province_points")),
               Line2D([], [], linestyle="none", marker="|", markersize=9, markeredgewidth=1.8,
                      color="black", label=_nfc(average_label or _t("fig.panel_average", n=n)))]
    if over:
        handles.insert(1, Patch(color=OVER_MAX_COLOUR, label=_t("fig.over_max_legend")))
    _legend(fig, handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    fig.suptitle(_title(title or _t("fig.small_multiples_title"), synthetic))
    foot = _footnote(fig, [_t("fig.several_note")]) if several else 0.0
    # laid out here, from the text sizes: the group names left of the first column, a panel
    # title (one or two lines, 3 pt) over every panel, the x labels under the last row (and under
    # a panel above an empty slot, which the slot holds), half of "100" right of the last column
    x0, y0, x1, y1 = _frame(fig, foot)
    ticks = 2 + mpl.rcParams["ytick.major.pad"]
    x0 += ticks + _widest([_group_short(g) for g in order], _SMALL)
    x1 -= _text_box("100", _SMALL)[0] / 2
    line = _text_box("0", _SMALL)[1]
    y0 += 2 + mpl.rcParams["xtick.major.pad"] + line + axes.flat[0].xaxis.labelpad + line
    head = max(_text_box(t, _SMALL)[1] for t in panel_titles) + 3
    wgap, hgap = 2 * _PAD + ticks, 2 * _PAD + 2
    w = (x1 - x0 - (ncols - 1) * wgap) / ncols
    h = (y1 - y0 - nrows * head - (nrows - 1) * hgap) / nrows
    for idx, a in enumerate(axes.flat[:n]):
        row, col = divmod(idx, ncols)
        left, top_edge = x0 + col * (w + wgap), y1 - row * (h + head + hgap) - head
        _place(a, left, top_edge - h, left + w, top_edge)
    return fig
