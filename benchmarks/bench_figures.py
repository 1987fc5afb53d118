"""Time each figure kind of the reports: building the Figure, then rendering it as SVG and PNG.

Usage::

    python benchmarks/bench_figures.py [--data build/bench/synthetic-data] [--repeat 3]
    python benchmarks/bench_figures.py --baseline /tmp/main-export [--rounds 2] [--reports province]

The data are synthetic (``python -m analysis synthetic``; made under build/bench/ when absent).
One province report and one comparison report are computed; every call of a figure builder of
:mod:`analysis.figures` is timed, and every figure is then built afresh and rendered once,
``--repeat`` times, to SVG (the HTML and notebook form) and to PNG (the Word form). The table prints the median seconds per
figure, so ratios measured in the same run can be compared on a loaded machine, and the seconds
of all the figures of each report (every call: build plus SVG, build plus PNG; the SVG renders
alone; and "warm", building again in a process that has built the figure once, plus SVG).

``--baseline DIR`` compares two versions of the code in one run: ``DIR`` is another source tree
(e.g. ``git archive main | tar -x -C DIR``) whose ``src/`` is imported instead of this one's. The
benchmark runs in a fresh process for each version, the two alternating ``--rounds`` times, and
prints each version's medians over the rounds and their ratio (this tree / the baseline).
``--reports province`` leaves the comparison report out (its 34 trends and small multiples take
most of the time): the four figures of a province report, "warm build+SVG" being what a report's
kernel (forked from a warmed server) pays.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("ranking_bars", "trend", "correlation_scatter", "province_totals", "group_small_multiples",
         "province_distributions", "unit_vs_average", "group_profile_heatmap")


def measure(data: Path, repeat: int, lang: str, reports: str = "both") -> dict:
    """Seconds per figure kind and per report, measured in this process."""
    from analysis import figures
    from analysis.report import ComparisonReport, ProvinceReport

    built = defaultdict(list)  # (report, kind) -> [(seconds, rebuild)]: each call timed, kept to draw afresh
    report_name = ["province"]

    def timed(kind, fn):
        def wrapper(*a, **kw):
            start = time.perf_counter()
            fig = fn(*a, **kw)
            built[(report_name[0], kind)].append((time.perf_counter() - start, lambda: fn(*a, **kw)))
            return fig
        return wrapper

    for kind in KINDS:
        setattr(figures, kind, timed(kind, getattr(figures, kind)))

    import pandas as pd

    periods = pd.read_csv(data / "periods.csv")
    period = periods.loc[periods["kind"] == "month", "period_id"].iloc[-1]
    units = pd.read_csv(data / "units.csv")
    province = units.loc[units["level"] == "province", "unit_id"].iloc[0]
    report = ProvinceReport.load(province, period, lang, str(data))
    for name in ("headline", "groups", "units", "indicators", "audit", "correlations", "recommendations"):
        getattr(report, name)()
    if reports == "both":
        report_name[0] = "comparison"
        compare = ComparisonReport.load(period, lang, str(data))
        for name in ("provinces", "group_profiles", "distributions", "trends"):
            getattr(compare, name)()

    def median_render(fn, rebuild):
        """Median seconds of the first rendering of a freshly built figure (as in a report), and
        of building it again (warm: the process has built one before)."""
        times, builds, size = [], [], 0
        for _ in range(repeat):
            start = time.perf_counter()
            fig = rebuild()
            builds.append(time.perf_counter() - start)
            start = time.perf_counter()
            out = fn(fig)
            times.append(time.perf_counter() - start)
            size = len(out)
        return statistics.median(times), size, statistics.median(builds)

    rows = []
    for (rep, kind), calls in built.items():
        svg = [median_render(figures.to_svg, f) for _, f in calls]
        png = [median_render(figures.to_png, f) for _, f in calls]
        rows.append({"report": rep, "kind": kind, "n": len(calls),
                     "build": statistics.median(t for t, _ in calls),
                     "rebuild": statistics.median(b for _, _, b in svg),
                     "svg": statistics.median(t for t, _, _ in svg), "png": statistics.median(t for t, _, _ in png),
                     "svg_kb": statistics.median(n for _, n, _ in svg) / 1024,
                     "png_kb": statistics.median(n for _, n, _ in png) / 1024,
                     "sum_build": sum(t for t, _ in calls), "sum_rebuild": sum(b for _, _, b in svg),
                     "sum_svg": sum(t for t, _, _ in svg), "sum_png": sum(t for t, _, _ in png)})
    return {"data": str(data), "unit": province, "period": period, "lang": lang, "rows": rows}


def print_table(result: dict, repeat: int) -> None:
    print(f"synthetic data {result['data']}, {result['unit']} {result['period']} ({result['lang']}); "
          f"median of {repeat} renders")
    print(f"{'report':<11}{'figure kind':<24}{'n':>3}{'build s':>9}{'svg s':>8}{'png s':>8}{'svg kB':>8}{'png kB':>8}")
    for r in result["rows"]:
        print(f"{r['report']:<11}{r['kind']:<24}{r['n']:>3}{r['build']:>9.3f}{r['svg']:>8.3f}{r['png']:>8.3f}"
              f"{r['svg_kb']:>8.0f}{r['png_kb']:>8.0f}")
    for rep, total in report_totals(result).items():
        print(f"{rep} report, all figures: build {total['build']:.3f} s, build+SVG {total['html']:.3f} s, "
              f"build+PNG {total['word']:.3f} s; SVG alone {total['svg']:.3f} s, "
              f"warm build+SVG {total['warm']:.3f} s")


def report_totals(result: dict) -> dict:
    totals = defaultdict(lambda: defaultdict(float))
    for r in result["rows"]:
        t = totals[r["report"]]
        t["build"] += r["sum_build"]
        t["html"] += r["sum_build"] + r["sum_svg"]
        t["word"] += r["sum_build"] + r["sum_png"]
        t["svg"] += r["sum_svg"]
        t["warm"] += r["sum_rebuild"] + r["sum_svg"]
    return totals


def compare(args) -> int:
    """Both versions, alternating in fresh processes; medians over the rounds and their ratio."""
    base = args.baseline.resolve()
    if not (base / "src" / "analysis" / "figures.py").exists():
        print(f"error: --baseline {base}: no src/analysis/figures.py there", file=sys.stderr)
        return 2
    runs = {"baseline": [], "this tree": []}
    for _ in range(args.rounds):
        for name, src in (("baseline", base / "src"), ("this tree", ROOT / "src")):
            env = dict(os.environ, PYTHONPATH=str(src))
            out = subprocess.run([sys.executable, __file__, "--data", str(args.data), "--repeat", str(args.repeat),
                                  "--lang", args.lang, "--reports", args.reports, "--json"], env=env, check=True,
                                 capture_output=True, text=True, cwd=ROOT).stdout
            runs[name].append(json.loads(out))
    first = runs["this tree"][0]
    print(f"synthetic data {first['data']}, {first['unit']} {first['period']} ({first['lang']}); median of "
          f"{args.repeat} renders per figure, median of {args.rounds} alternating rounds per version")
    print(f"baseline: {base}")

    def med(name, key, rep, kind=None):
        values = []
        for run in runs[name]:
            if kind is None:
                values.append(report_totals(run)[rep][key])
            else:
                values.extend(r[key] for r in run["rows"] if r["report"] == rep and r["kind"] == kind)
        return statistics.median(values) if values else float("nan")

    print(f"{'report':<11}{'figure kind':<24}{'n':>3}  {'build s':>17}  {'svg s':>17}  {'png s':>17}"
          "   (baseline -> this tree, ratio)")
    for r in first["rows"]:
        cells = []
        for key in ("build", "svg", "png"):
            b, t = med("baseline", key, r["report"], r["kind"]), med("this tree", key, r["report"], r["kind"])
            cells.append(f"{b:.3f}->{t:.3f} {t / b:4.2f}")
        print(f"{r['report']:<11}{r['kind']:<24}{r['n']:>3}  " + "  ".join(cells))
    for rep in report_totals(first):
        cells = []
        for key, label in (("build", "build"), ("html", "build+SVG"), ("word", "build+PNG"),
                           ("svg", "SVG alone"), ("warm", "warm build+SVG")):
            b, t = med("baseline", key, rep), med("this tree", key, rep)
            cells.append(f"{label} {b:.3f}->{t:.3f} s ({t / b:.2f})")
        print(f"{rep} report, all figures: " + ", ".join(cells))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "build" / "bench" / "synthetic-data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lang", default="vi")
    parser.add_argument("--baseline", type=Path, help="another source tree to compare with, in the same run")
    parser.add_argument("--rounds", type=int, default=2, help="with --baseline: alternating runs per version")
    parser.add_argument("--reports", choices=("both", "province"), default="both",
                        help="the figures of both reports, or of the province report only")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not (args.data / "units.csv").exists():
        subprocess.run([sys.executable, "-m", "analysis", "synthetic", "--out", str(args.data)], check=True)
    if args.baseline is not None:
        return compare(args)
    result = measure(args.data, args.repeat, args.lang, args.reports)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
