"""Command line: ``python -m analysis validate | …``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import DATA_DIR
from .errors import AnalysisError

__all__ = ["main"]


def _cmd_validate(args) -> int:
    from .dataset import load_dataset

    ds = load_dataset(args.data)
    for name, df in ds.tables().items():
        print(f"{name + '.csv':<18} {len(df):>6} rows  sha256 {ds.file_hashes[name + '.csv'][:12]}")
    print(f"{args.data}: valid")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis",
                                     description="Chỉ số 766 research toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="load and validate every table of a data directory")
    p.add_argument("--data", type=Path, default=DATA_DIR, help="data directory (default: data/)")
    p.set_defaults(func=_cmd_validate)
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
