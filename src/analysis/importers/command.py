"""``python -m analysis import PATH...``: add portal JSON files and report documents to a data directory.

Each file is its own unit of work: a file that cannot be read, or whose rows would make the
data directory invalid, is reported (``FAILED <file>: <reason>``, one line) and left out; the
other files still land, and the exit status is non-zero when any file failed. Every file is read
and the merged tables are validated through the loader (written to a scratch directory and read
back with :func:`analysis.dataset.load_dataset`) before anything in the target directory
changes; then the changed tables are replaced together by :func:`analysis.dataset.write_tables`,
a journalled transaction: a crash or SIGKILL at any point leaves the directory wholly as it was
or wholly with the accepted files, and nothing else. The data directory is locked for the whole
run (one import or build at a time).

* A file whose SHA-256 is already in ``sources.csv`` is skipped, so re-importing changes
  nothing (the seed reports, transcribed by hand, are recognised this way too). Because the
  write is one transaction, a source row exists only when the file's whole import completed.
* Directories are walked recursively in name order: ``.json`` files go to the portal importer
  (documentation JSON is recognised and skipped); ``.docx``/``.txt``/``.md``/``.html``
  documents are read with the provenance drafted from the document itself (a sidecar
  ``<file>.source.json`` beside it overrides the draft field by field); ``README*`` files and
  other suffixes are skipped. A file named on the command line must be importable, or the
  command fails; a document found in a directory that does not say which unit or period it
  reports on (and has no sidecar) is listed as skipped with that reason.
* A document from which no figure is read is an error unless ``allow_empty``
  (``--allow-empty``). The summary lists, per document, what was read and every sentence or
  cell with a number that was not read; ``--dry-run`` also prints each figure with the
  sentence or cell it was read from.
* A missing or empty target directory is initialised with the six (empty) tables.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import DATA_DIR, TABLES
from ..dataset import Dataset, empty_table, file_sha256, load_dataset, recover, write_tables
from ..errors import AnalysisError, DataError, ParameterError
from ..files import dir_lock
from .capture import import_json
from .documents import DOCUMENT_SUFFIXES, import_document
from .provenance import ProvenanceError
from .portal import ImportResult

__all__ = ["add_parser", "run_import", "collect_files", "ImportReport"]


@dataclass
class ImportReport:
    """What an import did: one :class:`ImportResult` per file, rows added, whether it wrote."""

    data_dir: Path
    results: list[ImportResult] = field(default_factory=list)
    added: dict[str, int] = field(default_factory=dict)
    written: bool = False
    dry_run: bool = False
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary, one line per file plus warnings."""
        out = []
        for r in self.results:
            if r.skipped:
                out.append(f"skip  {r.path}: {r.skipped}")
                continue
            counts = ", ".join(f"{n} {t}" for t, n in r.counts().items() if n)
            out.append(f"read  {r.path} ({r.kind}, source {r.source_id}): {counts or 'no rows'}")
            out += [f"      note: {n}" for n in r.notes]
            out += [f"      unmapped: {u}" for u in r.unmapped]
            figures = getattr(r, "figures", None)
            if figures is not None:
                out.append(f"      read: {len(figures)} figures; not read: {len(r.uninterpreted)}")
                if self.dry_run:
                    out += [f"      READ {f}" for f in figures]
            out += [f"      NOT READ: {u}" for u in r.uninterpreted]
        out += [f"FAILED {path}: {why}" for path, why in self.failed]
        total = sum(self.added.values())
        if self.dry_run:
            out.append(f"dry run: {total} rows would be added to {self.data_dir}; nothing written")
        elif self.written:
            out.append(f"wrote {self.data_dir}: " + ", ".join(f"+{n} {t}" for t, n in self.added.items() if n)
                       if total else f"initialised {self.data_dir} with empty tables")
        else:
            out.append(f"{self.data_dir}: nothing to add")
        return out


def collect_files(paths) -> list[tuple[Path, bool]]:
    """Files to import, as ``(path, named_explicitly)``, directories expanded in name order.

    Raises
    ------
    DataError
        A named path that does not exist.
    """
    out: list[tuple[Path, bool]] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                    out.append((f, False))
        elif p.is_file():
            out.append((p, True))
        else:
            raise DataError("no such file or directory", file=p)
    return out


def _skip_reason(path: Path, explicit: bool) -> str | None:
    name, suffix = path.name.lower(), path.suffix.lower()
    if name.endswith(".source.json"):
        return "provenance sidecar of a document (read with the document)"
    if explicit:
        if suffix != ".json" and suffix not in DOCUMENT_SUFFIXES:
            raise DataError(f"cannot import a '{path.suffix}' file: the importers read portal .json "
                            f"files and report documents ({', '.join(DOCUMENT_SUFFIXES)})", file=path)
        return None
    if name.startswith(("readme", "license", "changelog")):
        return "documentation"
    if suffix == ".json" or suffix in DOCUMENT_SUFFIXES:
        return None
    return f"not an importable file (suffix '{path.suffix}')"


def _load_or_empty(data_dir: Path) -> tuple[dict[str, pd.DataFrame], bool]:
    """The tables of ``data_dir`` (validated), or empty tables when it is missing or empty."""
    present = [t for t in TABLES if (data_dir / f"{t}.csv").exists()] if data_dir.is_dir() else []
    if not present:
        return {t: empty_table(t) for t in TABLES}, True
    missing = [t for t in TABLES if t not in present]
    if missing:
        raise DataError(f"data directory is incomplete: it has {', '.join(t + '.csv' for t in present)} "
                        f"but not {', '.join(t + '.csv' for t in missing)}", file=data_dir)
    ds = load_dataset(data_dir)
    return {t: ds.table(t) for t in TABLES}, False


def _validate(tables: dict[str, pd.DataFrame], data_dir: Path) -> None:
    """Write the merged tables to a scratch directory and load them back (full validation)."""
    with tempfile.TemporaryDirectory(prefix="analysis-import-") as tmp:
        write_tables(tables, tmp)
        try:
            load_dataset(tmp)
        except DataError as exc:
            raise DataError(f"the imported data would make the data directory invalid, so nothing "
                            f"was written: {str(exc).replace(str(tmp), str(data_dir))}") from None


def run_import(paths, data_dir: Path | str = DATA_DIR, dry_run: bool = False,
               allow_empty: bool = False) -> ImportReport:
    """Import files and directories into a data directory, each file all or nothing.

    Parameters
    ----------
    paths : iterable of path
        Portal ``.json`` files, report documents, or directories of them.
    data_dir : path
        Target data directory (created and initialised when missing or empty).
    dry_run : bool
        Read and validate everything, write nothing.
    allow_empty : bool
        Accept report documents from which no figure is read.

    Returns
    -------
    ImportReport
        ``failed`` lists each file that could not be imported, with its reason (a missing path,
        a file that cannot be read, rows that would make the directory invalid); the other
        files are imported.

    Raises
    ------
    DataError
        The existing data directory is invalid or incomplete (nothing is written).
    BusyError
        Another import or build holds the data directory.
    OSError
        The disk failed (full, read-only, I/O error); the directory is then as before, or, if
        the failure came after the commit, completed by the next command.

    Examples
    --------
    >>> import tempfile
    >>> from analysis.config import SHARED_DIR
    >>> portal = SHARED_DIR / "data" / "portal"
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     report = run_import([portal], tmp) if portal.exists() else None
    ...     ok = report is None or report.added["units"] > 400
    >>> ok
    True
    """
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise ParameterError(f"parameter '--data/DATA': '{data_dir}' is a file; give a data directory")
    created = not data_dir.exists() and not dry_run
    if created:
        data_dir.mkdir(parents=True)
    try:
        if data_dir.is_dir():
            with dir_lock(data_dir, "import or build (using this data directory)", shared=dry_run):
                if not dry_run:
                    recover(data_dir)
                return _run_import(paths, data_dir, dry_run, allow_empty)
        return _run_import(paths, data_dir, dry_run, allow_empty)
    finally:
        if created and not any(data_dir.iterdir()):
            data_dir.rmdir()  # a failed first import leaves no empty folder behind


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_file(path: Path, explicit: bool, tables: dict, data_dir: Path, allow_empty: bool = False):
    """Read one file into an ImportResult (skipped or with new rows); raise on bad input."""
    reason = _skip_reason(path, explicit)
    if reason is None:
        digest = file_sha256(path)
        known = tables["sources"].loc[tables["sources"]["sha256"] == digest, "source_id"]
        if len(known):
            reason = f"already imported (source {known.iloc[0]} has the same SHA-256)"
    if reason is not None:
        return ImportResult(path=path, kind="skipped", source_id=None, skipped=reason)
    existing = Dataset(data_dir=data_dir, **tables)
    if path.suffix.lower() == ".json":
        return import_json(path, existing=existing)  # raw captures via their manifest
    try:
        return import_document(path, dataset=existing, allow_empty=allow_empty)
    except ProvenanceError as exc:
        if explicit:
            raise
        # found in a folder and not recognisably a report: listed, not imported
        return ImportResult(path=path, kind="skipped", source_id=None, skipped=f"not read as a report: {exc}")


def _merge(tables: dict, result) -> dict:
    merged = dict(tables)
    for t in TABLES:
        new = result.tables.get(t)
        if new is not None and len(new):
            merged[t] = pd.concat([merged[t], new], ignore_index=True) if len(merged[t]) else new.copy()
    return merged


def _run_import(paths, data_dir: Path, dry_run: bool, allow_empty: bool = False) -> ImportReport:
    base, fresh = _load_or_empty(data_dir)
    report = ImportReport(data_dir=data_dir, dry_run=dry_run, added={t: 0 for t in TABLES})
    files = []
    for p in map(Path, paths):
        try:
            files += collect_files([p])
        except DataError as exc:
            report.failed.append((p, "no such file or directory"))
    tables, accepted = base, []
    for path, explicit in files:
        try:
            result = _read_file(path, explicit, tables, data_dir, allow_empty)
        except (AnalysisError, ValueError, KeyError, TypeError, IndexError, RecursionError, OSError) as exc:
            # one file's problem (bad input, or a reader bug it triggers) fails that file only
            why = _one_line(exc).replace(f"{path}: ", "", 1)
            if not isinstance(exc, AnalysisError):
                why = f"cannot be read ({type(exc).__name__}: {why})"
            report.failed.append((path, why))
            continue
        report.results.append(result)
        if not result.skipped:
            tables = _merge(tables, result)
            accepted.append(result)
    if accepted:
        try:
            _validate(tables, data_dir)
        except DataError:  # find the file(s) to blame: add them one at a time
            tables, kept = base, []
            for result in accepted:
                merged = _merge(tables, result)
                try:
                    _validate(merged, data_dir)
                except DataError as exc:
                    reason = _one_line(exc).split("nothing was written: ", 1)[-1]
                    report.failed.append((result.path, f"its rows would make the data directory invalid: {reason}"))
                    report.results.remove(result)
                    continue
                tables = merged
                kept.append(result)
            accepted = kept
    for result in accepted:
        for t in TABLES:
            new = result.tables.get(t)
            report.added[t] += 0 if new is None else len(new)
    changed = [t for t in TABLES if report.added[t]]
    if not changed and not (fresh and not report.failed):
        return report
    if fresh:
        _validate(tables, data_dir)
    if not dry_run:
        write_tables({t: tables[t] for t in (TABLES if fresh else changed)}, data_dir)
        report.written = True
    return report


def _cmd_import(args) -> int:
    report = run_import(args.paths, args.data, dry_run=args.dry_run, allow_empty=args.allow_empty)
    for line in report.lines():
        print(line, file=sys.stderr if line.startswith("FAILED ") else sys.stdout)
    if report.failed:
        total = len(report.failed) + len(report.results)
        rest = ("" if len(report.failed) == total else
                f"; the other {total - len(report.failed)} were {'checked' if report.dry_run else 'handled'} "
                f"(see above)")
        print(f"error: {len(report.failed)} of {total} file(s) could not be imported (FAILED above){rest}",
              file=sys.stderr)
        return 2
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``import`` subcommand to an ``argparse`` subparsers object.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="python -m analysis")
    >>> sub = parser.add_subparsers(dest="command", required=True)
    >>> _ = add_parser(sub)
    >>> args = parser.parse_args(["import", "a.json", "--dry-run"])
    >>> args.paths, args.dry_run, args.func.__name__
    ([PosixPath('a.json')], True, '_cmd_import')
    """
    p = subparsers.add_parser(
        "import", help="add portal JSON files and report documents to a data directory",
        description="Import portal API JSON (crawler files, raw responses) and report documents "
                    "(.docx, .txt, .md, .html: tables and running text; provenance drafted from the "
                    "document, a .source.json sidecar overriding it) into a data directory. All or "
                    "nothing: the merged tables are validated before anything is written; files "
                    "already imported (same SHA-256) are skipped.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="files or directories (walked recursively)")
    p.add_argument("--data", type=Path, default=DATA_DIR,
                   help=f"data directory to add to (default: {DATA_DIR}); created when missing")
    p.add_argument("--dry-run", action="store_true",
                   help="read and validate everything, write nothing; print each figure with the "
                        "sentence or cell it was read from")
    p.add_argument("--allow-empty", action="store_true",
                   help="accept a report document from which no figure is read")
    p.set_defaults(func=_cmd_import)
    return p
