"""Command line: ``python -m analysis validate | …``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import DATA_DIR
from .errors import AnalysisError, ParameterError

__all__ = ["main"]


def _cmd_validate(args) -> int:
    from .dataset import load_dataset

    ds = load_dataset(args.data)
    for name, df in ds.tables().items():
        print(f"{name + '.csv':<18} {len(df):>6} rows  sha256 {ds.file_hashes[name + '.csv'][:12]}")
    print(f"{args.data}: valid")
    return 0


def _cmd_build(args) -> int:
    from .build import plan_jobs, run_batch

    jobs = plan_jobs(args.data, out_dir=args.out, month=args.month, province=args.province,
                     period=args.period, langs=tuple(args.lang))
    if args.list:
        for job in jobs:
            print(job.key)
        return 0
    results = run_batch(jobs, out_dir=args.out, workers=args.workers, executor=args.executor,
                        force=args.force, progress=not args.quiet)
    built = [r for r in results if r.status == "built"]
    skipped = [r for r in results if r.status == "skipped"]
    failed = [r for r in results if r.status == "failed"]
    print(f"{len(built)} built, {len(skipped)} unchanged, {len(failed)} failed -> {args.out / 'index.html'}")
    for r in failed:
        print(f"FAILED {r.key}: {r.error}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_synthetic(args) -> int:
    from .dataset import write_tables
    from .synthetic import national

    if args.out.resolve() == DATA_DIR.resolve():
        raise ParameterError("parameter '--out': synthetic data never goes into the real data directory")
    ds = national(seed=args.seed, months=args.months)
    write_tables(ds.tables(), args.out)
    print(f"wrote SYNTHETIC data (seed {args.seed}, {args.months} months) to {args.out}: "
          + ", ".join(f"{len(df)} {name}" for name, df in ds.tables().items()))
    return 0


def _cmd_gallery(args) -> int:
    from .gallery import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis",
                                     description="Chỉ số 766 research toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="load and validate every table of a data directory")
    p.add_argument("--data", type=Path, default=DATA_DIR, help="data directory (default: data/)")
    p.set_defaults(func=_cmd_validate)

    from .config import REPORTS_DIR
    from .importers.command import add_parser as add_import_parser

    add_import_parser(sub)

    from .audit_command import add_parser as add_audit_parser

    add_audit_parser(sub)

    p = sub.add_parser("build", help="build the HTML reports (only those whose inputs changed)")
    p.add_argument("--data", type=Path, default=DATA_DIR, help="data directory (default: data/)")
    p.add_argument("--out", type=Path, default=REPORTS_DIR, help="output directory (default: reports/)")
    p.add_argument("--month", help="only the reports of one month, YYYY-MM")
    p.add_argument("--province", help="one province id (with --period)")
    p.add_argument("--period", help="one period id (with --province)")
    p.add_argument("--lang", nargs="+", default=["vi"], choices=["vi", "en"], help="report language(s)")
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: CPU count)")
    p.add_argument("--executor", default="process", choices=["process", "serial", "dask"],
                   help="where notebooks run: worker processes, this process, or a Dask LocalCluster")
    p.add_argument("--force", action="store_true", help="rebuild even when inputs are unchanged")
    p.add_argument("--list", action="store_true", help="list the reports the data allows, build nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("gallery", help="render every figure to PNG for review (default: reports/gallery/)")
    p.add_argument("--data", type=Path, default=DATA_DIR, help="data directory (default: data/)")
    p.add_argument("--out", type=Path, default=REPORTS_DIR / "gallery", help="output folder (default: reports/gallery/)")
    p.add_argument("--dpi", type=int, default=110, help="resolution (default: 110)")
    p.add_argument("--no-synthetic", action="store_true", help="leave out the figures on synthetic national data")
    p.set_defaults(func=_cmd_gallery)

    p = sub.add_parser("synthetic", help="write a SYNTHETIC national data directory (34 provinces, ~3,300 "
                                         "communes) for scale tests and benchmarks; never mix it with real data")
    p.add_argument("--out", type=Path, required=True, help="directory to write (must not be data/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--months", type=int, default=12)
    p.set_defaults(func=_cmd_synthetic)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
