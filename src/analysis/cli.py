"""Command line: ``python -m analysis validate | import | fetch | build | …``."""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import re
import sys
from pathlib import Path

from .config import DATA_DIR
from .errors import AnalysisError, BusyError, ParameterError

__all__ = ["main"]


def _cmd_validate(args) -> int:
    from .dataset import load_dataset

    ds = load_dataset(args.data)
    for name, df in ds.tables().items():
        print(f"{name + '.csv':<18} {len(df):>6} rows  sha256 {ds.file_hashes[name + '.csv'][:12]}")
    print(f"{args.data}: valid")
    return 0


# analysis.dataset.STAGING_PREFIX and JOURNAL: the traces of an interrupted import (not imported
# from there: a build with nothing to do never loads pandas)
_INTERRUPTED_IMPORT = (".import-staging-", ".import-journal")


def _cmd_build(args) -> int:
    from .build import build_lock, plan_jobs, run_batch

    _check_dir_arg(args.data, "--data/DATA", must_exist=True)
    _check_dir_arg(args.out, "--out/OUT")
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    if args.scheme is not None:
        from .scheme import user_scheme

        user_scheme(args.scheme)  # a bad path or file: one line, exit 2, before locks and kernels
    if args.list:
        for job in plan_jobs(args.data, out_dir=args.out, month=args.month, province=args.province,
                             period=args.period, langs=tuple(args.lang), formats=formats, scheme=args.scheme):
            print(job.key)
        return 0
    scheduler = _scheduler_arg(args)
    if any(name.startswith(_INTERRUPTED_IMPORT) for name in os.listdir(args.data)):
        from .dataset import recover

        recover(args.data)  # finish an interrupted import first (under its own exclusive lock)
    # one build at a time per data dir (a second one queues, saying so), no import meanwhile;
    # the out dir is locked once the plan is valid
    with build_lock(args.data, None, one_build_per_data=True):
        jobs = plan_jobs(args.data, out_dir=args.out, month=args.month, province=args.province,
                         period=args.period, langs=tuple(args.lang), formats=formats, scheme=args.scheme)
        results = run_batch(jobs, out_dir=args.out, workers=args.workers, executor=args.executor,
                            force=args.force, progress=not args.quiet, scheduler=scheduler)
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


def _cmd_clean(args) -> int:
    from .build import clean

    _check_dir_arg(args.out, "--out/OUT")
    removed = clean(args.out)
    print(f"removed {removed} file(s) and folder(s) that builds wrote under {args.out}")
    return 0


def _cmd_gallery(args) -> int:
    from .gallery import run

    return run(args)


# --- parameter checks (values may come from Make variables: never trust them) ---------------
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PERIOD = re.compile(r"^\d{4}(?:-\d{2}|-\d{2}-w\d|-Q\d|-H\d|-(?:ytd|qtd|mtd)-\d{2}-\d{2})?$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


_SCHEDULER = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
                        r"|\[[0-9A-Fa-f:.]+\])(?::(?:[1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d\d|655[0-2]\d|6553[0-5]))?$")
_SCHEDULER_ALLOWED = "give a Dask scheduler address such as tcp://10.0.0.5:8786 or host:8786"


def _scheduler_arg(args) -> str | None:
    """The Dask scheduler of a build: ``--scheduler``, else ``DASK_SCHEDULER_ADDRESS`` (dask only)."""
    if args.scheduler and args.executor != "dask":
        raise ParameterError(f"parameter 'SCHEDULER/--scheduler': a Dask scheduler needs '--executor dask', "
                             f"not '{args.executor}'")
    if args.scheduler or args.executor != "dask":
        return args.scheduler
    value = os.environ.get("DASK_SCHEDULER_ADDRESS", "").strip()
    if value and not _SCHEDULER.match(value):
        raise ParameterError(f"environment variable 'DASK_SCHEDULER_ADDRESS': '{_shown(value)}' is not allowed; "
                             f"{_SCHEDULER_ALLOWED}")
    return value or None


def _shown(value: str) -> str:
    """A value as it may be echoed in a one-line error (control characters escaped, cut short)."""
    text = value.encode("unicode_escape").decode("ascii") if not value.isprintable() else value
    return text if len(text) <= 80 else text[:77] + "..."


def _pattern(name: str, regex, allowed: str):
    def check(value: str):
        if value == "":
            return None  # an empty Make variable means "not given"
        if not regex.match(value):
            raise argparse.ArgumentTypeError(f"parameter '{name}': '{_shown(value)}' is not allowed; {allowed}")
        return value
    check.__name__ = name
    return check


def _workers(value: str):
    if value == "":
        return None
    if not value.isdigit() or not 1 <= int(value) <= 256:
        raise argparse.ArgumentTypeError(f"parameter 'WORKERS/--workers': '{_shown(value)}' is not allowed; "
                                         f"give a whole number from 1 to 256")
    return int(value)


def _path(name: str):
    def check(value: str) -> Path:
        if value.strip() == "":
            raise argparse.ArgumentTypeError(f"parameter '{name}': an empty path is not allowed")
        if any(not ch.isprintable() for ch in value):
            raise argparse.ArgumentTypeError(f"parameter '{name}': '{_shown(value)}' contains control "
                                             f"characters; give a plain path")
        return Path(value)
    check.__name__ = name
    return check


def _scheme_path(value: str):
    """``--scheme``: a path, or nothing when empty (an unset ``SCHEME=`` in Make). The file itself
    is checked by :func:`analysis.scheme.user_scheme`."""
    if value == "":
        return None
    return _path("--scheme/SCHEME")(value)


def _check_dir_arg(path: Path, name: str, *, must_exist: bool = False) -> None:
    """A directory parameter must be a directory (or, for outputs, absent)."""
    if path.exists() and not path.is_dir():
        raise ParameterError(f"parameter '{name}': '{path}' is a file; give a directory")
    if must_exist and not path.exists():
        raise ParameterError(f"parameter '{name}': directory '{path}' does not exist")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


# Subcommands defined in other modules (which import pandas and pandera when loaded).
_ELSEWHERE = {"import": ".importers.command", "fetch": ".fetch", "audit": ".audit_command"}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand.

    ``command`` names the subcommand about to run: the subcommands defined in other modules
    (``import``, ``fetch``, ``audit``) are then added by name only unless one of them is that
    command, so a ``build`` or ``clean`` does not load pandas to read its arguments.

    Examples
    --------
    >>> args = build_parser("clean").parse_args(["clean", "--out", "x"])
    >>> args.func.__name__, args.out
    ('_cmd_clean', PosixPath('x'))
    """
    parser = _Parser(prog="python -m analysis", description="Chỉ số 766 research toolkit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("validate", help="load and validate every table of a data directory")
    p.add_argument("--data", type=_path("--data/DATA"), default=DATA_DIR, help="data directory (default: data/)")
    p.set_defaults(func=_cmd_validate)

    from .config import REPORTS_DIR

    for name, module in _ELSEWHERE.items():
        if command is None or command == name:
            importlib.import_module(module, __package__).add_parser(sub)
        else:  # known by name only: its module (pandas, pandera) is loaded when it is the command
            sub.add_parser(name)

    p = sub.add_parser("build", help="build the HTML reports (only those whose inputs changed)")
    p.add_argument("--data", type=_path("--data/DATA"), default=DATA_DIR, help="data directory (default: data/)")
    p.add_argument("--out", type=_path("--out/OUT"), default=REPORTS_DIR, help="output directory (default: reports/)")
    p.add_argument("--month", type=_pattern("MONTH/--month", _MONTH, "give YYYY-MM, e.g. 2024-07"),
                   help="only the reports of one month, YYYY-MM")
    p.add_argument("--province", type=_pattern("PROVINCE/--province", _SLUG, "give a province id such as bac-kan"),
                   help="one province id (with --period)")
    p.add_argument("--period", type=_pattern("PERIOD/--period", _PERIOD, "give a period id such as 2024-07 or "
                                              "2024-05-w1"), help="one period id (with --province)")
    p.add_argument("--lang", nargs="+", default=["vi"], choices=["vi", "en"], help="report language(s)")
    p.add_argument("--format", default="html,xlsx,csv",
                   help="outputs besides the notebook, comma-separated: html, docx, xlsx, csv "
                        "(default: html,xlsx,csv; docx is the Word draft in the administrative format)")
    p.add_argument("--workers", type=_workers, default=None, help="parallel workers, 1-256 (default: CPU count)")
    p.add_argument("--executor", default="process", choices=["process", "serial", "dask"],
                   help="where notebooks run: worker processes, this process, or Dask (a LocalCluster, or "
                        "the cluster of --scheduler)")
    p.add_argument("--scheduler", type=_pattern("SCHEDULER/--scheduler", _SCHEDULER, _SCHEDULER_ALLOWED),
                   default=None, help="with --executor dask: address of an existing Dask scheduler (default: "
                                      "$DASK_SCHEDULER_ADDRESS, else a LocalCluster); its workers must reach "
                                      "--data, --out and the notebooks at the same absolute paths")
    p.add_argument("--scheme", type=_scheme_path, default=None, metavar="PATH",
                   help="a user scheme TOML file overriding the scheme version valid for each period "
                        "(only the keys it changes; unknown keys are refused); reports state it, and "
                        "editing it rebuilds them")
    p.add_argument("--force", action="store_true", help="rebuild even when inputs are unchanged")
    p.add_argument("--list", action="store_true", help="list the reports the data allows, build nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("clean", help="remove what builds wrote under an output directory (nothing else)")
    p.add_argument("--out", type=_path("--out/OUT"), default=REPORTS_DIR, help="output directory (default: reports/)")
    p.set_defaults(func=_cmd_clean)

    p = sub.add_parser("gallery", help="render every figure to PNG for review (default: reports/gallery/)")
    p.add_argument("--data", type=Path, default=DATA_DIR, help="data directory (default: data/)")
    p.add_argument("--out", type=Path, default=REPORTS_DIR / "gallery", help="output folder (default: reports/gallery/)")
    p.add_argument("--dpi", type=int, default=110, help="resolution (default: 110)")
    p.add_argument("--lang", default="vi", choices=["vi", "en"], help="language of the figures (default: vi)")
    p.add_argument("--no-synthetic", action="store_true", help="leave out the figures on synthetic national data")
    p.set_defaults(func=_cmd_gallery)

    p = sub.add_parser("synthetic", help="write a SYNTHETIC national data directory (34 provinces, ~3,300 "
                                         "communes) for scale tests and benchmarks; never mix it with real data")
    p.add_argument("--out", type=Path, required=True, help="directory to write (must not be data/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--months", type=int, default=12)
    p.set_defaults(func=_cmd_synthetic)
    return parser


_COMMANDS = ("validate", *_ELSEWHERE, "build", "clean", "gallery", "synthetic")


def _one_line(text: str) -> str:
    """The first line of a message (a DataError may list more problems below it)."""
    return str(text).strip().splitlines()[0] if str(text).strip() else ""


def _environment_message(exc: OSError) -> str:
    """One line for a failure of the machine rather than of the input (disk full, read-only, EIO)."""
    what = os.strerror(exc.errno) if exc.errno else (exc.strerror or type(exc).__name__)
    hint = {errno.ENOSPC: "free some space and run the command again",
            errno.EDQUOT: "free some space and run the command again",
            errno.EROFS: "the file system is read-only; choose a writable directory",
            errno.EACCES: "check the permissions or choose another directory",
            errno.EPERM: "check the permissions or choose another directory",
            errno.EIO: "the disk reported an input/output error; check it and run the command again",
            }.get(exc.errno, "run the command again once this is fixed")
    where = exc.filename if exc.filename is not None else ""
    return f"{where}: {what}; {hint}" if where else f"{what}; {hint}"


def main(argv=None) -> int:
    """Run one command. Every error ends in one line on stderr, never a traceback.

    Exit status: 0 success; 2 bad input or parameters (the message names the file, row,
    column or parameter); 1 the environment (disk full, read-only or unwritable directory,
    I/O error, another build or import holding the directory) or failed reports.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    # the full parser unless the command is known (--help and a misspelt command list them all)
    parser = build_parser(argv[0] if argv and argv[0] in _COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BusyError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except AnalysisError as exc:
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        if len(lines) > 1:  # a list of problems: shown first, so the last line is the error
            print("\n".join(lines[1:]), file=sys.stderr)
        print(f"error: {lines[0]}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {_environment_message(exc)}", file=sys.stderr)
        return 1
    except RecursionError:
        print("error: input nested too deeply to read", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing half-written was left (run the command again)", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory; the input is too large for this machine", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug must still end in one line, with its type
        print(f"error: internal error ({type(exc).__name__}: {_one_line(exc)}); please report it "
              f"with the command you ran (set ANALYSIS_TRACEBACK=1 for details)", file=sys.stderr)
        if os.environ.get("ANALYSIS_TRACEBACK"):
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())
