"""Read, validate and atomically write the six tables of a data directory."""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import pickle
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from .errors import DataError
from .files import atomic_write_text, dir_lock, fsync_dir, holds_lock
from .numerals import format_number, parse_number
from .periods import parse_period
from .schema import FRAME_CHECK_FOCUS, TABLE_COLUMNS, table_schema
from .text import check_text, is_nfc

__all__ = ["Dataset", "load_dataset", "data_facts", "COMPARISON", "read_table", "validate_table", "write_table",
           "write_tables", "recover", "file_sha256", "LOAD_ORDER", "empty_table", "READ_LOG_ENV", "hold",
           "held_only"]

# Tables are validated in this order so that each can check references to the earlier ones.
LOAD_ORDER = ("units", "periods", "sources", "unit_aliases", "scores", "indicators")
MAX_PROBLEMS_SHOWN = 12
# ``load_dataset(..., province=COMPARISON)``: the rows a comparison across provinces reads.
COMPARISON = ":comparison:"
_UMASK = os.umask(0)
os.umask(_UMASK)
# A write of several tables is a transaction (see write_tables): staged in a folder named
# STAGING_PREFIX…, committed by renaming that folder to JOURNAL, then applied.
STAGING_PREFIX = ".import-staging-"
JOURNAL = ".import-journal"
# When set (by a build, for the kernels it starts), load_dataset appends one JSON line per load
# to this file: the SHA-256 of every table file whose content it actually used.
READ_LOG_ENV = "ANALYSIS_READ_LOG"


@dataclass
class Dataset:
    """The validated tables of one data directory, plus the SHA-256 of each file."""

    data_dir: Path
    sources: pd.DataFrame
    units: pd.DataFrame
    unit_aliases: pd.DataFrame
    periods: pd.DataFrame
    scores: pd.DataFrame
    indicators: pd.DataFrame
    file_hashes: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame:
        """The table called ``name``."""
        return getattr(self, name)

    def tables(self) -> dict[str, pd.DataFrame]:
        """All six tables by name."""
        return {name: self.table(name) for name in LOAD_ORDER}


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _decode(raw: bytes, path) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raise DataError("file starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 "
                        "without BOM", file=path, row=1)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("file is UTF-16; save it as UTF-8 without BOM", file=path, row=1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                        f"the file may be in Windows-1258 or Latin-1: re-save it as UTF-8",
                        file=path, row=line) from None


def _parse_cell(text: str, typ: str, *, integer=False, file=None, row=None, column=None):
    if text == "":
        return None
    if typ == "str":
        check_text(text, file=file, row=row, column=column)
        if not is_nfc(text):
            raise DataError(f"text '{text}' is not in Unicode NFC (letters stored as base + "
                            f"combining accent); normalise it to NFC", file=file, row=row, column=column)
        return text
    if typ in ("float", "int"):
        return parse_number(text, integer=integer or typ == "int", file=file, row=row, column=column)
    if typ == "bool":
        if text in ("true", "false"):
            return text == "true"
        raise DataError(f"'{text}' is not a boolean; allowed: true, false", file=file, row=row, column=column)
    if typ == "date":
        try:
            if len(text) != 10:  # fromisoformat also takes 20240805 and week dates
                raise ValueError(text)
            return date.fromisoformat(text)
        except ValueError:
            raise DataError(f"'{text}' is not a date; allowed: YYYY-MM-DD", file=file, row=row,
                            column=column) from None
    raise TypeError(typ)


def empty_table(table: str) -> pd.DataFrame:
    """An empty, correctly typed table."""
    return _frame(table, {c.name: [] for c in TABLE_COLUMNS[table]}, pd.RangeIndex(0))


def _frame(table: str, values: dict[str, list], index) -> pd.DataFrame:
    data = {}
    for col in TABLE_COLUMNS[table]:
        v = values[col.name]
        if col.type == "str":
            data[col.name] = pd.Series(v, index=index, dtype="str")
        elif col.type == "float":
            data[col.name] = pd.Series([float("nan") if x is None else x for x in v], index=index, dtype="float64")
        elif col.type == "int":
            data[col.name] = pd.Series(v, index=index, dtype="Int64")
        elif col.type == "bool":
            data[col.name] = pd.Series([bool(x) if x is not None else None for x in v], index=index,
                                       dtype="bool" if None not in v else "object")
        elif col.type == "date":
            data[col.name] = pd.to_datetime(pd.Series(v, index=index, dtype="object")).astype("datetime64[ns]")
    return pd.DataFrame(data, index=index)


def read_table(path: Path | str, table: str, *, digests: dict | None = None) -> pd.DataFrame:
    """Read one table file into a typed DataFrame whose index is the file's line number.

    Parameters
    ----------
    path : path
        The CSV file.
    table : str
        Which table it holds (decides the expected columns and their types).

    Raises
    ------
    DataError
        Encoding, BOM, header, ragged rows, NFC, numbers, booleans and dates, each with the row
        and column.
    """
    path = Path(path)
    spec = TABLE_COLUMNS[table]
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"missing file: a data directory needs {table}.csv", file=path) from None
    if digests is not None:  # the hash of the bytes parsed here, not of the file a moment later
        digests[path.name] = hashlib.sha256(raw).hexdigest()
    text = _decode(raw, path)
    if not text.strip():
        raise DataError(f"file is empty; it needs at least the header line "
                        f"({','.join(c.name for c in spec)})", file=path, row=1)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise DataError(f"malformed CSV: {exc}", file=path, row=reader.line_num) from None
    header, body = rows[0], rows[1:]
    expected = [c.name for c in spec]
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    if missing or extra:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = " (the file looks separated by ';', tab or '|'; use commas)"
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected column(s) {', '.join(extra)}")
        raise DataError(f"{'; '.join(parts)}{hint}; expected columns: {', '.join(expected)}",
                        file=path, row=1, column=(missing or extra)[0])
    if header != expected:
        raise DataError(f"columns are out of order; expected: {', '.join(expected)}", file=path, row=1)
    values: dict[str, list] = {c: [] for c in expected}
    index = []
    measure_pos = header.index("measure") if table == "indicators" else None
    for i, row in enumerate(body, start=2):
        if row == []:
            continue  # a blank line (e.g. trailing newline)
        if len(row) != len(header):
            raise DataError(f"has {len(row)} fields, the header has {len(header)} "
                            f"(an unquoted comma in a text cell?)", file=path, row=i)
        index.append(i)
        for col, cell in zip(spec, row):
            integer = measure_pos is not None and col.name == "value" and row[measure_pos] == "count"
            values[col.name].append(_parse_cell(cell, col.type, integer=integer, file=path, row=i,
                                                column=col.name))
    return _frame(table, values, pd.Index(index, name="row"))


def _describe_failures(exc: pa.errors.SchemaErrors, path) -> DataError:
    cases = exc.failure_cases
    problems, seen = [], set()
    for case in cases.itertuples(index=False):
        row = None if pd.isna(case.index) else int(case.index)
        column = None if case.column is None or pd.isna(case.column) or case.column == path.name else case.column
        check = str(case.check)
        if check in FRAME_CHECK_FOCUS:  # a row-wide check is reported once, at its focus column
            focus = FRAME_CHECK_FOCUS[check]
            if (row, check) in seen or (focus is not None and column != focus and column is not None):
                continue
            seen.add((row, check))
            column = focus
        if check == "not_nullable":
            why = "a value is required here"
        elif check.startswith("column_in_dataframe"):
            why = "column missing"
        elif check.startswith("dtype("):
            why = f"wrong type ({check})"
        else:
            why = check
        shown = "" if pd.isna(case.failure_case) or column is None else f"'{case.failure_case}': "
        problems.append((row if row is not None else 0, column or "", f"{shown}{why}"))
    problems.sort(key=lambda p: (p[0], p[1]))
    first_row, first_col, first_why = problems[0]
    lines = [f"  {path.name}, row {r}" + (f", column '{c}'" if c else "") + f": {w}"
             for r, c, w in problems[:MAX_PROBLEMS_SHOWN]]
    more = len(problems) - MAX_PROBLEMS_SHOWN
    if more > 0:
        lines.append(f"  … and {more} more")
    summary = f"{first_why}" + (f"\n{len(problems)} problems:\n" + "\n".join(lines) if len(problems) > 1 else "")
    return DataError(summary, file=path, row=first_row or None, column=first_col or None, problems=problems)


def validate_table(df: pd.DataFrame, table: str, *, refs: dict | None = None, path: Path | str = "") -> pd.DataFrame:
    """Validate a typed table with its pandera schema; raise DataError naming every bad row.

    The DataFrame index is taken to be the file's line number.
    """
    path = Path(path or f"{table}.csv")
    try:
        return table_schema(table, refs).validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        raise _describe_failures(exc, path) from None


# The note of a source imported on purpose without figures (``import --allow-empty``).
NO_FIGURES_NOTE = "no figure read (imported with --allow-empty)"


def _check_sources_have_rows(frames: dict, data_dir: Path) -> None:
    """A source exists to bring figures: one with no row in scores.csv or indicators.csv means a
    table lost its rows (a header-only or truncated file), and every report on it would be empty.
    A source whose note says it was imported without figures on purpose is exempt."""
    used = set(frames["scores"]["source_id"]) | set(frames["indicators"]["source_id"])
    declared = frames["sources"]["note"].fillna("").astype(str).str.contains(NO_FIGURES_NOTE, regex=False)
    orphans = frames["sources"].loc[~frames["sources"]["source_id"].isin(used) & ~declared]
    if len(orphans):
        empty = [t for t in ("scores", "indicators") if frames[t].empty]
        where = (f"{' and '.join(t + '.csv' for t in empty)} {'has' if len(empty) == 1 else 'have'} no rows "
                 f"(only the header); " if empty else "")
        raise DataError(f"{where}source '{orphans.iloc[0]['source_id']}'"
                        f"{f' and {len(orphans) - 1} more' if len(orphans) > 1 else ''} "
                        f"{'have' if len(orphans) > 1 else 'has'} no row in "
                        f"scores.csv or indicators.csv: its figures are missing",
                        file=data_dir / "sources.csv", row=int(orphans.index[0]), column="source_id")


def _check_unit_tree(units: pd.DataFrame, path: Path) -> None:
    """Every unit's chain of parents ends at a province (or the country): no unit is its own
    parent, and no chain comes back to where it started."""
    parent = dict(zip(units["unit_id"], units["parent_id"]))
    rows = dict(zip(units["unit_id"], units.index))
    done: set = set()
    for start in units["unit_id"]:
        chain, unit = [], start
        while isinstance(unit, str) and unit not in done:
            if unit in chain:
                loop = chain[chain.index(unit):] + [unit]
                what = ("is its own parent" if len(loop) == 2 else
                        "is in a cycle of parents: " + " -> ".join(loop))
                raise DataError(f"unit '{unit}' {what}; a parent_id must lead up to a province",
                                file=path, row=rows.get(unit), column="parent_id")
            chain.append(unit)
            unit = parent.get(unit)
        done.update(chain)


def _check_periods(periods: pd.DataFrame, path: Path) -> None:
    for row, rec in periods.iterrows():
        cutoff = None if pd.isna(rec.cutoff_date) else rec.cutoff_date.date()
        p = parse_period(rec.period_id, cutoff=cutoff, file=path, row=row, column="period_id")
        for column, want in (("kind", p.kind), ("start_date", p.start), ("end_date", p.end)):
            got = rec[column].date() if column != "kind" else rec[column]
            if got != want:
                raise DataError(f"'{got}' disagrees with period id '{rec.period_id}', which means "
                                f"{column} = {want}", file=path, row=row, column=column)


_CODE_HASH: dict = {}


def _validation_fingerprint() -> str:
    """Hash of all the code and vocabularies the cache entry depends on.

    The entry holds validated tables *and* facts derived from them (report periods, slice
    hashes, computed by views, fingerprint, scheme …), so it hashes every source, reference
    and scheme file of the package, not a hand-kept list that drifts: any edit to any function
    gives a new key. Memoised per process on the files' (name, size, mtime).
    """
    from .config import PACKAGE_DIR

    files = sorted(p for p in PACKAGE_DIR.rglob("*") if p.suffix in {".py", ".csv", ".toml"}
                   and "__pycache__" not in p.parts and p.is_file())
    stat = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if _CODE_HASH.get("stat") != stat:
        h = hashlib.sha256()
        for path in files:
            h.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes())
        _CODE_HASH.update(stat=stat, hash=h.hexdigest())
    return _CODE_HASH["hash"]


def _cache_path(data_dir: Path, planned: dict | None = None) -> tuple[Path, dict[str, str]] | None:
    """The validation cache entry of the directory's files and their hashes (None: a file is
    missing). ``planned`` (``{table: SHA-256}`` of every table, a build's plan) names the file
    versions instead of hashing the files again."""
    from .config import CACHE_DIR

    files = {t: data_dir / f"{t}.csv" for t in LOAD_ORDER}
    if not all(p.is_file() for p in files.values()):
        return None
    if planned is not None and all(t in planned for t in LOAD_ORDER):
        hashes = {f"{t}.csv": planned[t] for t in LOAD_ORDER}
    else:
        hashes = {f"{t}.csv": file_sha256(p) for t, p in files.items()}
    key = hashlib.sha256(json.dumps([hashes, _validation_fingerprint(), pd.__version__]).encode()).hexdigest()
    return CACHE_DIR / f"dataset-{key[:32]}", hashes


def _source_provinces(ds: "Dataset") -> pd.DataFrame:
    """(source_id, province_id) pairs: which provinces each source has rows about."""
    prov = ds.units.set_index("unit_id")["province_id"]
    pairs = pd.concat([ds.scores[["source_id", "unit_id"]], ds.indicators[["source_id", "unit_id"]]])
    pairs = pairs.drop_duplicates()
    return pd.DataFrame({"source_id": pairs["source_id"], "province_id": pairs["unit_id"].map(prov)}).drop_duplicates()


def _partition_name(province: str) -> str:
    return "part-" + hashlib.sha256(province.encode()).hexdigest()[:16] + ".pickle"


def _store(path: Path, ds: "Dataset") -> None:
    """Write the validated tables to the cache atomically, split by province.

    ``core.pickle`` holds units, periods, sources and aliases; each province's file holds every
    score and indicator row of the sources that have a row about that province (so a section of a
    country-wide file stays whole). The eight newest entries are kept.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=_ensure(path.parent)))
    for stale in path.parent.glob(".dataset-*.tmp"):  # left by a process killed while storing
        try:
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass
    try:
        core = {name: ds.table(name) for name in ("units", "periods", "sources", "unit_aliases")}
        with open(tmp / "core.pickle", "wb") as fh:
            pickle.dump(core, fh, protocol=pickle.HIGHEST_PROTOCOL)
        pairs = _source_provinces(ds)
        for province, group in pairs.groupby("province_id", sort=True):
            ids = set(group["source_id"])
            part = {name: ds.table(name).loc[ds.table(name)["source_id"].isin(ids)].reset_index(drop=True)
                    for name in ("scores", "indicators")}
            with open(tmp / _partition_name(province), "wb") as fh:
                pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)
        with open(tmp / "all.pickle", "wb") as fh:
            pickle.dump({"scores": ds.scores, "indicators": ds.indicators}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        with open(tmp / "compare.pickle", "wb") as fh:
            pickle.dump(_comparison_rows(ds), fh, protocol=pickle.HIGHEST_PROTOCOL)
        from .fingerprint import data_facts_from

        (tmp / "facts.json").write_text(json.dumps(data_facts_from(ds), indent=1), encoding="utf-8")
        os.replace(tmp, path)
        for old in sorted(path.parent.glob("dataset-*"), key=lambda p: p.stat().st_mtime)[:-8]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass  # the cache is an optimisation: a read-only or full disk only costs time
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _comparison_rows(ds: "Dataset") -> dict:
    """What a comparison across provinces reads: the provinces' own scores and the totals of
    communes (a small share of the rows at national scale); no indicators."""
    level = ds.units.set_index("unit_id")["level"]
    lv = ds.scores["unit_id"].map(level)
    keep = (lv == "province") | ((lv == "commune") & (ds.scores["group"] == "TOTAL"))
    return {"scores": ds.scores.loc[keep].reset_index(drop=True), "indicators": empty_table("indicators")}


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# Data held in memory by a build's fork server (analysis.forkkernel) for the kernels it forks:
# per data directory (real path), the SHA-256 of each file, the validation cache entry those
# hashes name, and its core tables (units, periods, sources, aliases), read once. A kernel
# forked from the server inherits this (copy-on-write): its load_dataset neither hashes the
# files nor reads the core tables again, and records the held hashes in its read log, which
# name exactly the contents it uses.
_HELD_DATA: dict[str, dict] = {}


def hold(data_dir: Path | str, expect: dict | None = None) -> bool:
    """Keep ``data_dir``'s file hashes and validated core tables in this process, for the
    processes forked from it (a build's fork server; see :data:`_HELD_DATA`).

    ``expect`` is the build's plan of the files (``{table: SHA-256}``): an entry held with
    other hashes is read again, and the validation cache entry of exactly the planned versions
    is held without hashing the files again (the kernels' read logs then name those versions,
    which the build checks against its plan). The directory is validated first when its cache
    entry is missing. Returns False (and holds nothing) when the directory cannot be held
    (missing files, invalid data, a cache that cannot be written, files changed since the plan
    and their planned entry gone); a kernel then loads normally.
    """
    key = os.path.realpath(data_dir)
    entry = _HELD_DATA.get(key)
    if entry is not None and (expect is None or entry["manifest"] == expect):
        return True
    _HELD_DATA.pop(key, None)
    try:
        data_dir = Path(key)
        recover(data_dir)
        with contextlib.ExitStack() as stack:
            if not holds_lock(data_dir):
                stack.enter_context(dir_lock(data_dir, "import (writing this data directory)", shared=True,
                                             wait=120))
            found = _cache_path(data_dir, planned=expect)
            if found is None:
                return False
            if not found[0].is_dir():
                load_dataset(data_dir, province=COMPARISON)  # validates and fills the cache entry
                found = _cache_path(data_dir, planned=expect)
            with open(found[0] / "core.pickle", "rb") as fh:
                core = pickle.load(fh)
    except (OSError, DataError, EOFError, pickle.UnpicklingError, TypeError, AttributeError):
        return False
    _HELD_DATA[key] = {"hashes": found[1], "entry": found[0], "core": core,
                       "manifest": {name.removesuffix(".csv"): sha for name, sha in found[1].items()}}
    return True


def held_only(data_dir: Path | str | None) -> None:
    """Forget every held data directory but ``data_dir`` (in a kernel just forked for a report
    of that directory; None forgets all)."""
    key = os.path.realpath(data_dir) if data_dir else None
    for other in [k for k in _HELD_DATA if k != key]:
        del _HELD_DATA[other]


def _load_cached(path: Path, province: str | None, core: dict | None = None) -> dict | None:
    try:
        if core is not None:  # held in memory: fresh copies, so no caller changes the held tables
            tables = {name: df.copy() for name, df in core.items()}
        else:
            with open(path / "core.pickle", "rb") as fh:
                tables = pickle.load(fh)
        part = path / ("all.pickle" if province is None else
                       "compare.pickle" if province == COMPARISON else _partition_name(province))
        if part.exists():
            with open(part, "rb") as fh:
                tables.update(pickle.load(fh))
        else:  # a province no source has rows about
            tables.update({name: empty_table(name) for name in ("scores", "indicators")})
        return tables
    except (OSError, EOFError, pickle.UnpicklingError, TypeError, AttributeError):
        return None


def data_facts(data_dir: Path | str) -> dict:
    """What planning a build needs (report periods, comparison periods, data-slice hashes),
    without holding the tables in this process.

    The facts are computed when a data version is first validated and kept with the validation
    cache. A version not seen before is validated in a child process, so the memory that
    validation needs is returned before any report runs.

    Raises
    ------
    DataError
        When the data directory is invalid (the validator's message).
    """
    import subprocess
    import sys

    data_dir = Path(data_dir)
    recover(data_dir)
    found = _cache_path(data_dir) if data_dir.is_dir() else None
    if found is None:
        load_dataset(data_dir)  # raises the error that names the missing file or directory
        raise DataError("data directory is incomplete", file=data_dir)
    facts = found[0] / "facts.json"
    if not facts.exists():
        done = subprocess.run([sys.executable, "-m", "analysis", "validate", "--data", str(data_dir)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise DataError(done.stderr.strip().removeprefix("error: ") or "validation failed")
    if facts.exists():
        return json.loads(facts.read_text(encoding="utf-8"))
    from .fingerprint import data_facts_from  # the cache could not be written: compute here

    return data_facts_from(load_dataset(data_dir, cache=False))


def load_dataset(data_dir: Path | str, *, province: str | None = None, cache: bool = True) -> Dataset:
    """Load and validate every table of a data directory.

    A validated dataset is kept in ``build/cache/`` under a key made of the SHA-256 of every
    table file and of the validation code, so loading unchanged data again skips parsing and
    validation; any change to a file or to the rules validates afresh (``cache=False`` always
    validates).

    Parameters
    ----------
    data_dir : path
        A directory with ``sources.csv, units.csv, unit_aliases.csv, periods.csv, scores.csv,
        indicators.csv`` (see ``data/README.md``).
    province : str, optional
        Keep only the score and indicator rows of the sources that have a row about this
        province (whole sources, so every printed table stays complete). Units, periods,
        sources and aliases are always complete. A province report needs no more, and at
        national scale this is a small fraction of the rows. ``COMPARISON`` keeps the
        provinces' own scores and the communes' totals, what a comparison reads.
    cache : bool
        Use and fill the validation cache.

    Returns
    -------
    Dataset
        Tables with a fresh RangeIndex, and the SHA-256 of each file.

    Raises
    ------
    DataError
        The first file with problems, naming its rows and columns.

    Examples
    --------
    >>> from analysis.config import DATA_DIR
    >>> ds = load_dataset(DATA_DIR)
    >>> sorted(ds.tables())[:2]
    ['indicators', 'periods']
    >>> len(load_dataset(DATA_DIR, province="bac-kan").scores) < len(ds.scores)
    True
    """
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError("is a file; a data directory (with units.csv, scores.csv …) is needed", file=data_dir)
    recover(data_dir)
    if data_dir.is_dir() and not holds_lock(data_dir):
        with dir_lock(data_dir, "import (writing this data directory)", shared=True, wait=120):
            return _load(data_dir, province, cache)
    return _load(data_dir, province, cache)


def _log_read(hashes: dict) -> None:
    """Record, for the build that started this process, which file contents were used."""
    log = os.environ.get(READ_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(hashes, sort_keys=True) + "\n")


def _load(data_dir: Path, province, cache: bool) -> Dataset:
    held = _HELD_DATA.get(os.path.realpath(data_dir)) if cache else None
    if held is not None and held["entry"].is_dir():
        tables = _load_cached(held["entry"], province, core=held["core"])
        if tables is not None:
            _log_read(held["hashes"])
            return Dataset(data_dir=data_dir, file_hashes=dict(held["hashes"]), **tables)
    found = _cache_path(data_dir) if cache and data_dir.is_dir() else None
    if found is not None and found[0].is_dir():
        tables = _load_cached(found[0], province)
        if tables is not None:
            _log_read(found[1])
            return Dataset(data_dir=data_dir, file_hashes=found[1], **tables)
    ds = _load_and_validate(data_dir)
    _log_read(ds.file_hashes)
    if found is not None and found[1] == ds.file_hashes:  # the files did not change under us
        _store(found[0], ds)
    if province == COMPARISON:
        tables = _comparison_rows(ds)
        ds.scores, ds.indicators = tables["scores"], tables["indicators"]
    elif province is not None:
        ids = set(_source_provinces(ds).query("province_id == @province")["source_id"])
        for name in ("scores", "indicators"):
            setattr(ds, name, ds.table(name).loc[ds.table(name)["source_id"].isin(ids)].reset_index(drop=True))
    return ds


def _load_and_validate(data_dir: Path | str) -> Dataset:
    """Parse and validate every table (no cache)."""
    from .units import UnitIndex  # units imports dataset-free helpers only

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError("data directory does not exist", file=data_dir)
    frames, hashes, refs = {}, {}, {}
    for table in LOAD_ORDER:
        path = data_dir / f"{table}.csv"
        df = read_table(path, table, digests=hashes)
        frames[table] = validate_table(df, table, refs=refs, path=path)
        if table == "units":
            _check_unit_tree(df, path)
            refs["unit_id"] = set(df["unit_id"])
        elif table == "periods":
            _check_periods(df, path)
            refs["period_id"] = set(df["period_id"])
        elif table == "sources":
            for column, key in (("area_unit_id", "unit_id"), ("period_id", "period_id")):
                bad = df.loc[~df[column].isin(refs[key])]
                if len(bad):
                    row = bad.index[0]
                    raise DataError(f"'{bad.iloc[0][column]}' is not a {key} of "
                                    f"{'units' if key == 'unit_id' else 'periods'}.csv",
                                    file=path, row=row, column=column)
            refs["source_id"] = set(df["source_id"])
            refs["clean_sources"] = set(df.loc[~df["as_published"], "source_id"])
    _check_sources_have_rows(frames, data_dir)
    ds = Dataset(data_dir=data_dir, file_hashes=hashes,
                 **{name: frame.reset_index(drop=True) for name, frame in frames.items()})
    UnitIndex.from_dataset(ds).check_aliases(file=data_dir / "unit_aliases.csv")
    return ds


def _to_csv_text(df: pd.DataFrame, table: str) -> str:
    spec = TABLE_COLUMNS[table]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in spec])
    for rec in df[[c.name for c in spec]].itertuples(index=False):
        cells = []
        for col, value in zip(spec, rec):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                cells.append("")
            elif col.type == "float":
                cells.append(format_number(value))
            elif col.type == "int":
                cells.append(str(int(value)))
            elif col.type == "bool":
                cells.append("true" if value else "false")
            elif col.type == "date":
                cells.append(pd.Timestamp(value).date().isoformat())
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return out.getvalue()


def write_table(df: pd.DataFrame, path: Path | str, table: str) -> None:
    """Write one table atomically (temporary file, fsync, rename), rows in their given order."""
    atomic_write_text(Path(path), _to_csv_text(df, table))


def write_tables(tables: dict[str, pd.DataFrame], data_dir: Path | str) -> None:
    """Write several tables as one transaction: after a crash at any point (even SIGKILL), the
    directory holds either all the old tables or all the new ones, and nothing else.

    1. *Stage*: every table is written and fsynced into a fresh folder ``.import-staging-*``
       inside the data directory (same file system, so the later renames are atomic).
    2. *Commit*: that folder is renamed to ``.import-journal`` (one atomic rename). Before this
       point the transaction does not exist: :func:`recover` deletes a staging folder.
    3. *Apply*: each staged file is renamed over its table, then the empty journal is removed.
       After the commit, :func:`recover` (run by every reader and writer before it looks at the
       tables, under the directory lock) finishes these renames; they are idempotent.

    The caller may hold the directory's lock already (an import holds it from reading the old
    tables to writing the new ones); otherwise it is taken here.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with dir_lock(data_dir, "import (writing this data directory)", wait=120):
        recover(data_dir)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=data_dir))
        try:
            for table, df in tables.items():
                path = staging / f"{table}.csv"
                with open(path, "w", encoding="utf-8", newline="") as fh:
                    fh.write(_to_csv_text(df, table))
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(path, 0o666 & ~_UMASK)
            os.chmod(staging, 0o755)
            fsync_dir(staging)
            os.replace(staging, data_dir / JOURNAL)  # the commit point
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(data_dir)
        _apply_journal(data_dir)


def _apply_journal(data_dir: Path) -> None:
    journal = data_dir / JOURNAL
    for staged in sorted(journal.iterdir()):
        os.replace(staged, data_dir / staged.name)
    fsync_dir(data_dir)
    os.rmdir(journal)
    fsync_dir(data_dir)


def recover(data_dir: Path | str) -> str | None:
    """Finish or undo a table write that was interrupted (see :func:`write_tables`).

    A committed journal is applied (rolled forward); a staging folder that never committed is
    deleted (rolled back). Returns what was done, or None when there was nothing to do (the
    usual case, which costs one directory listing and takes no lock).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / ".import-staging-x1").mkdir()
    >>> recover(d), sorted(p.name for p in d.iterdir())
    ('rolled back', [])
    """
    data_dir = Path(data_dir)
    try:
        names = [n for n in os.listdir(data_dir) if n.startswith((STAGING_PREFIX, JOURNAL))]
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not names:
        return None
    with dir_lock(data_dir, "import (writing this data directory)", wait=120):
        done = None
        for name in os.listdir(data_dir):
            if name.startswith(STAGING_PREFIX):
                shutil.rmtree(data_dir / name)
                done = "rolled back"
        if (data_dir / JOURNAL).is_dir():
            _apply_journal(data_dir)
            done = "rolled forward"
        return done
