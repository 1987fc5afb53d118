"""``python -m analysis audit``: the audit's findings on a data directory, as a table, CSV or JSON."""
from __future__ import annotations

import json
import sys
import pandas as pd

from .errors import ParameterError

__all__ = ["add_parser", "run", "COLUMNS"]

COLUMNS = ("severity", "check", "unit_id", "period_id", "published", "expected", "difference", "source_id",
           "message")


def add_parser(sub) -> None:
    from .cli import _PERIOD, _SLUG, _path, _pattern, _scheme_path
    from .config import DATA_DIR

    p = sub.add_parser("audit", help="audit the published figures of a data directory (exit 0 when it ran)")
    p.add_argument("--data", type=_path("--data/DATA"), default=DATA_DIR, help="data directory (default: data/)")
    p.add_argument("--province", type=_pattern("PROVINCE/--province", _SLUG, "give a province id such as bac-kan"),
                   help="only findings about units of this province (unit id)")
    p.add_argument("--period", type=_pattern("PERIOD/--period", _PERIOD, "give a period id such as 2024-07 or "
                                              "2024-05-w1"), help="only findings of this period id")
    p.add_argument("--format", default="table", choices=["table", "csv", "json"], help="output format")
    p.add_argument("--scheme", type=_scheme_path, default=None, metavar="PATH",
                   help="a user scheme TOML file overriding the scheme version of --period (or of the newest "
                        "period in the data); default: the versioned scheme valid for each period")
    p.set_defaults(func=run)


def findings_for(ds, province: str | None = None, period: str | None = None, scheme=None) -> pd.DataFrame:
    """The audit's findings, filtered, with the command's columns (``scheme``: a Scheme, or None
    for the versioned scheme valid for each period)."""
    from .audit import audit
    from .views import descendants

    f = audit(ds, scheme=scheme)
    if province is not None:
        units = ds.units
        if province not in set(units.loc[units["level"] == "province", "unit_id"]):
            known = ", ".join(sorted(units.loc[units["level"] == "province", "unit_id"])[:40])
            raise ParameterError(f"parameter '--province': unknown province '{province}'; known: {known}")
        inside = set(descendants(units, province, include_self=True)["unit_id"])
        area = ds.sources.set_index("source_id")["area_unit_id"]
        mine = f["unit_id"].isin(inside) | (f["unit_id"].isna() & f["source_id"].map(area).isin(inside))
        f = f.loc[mine]
    if period is not None:
        if period not in set(ds.periods["period_id"]):
            raise ParameterError(f"parameter '--period': unknown period '{period}'; periods: "
                                 f"{', '.join(sorted(ds.periods['period_id']))}")
        f = f.loc[f["period_id"] == period]
    return f[list(COLUMNS)].reset_index(drop=True)


def run(args) -> int:
    from .cli import _check_dir_arg
    from .dataset import load_dataset

    _check_dir_arg(args.data, "--data/DATA", must_exist=True)
    scheme = None
    if args.scheme is not None:
        from .scheme import user_scheme

        user_scheme(args.scheme)  # a bad path or file: one line, exit 2, before the data is read
    ds = load_dataset(args.data)
    if args.scheme is not None:
        periods = [args.period] if args.period else sorted(ds.periods["period_id"])
        scheme = user_scheme(args.scheme, periods=periods)
    f = findings_for(ds, args.province, args.period, scheme)
    if args.format == "csv":
        f.to_csv(sys.stdout, index=False, lineterminator="\n")
    elif args.format == "json":
        recs = json.loads(f.to_json(orient="records", force_ascii=False))
        print(json.dumps(recs, ensure_ascii=False, indent=1))
    else:
        if f.empty:
            print("no findings")
        else:
            with pd.option_context("display.max_rows", None, "display.max_colwidth", 120, "display.width", 250):
                print(f.to_string(index=False))
        counts = f["severity"].value_counts()
        print(f"{len(f)} findings: " + ", ".join(f"{int(counts.get(s, 0))} {s}" for s in ("error", "warning", "info")))
    return 0
