"""Time each figure kind of the reports: building the Figure, then rendering it as SVG and PNG.

Usage::

    python benchmarks/bench_figures.py [--data build/bench/synthetic-data] [--repeat 3]

The data are synthetic (``python -m analysis synthetic``; made under build/bench/ when absent).
One province report and one comparison report are computed; every call of a figure builder of
:mod:`analysis.figures` is timed, and every figure is then built afresh and rendered once,
``--repeat`` times, to SVG (the HTML and notebook form) and to PNG (the Word form). The table prints the median seconds per
figure, so ratios measured in the same run can be compared on a loaded machine.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "build" / "bench" / "synthetic-data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lang", default="vi")
    args = parser.parse_args(argv)
    if not (args.data / "units.csv").exists():
        subprocess.run([sys.executable, "-m", "analysis", "synthetic", "--out", str(args.data)], check=True)

    from analysis import figures
    from analysis.report import ComparisonReport, ProvinceReport

    built = defaultdict(list)  # kind -> [(seconds, rebuild)]: each call timed, and kept to draw afresh

    def timed(kind, fn):
        def wrapper(*a, **kw):
            start = time.perf_counter()
            fig = fn(*a, **kw)
            built[kind].append((time.perf_counter() - start, lambda: fn(*a, **kw)))
            return fig
        return wrapper

    for kind in ("ranking_bars", "trend", "correlation_scatter", "province_totals", "group_small_multiples",
                 "province_distributions", "unit_vs_average", "group_profile_heatmap"):
        setattr(figures, kind, timed(kind, getattr(figures, kind)))

    import pandas as pd

    periods = pd.read_csv(args.data / "periods.csv")
    period = periods.loc[periods["kind"] == "month", "period_id"].iloc[-1]
    units = pd.read_csv(args.data / "units.csv")
    province = units.loc[units["level"] == "province", "unit_id"].iloc[0]
    report = ProvinceReport.load(province, period, args.lang, str(args.data))
    for name in ("headline", "groups", "units", "indicators", "audit", "correlations", "recommendations"):
        getattr(report, name)()
    compare = ComparisonReport.load(period, args.lang, str(args.data))
    for name in ("provinces", "group_profiles", "distributions", "trends"):
        getattr(compare, name)()

    def median_render(fn, rebuild):
        """Median seconds of the first rendering of a freshly built figure (as in a report)."""
        times = []
        for _ in range(args.repeat):
            fig = rebuild()
            start = time.perf_counter()
            out = fn(fig)
            times.append(time.perf_counter() - start)
        return statistics.median(times), len(out)

    print(f"synthetic data {args.data}, {province} {period} ({args.lang}); median of {args.repeat} renders")
    print(f"{'figure kind':<24}{'n':>3}{'build s':>9}{'svg s':>8}{'png s':>8}{'svg kB':>8}{'png kB':>8}")
    total = defaultdict(float)
    for kind, rows in built.items():
        b = statistics.median(t for t, _ in rows)
        svg = [median_render(figures.to_svg, f) for _, f in rows] if hasattr(figures, "to_svg") else []
        png = [median_render(figures.to_png, f) for _, f in rows]
        s_t = statistics.median(t for t, _ in svg) if svg else float("nan")
        s_kb = statistics.median(n for _, n in svg) / 1024 if svg else float("nan")
        p_t = statistics.median(t for t, _ in png)
        p_kb = statistics.median(n for _, n in png) / 1024
        total["build"] += sum(t for t, _ in rows)
        total["svg"] += sum(t for t, _ in svg)
        total["png"] += sum(t for t, _ in png)
        print(f"{kind:<24}{len(rows):>3}{b:>9.3f}{s_t:>8.3f}{p_t:>8.3f}{s_kb:>8.0f}{p_kb:>8.0f}")
    print(f"{'all figures (sum)':<27}{total['build']:>9.3f}{total['svg']:>8.3f}{total['png']:>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
