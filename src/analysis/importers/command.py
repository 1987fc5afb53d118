"""``python -m analysis import PATH...``: add portal JSON files and report documents to a data directory.

The command is all-or-nothing. Every file is read and the merged tables are validated through
the loader (written to a scratch directory and read back with
:func:`analysis.dataset.load_dataset`) before anything in the target directory changes; then
the changed tables are replaced together by :func:`analysis.dataset.write_tables`. Any error
leaves the directory byte for byte as it was.

* A file whose SHA-256 is already in ``sources.csv`` is skipped, so re-importing changes
  nothing (the seed reports, transcribed by hand, are recognised this way too).
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
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import DATA_DIR, TABLES
from ..dataset import Dataset, empty_table, file_sha256, load_dataset, write_tables
from ..errors import DataError
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
    """Import files and directories into a data directory, all or nothing.

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

    Raises
    ------
    DataError
        Any file that cannot be imported, or merged tables that do not validate; the data
        directory is then unchanged.

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
    tables, fresh = _load_or_empty(data_dir)
    report = ImportReport(data_dir=data_dir, dry_run=dry_run, added={t: 0 for t in TABLES})
    for path, explicit in collect_files(paths):
        reason = _skip_reason(path, explicit)
        if reason is None:
            digest = file_sha256(path)
            known = tables["sources"].loc[tables["sources"]["sha256"] == digest, "source_id"]
            if len(known):
                reason = f"already imported (source {known.iloc[0]} has the same SHA-256)"
        if reason is not None:
            report.results.append(ImportResult(path=path, kind="skipped", source_id=None, skipped=reason))
            continue
        existing = Dataset(data_dir=data_dir, **tables)
        if path.suffix.lower() == ".json":
            result = import_json(path, existing=existing)  # raw captures via their manifest
        else:
            try:
                result = import_document(path, dataset=existing, allow_empty=allow_empty)
            except ProvenanceError as exc:
                if explicit:
                    raise
                # found in a folder and not recognisably a report: listed, not imported
                report.results.append(ImportResult(path=path, kind="skipped", source_id=None,
                                                   skipped=f"not read as a report: {exc}"))
                continue
        report.results.append(result)
        if result.skipped:
            continue
        for t in TABLES:
            new = result.tables.get(t)
            if new is not None and len(new):
                tables[t] = pd.concat([tables[t], new], ignore_index=True) if len(tables[t]) else new.copy()
                report.added[t] += len(new)
    changed = [t for t in TABLES if report.added[t]]
    if not changed and not fresh:
        return report
    _validate(tables, data_dir)
    if not dry_run:
        write_tables({t: tables[t] for t in (TABLES if fresh else changed)}, data_dir)
        report.written = True
    return report


def _cmd_import(args) -> int:
    report = run_import(args.paths, args.data, dry_run=args.dry_run, allow_empty=args.allow_empty)
    print("\n".join(report.lines()))
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
