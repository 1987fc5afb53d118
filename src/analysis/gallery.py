"""Render every comparative figure on a data directory to PNG files for review (``make gallery``)."""
from __future__ import annotations

import argparse
import sys
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from . import figures
from .config import DATA_DIR, REPORTS_DIR
from .files import atomic_write_bytes
from .i18n import text
from .periods import parse_period
from .questions import QUANTITIES
from .views import wide_values

__all__ = ["GALLERY_DIR", "MIN_TREND_PERIODS", "MIN_GROUPS", "gallery_specs", "render_gallery",
           "add_arguments", "run", "main"]

GALLERY_DIR = REPORTS_DIR / "gallery"
# A trend needs at least this many periods with a published value.
MIN_TREND_PERIODS = 3
# A unit enters the group heatmap when it has at least this many group scores.
MIN_GROUPS = 3
def _level_name(level: str, lang: str) -> str:
    """``cấp xã`` / ``sở, ban, ngành`` / ``communes``: a level named from reference/levels.csv."""
    from .reference import levels

    lv = levels()
    if level not in lv.index:
        return level
    noun = lv.at[level, f"noun_{lang}"]
    return noun if "," in noun else text(lang, "gallery.level", noun=noun)
SCATTER_PAIRS = (("online_submission_rate", "satisfaction"),
                 ("online_submission_rate", "online_payment_rate"))

Spec = tuple[str, Callable[[], Figure]]
_Source = namedtuple("_Source", "source_id area_unit_id period_id")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _period_label(ds, period: str, lang: str) -> str:
    """The Vietnamese label of periods.csv (it knows a snapshot's real cut-off day), else the
    parsed one in ``lang``."""
    labels = ds.periods.set_index("period_id")["label_vi"]
    if lang == "vi" and period in labels.index:
        return str(labels[period])
    return parse_period(period).label(lang)


def _short_period(period: str, lang: str) -> str:
    p = parse_period(period)
    if p.kind == "month":
        return f"{p.start.month}/{p.year}"
    if p.kind == "week":
        return text(lang, "gallery.week_short", month=p.start.month, year=p.year, week=p.week)
    return p.label(lang)


def _real_sources(ds) -> pd.DataFrame:
    return ds.sources.loc[ds.sources["kind"] != "synthetic"]


def _area_specs(ds, source, lang: str, levels=None) -> list[Spec]:
    """Ranking, heatmap, unit-against-average and scatter figures for one report's area."""
    area, period, sid = source.area_unit_id, source.period_id, source.source_id
    units = ds.units.set_index("unit_id")
    area_name = units.at[area, "name"]
    label = _period_label(ds, period, lang)
    own = figures.unit_totals(ds, period, level=units.at[area, "level"])
    own = own.loc[(own["unit_id"] == area) & own["value"].notna()]
    reference = (area_name, float(own["value"].iloc[0])) if len(own) else None
    below = figures.unit_totals(ds, period, area=area, source=sid)
    below = below.loc[below["value"].notna()]
    specs: list[Spec] = []
    for level, block in below.groupby("level", sort=False):
        if len(block) < 2 or (levels is not None and level not in levels):
            continue
        head = f"{_cap(area_name)} – {label}"
        stem = f"{sid}-{level}"
        specs.append((f"{stem}-ranking.png", lambda b=block, h=head, lv=level: figures.ranking_bars(
            b, reference=reference, lang=lang, title=text(lang, "gallery.ranking", head=h,
                                                          level=_level_name(lv, lang)))))
        groups = figures.unit_groups(ds, period, area=area, level=level, source=sid)
        counts = groups.groupby("unit_id").size()
        groups = groups.loc[groups["unit_id"].isin(counts.index[counts >= MIN_GROUPS])]
        if groups["unit_id"].nunique() >= 2:
            order = [u for u in block.sort_values("value", ascending=False, kind="mergesort")["unit_id"]
                     if u in set(groups["unit_id"])]
            groups = groups.set_index("unit_id").loc[order].reset_index()
            weakest = order[-1]
            specs.append((f"{stem}-group-heatmap.png", lambda g=groups, h=head, w=weakest:
                          figures.group_profile_heatmap(g, highlight=w, lang=lang,
                                                        title=text(lang, "gallery.heatmap", head=h))))
            specs.append((f"{stem}-unit-vs-average.png", lambda g=groups, h=head, w=weakest, lv=level:
                          figures.unit_vs_average(
                              g, w, lang=lang,
                              average_label=text(lang, "gallery.average_of", level=_level_name(lv, lang),
                                                 area=area_name, n=g["unit_id"].nunique()),
                              title=text(lang, "gallery.unit_vs_average", head=h, unit=units.at[w, "name"]))))
        specs.extend(_scatter_specs(ds, block, period, f"{stem}", head, lang))
    return specs


def _scatter_specs(ds, block: pd.DataFrame, period: str, stem: str, head: str, lang: str) -> list[Spec]:
    wanted = {k: (t, c, m or "percent") for k, (t, c, m, _) in QUANTITIES.items()}
    table = wide_values(ds, wanted, period=period, units=block["unit_id"])
    specs = []
    for x, y in SCATTER_PAIRS:
        if y == "satisfaction":
            y = "satisfaction_rate" if table["satisfaction_rate"].notna().sum() >= 4 else "MDHL"
        pairs = table[[x, y]].dropna()
        if len(pairs) < 4:
            continue
        x_max, x_label = QUANTITIES[x][3], text(lang, f"quantity.{x}")
        y_max, y_label = QUANTITIES[y][3], text(lang, f"quantity.{y}")
        if QUANTITIES[y][0] == "scores":
            y_label = f"{y_label} (/{y_max:g})"
        specs.append((f"{stem}-scatter-{x}-{y}.png", lambda t=table, a=x, b=y, xm=x_max, ym=y_max,
                      xl=x_label, yl=y_label: figures.correlation_scatter(
                          t, a, b, x_label=xl, y_label=yl, x_max=xm, y_max=ym, method="spearman", lang=lang,
                          title=text(lang, "gallery.scatter", head=head, y=yl[:1].lower() + yl[1:],
                                     x=xl[:1].lower() + xl[1:]))))
    return specs


def _trend_specs(ds, areas, lang: str) -> list[Spec]:
    specs = []
    for area in dict.fromkeys(areas):
        series = figures.unit_series(ds, area)
        if series["value"].notna().sum() >= MIN_TREND_PERIODS:
            specs.append((f"{area.replace('/', '-')}-trend.png",
                          lambda s=series: figures.trend(s, lang=lang)))
    return specs


def _province_specs(ds, periods, lang: str) -> list[Spec]:
    specs = []
    for period in dict.fromkeys(periods):
        label = _period_label(ds, period, lang)
        totals = figures.unit_totals(ds, period, level="province")
        totals = totals.loc[totals["value"].notna()].assign(short=lambda t: t["province"])
        if len(totals) >= 2:
            specs.append((f"{period}-province-totals.png", lambda t=totals, lab=label:
                          figures.province_totals(t, label="short", lang=lang,
                                                  title=text(lang, "gallery.province_totals", period=lab))))
        groups = figures.unit_groups(ds, period, level="province")
        if groups["unit_id"].nunique() >= 2:
            if len(totals):
                rank = totals.set_index("unit_id")["value"]
                groups = groups.assign(_v=groups["unit_id"].map(rank)).sort_values(
                    "_v", ascending=False, kind="mergesort").drop(columns="_v")
            specs.append((f"{period}-province-groups.png", lambda g=groups, lab=label, n=
                          groups["unit_id"].nunique(): figures.group_small_multiples(
                              g, lang=lang, average_label=text(lang, "gallery.average_provinces", n=n),
                              title=text(lang, "gallery.province_groups", period=lab))))
    return specs


def _distribution_specs(ds, sources: pd.DataFrame, name: str, lang: str) -> list[Spec]:
    """Commune totals of every reported area, one box per area (its own period)."""
    frames = []
    units = ds.units.set_index("unit_id")
    for source in sources.itertuples():
        block = figures.unit_totals(ds, source.period_id, area=source.area_unit_id, level="commune",
                                    source=source.source_id)
        block = block.loc[block["value"].notna()]
        if len(block) >= 2:
            where = units.at[source.area_unit_id, "name"]
            frames.append(block.assign(area=f"{where} ({_short_period(source.period_id, lang)})"))
    if not frames:
        return []
    data = pd.concat(frames, ignore_index=True).drop_duplicates(subset=["area", "unit_id"])
    same = data["area"].str.extract(r"\((.*)\)$")[0].nunique() == 1
    title = text(lang, "gallery.distributions" if same else "gallery.distributions_mixed")
    return [(name, lambda: figures.province_distributions(data, by="area", title=title, lang=lang))]


def _synthetic_specs(lang: str) -> list[Spec]:
    """The across-province figures on the synthetic national data, when analysis.synthetic exists."""
    try:
        from . import synthetic
    except ImportError:
        return []
    sds = synthetic.national(seed=0, months=12)
    periods = sorted(set(sds.scores["period_id"]), key=lambda p: parse_period(p).start)
    last = periods[-1]
    specs = _province_specs(sds, [last], lang)
    first = sds.sources.iloc[0]
    # the departments of one province: a block small enough for bars and a heatmap
    specs.extend(_area_specs(sds, _Source(first.source_id, first.area_unit_id, last), lang,
                             levels=("department",)))
    communes = figures.unit_totals(sds, last, level="commune")
    communes = communes.loc[communes["value"].notna()]
    if len(communes):
        specs.append(("synthetic-commune-distributions.png", lambda: figures.province_distributions(
            communes, by="province", lang=lang,
            title=text(lang, "gallery.commune_distributions", period=_period_label(sds, last, lang)))))
    provinces = sorted(set(sds.units.loc[sds.units["level"] == "province", "unit_id"]))
    specs.extend(_trend_specs(sds, provinces[:1], lang))
    # every synthetic file name says so, whatever the ids are
    return [(n if n.startswith("synthetic-") else f"synthetic-{n}", f) for n, f in specs]


def gallery_specs(ds, *, include_synthetic: bool = True, lang: str = "vi") -> list[Spec]:
    """Every figure the gallery draws for a dataset: ``(file name, builder)`` pairs.

    For each report in ``sources.csv``: the ranking of the units below its area (with the area's
    own total as reference), their group heatmap and the weakest unit against the average, and
    the online-submission scatters where at least 4 units have both figures. Then the trend of
    every reported area with at least :data:`MIN_TREND_PERIODS` values, the commune totals by
    area, the province totals and group profiles of every period with two provinces or more, and,
    when :mod:`analysis.synthetic` exists, the same across-province figures on synthetic data
    (file names ``synthetic-…``, titles ending ``(dữ liệu giả lập)``).

    Examples
    --------
    >>> from analysis.dataset import load_dataset
    >>> specs = gallery_specs(load_dataset(DATA_DIR), include_synthetic=False)
    >>> specs[0][0]
    'nari-2024-07-commune-ranking.png'
    """
    sources = _real_sources(ds)
    specs: list[Spec] = []
    for source in sources.itertuples():
        specs.extend(_area_specs(ds, source, lang))
    specs.extend(_trend_specs(ds, sources["area_unit_id"], lang))
    specs.extend(_distribution_specs(ds, sources, "commune-distributions.png", lang))
    specs.extend(_province_specs(ds, sources["period_id"], lang))
    if include_synthetic:
        specs.extend(_synthetic_specs(lang))
    names = [name for name, _ in specs]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise RuntimeError(f"gallery file names collide: {', '.join(dup)}")
    return specs


def render_gallery(ds, out_dir: Path | str = GALLERY_DIR, *, dpi: int = 110,
                   include_synthetic: bool = True, lang: str = "vi") -> list[Path]:
    """Render every gallery figure to ``out_dir/<name>.png`` (temporary file, then rename).

    Parameters
    ----------
    ds : Dataset
        Loaded data (:func:`analysis.dataset.load_dataset`).
    out_dir : path, default ``reports/gallery``
        Created when missing. Files of earlier runs with other names are left alone.
    dpi : int, default 110
    include_synthetic : bool, default True
        Also draw the across-province figures on :mod:`analysis.synthetic` data, if present.

    Returns
    -------
    list of Path
        The files written, in drawing order.

    Examples
    --------
    >>> import tempfile
    >>> from analysis.dataset import load_dataset
    >>> paths = render_gallery(load_dataset(DATA_DIR), tempfile.mkdtemp(), dpi=20,
    ...                        include_synthetic=False)
    >>> paths[0].name, paths[0].read_bytes()[:4]
    ('nari-2024-07-commune-ranking.png', b'\\x89PNG')
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in gallery_specs(ds, include_synthetic=include_synthetic, lang=lang):
        path = out_dir / name
        atomic_write_bytes(path, figures.to_png(build(), dpi=dpi))
        written.append(path)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The gallery's options, for this module's command line and for ``python -m analysis gallery``."""
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="data directory (default: data/)")
    parser.add_argument("--out", type=Path, default=GALLERY_DIR,
                        help="output folder (default: reports/gallery/)")
    parser.add_argument("--dpi", type=int, default=110, help="resolution (default: 110)")
    parser.add_argument("--lang", default="vi", choices=["vi", "en"], help="language of the figures (default: vi)")
    parser.add_argument("--no-synthetic", action="store_true",
                        help="leave out the figures on synthetic national data")
    return parser


def run(args: argparse.Namespace) -> int:
    """Render the gallery for parsed arguments; print the file names (nothing that varies)."""
    from .dataset import load_dataset
    from .errors import AnalysisError

    try:
        paths = render_gallery(load_dataset(args.data), args.out, dpi=args.dpi,
                               include_synthetic=not args.no_synthetic, lang=args.lang)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path.name)
    print(f"{len(paths)} figures in {args.out}")
    return 0


def main(argv=None) -> int:
    """``python -m analysis.gallery [--data DIR] [--out DIR] [--dpi N] [--no-synthetic]``."""
    parser = argparse.ArgumentParser(prog="python -m analysis.gallery",
                                     description="render every figure to PNG for review")
    return run(add_arguments(parser).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
