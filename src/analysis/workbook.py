"""Report tables for offices: one Excel workbook and CSV files, in the report's language.

Headers are the report's column names with their units, code values (bands, groups, checks,
periods) are words, numbers keep their value and get a number format with the printed decimals
(rates as %). Each sheet has its header row frozen, an autofilter and fitted column widths; sheet
names are readable, at most 31 characters and unique. Text that a spreadsheet would run as a
formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is written as text in
the workbook and prefixed with ``'`` in CSV (OWASP, "CSV Injection"). The same tables give the
same bytes: fixed document properties and fixed zip entry times.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pandas as pd

from .files import atomic_write_bytes
from .i18n import decimals_needed
from .render import NUMERIC_KINDS, cell_text, column_spec, header, resolve

__all__ = ["write_xlsx", "write_csv", "export_tables", "sheet_names", "neutralise", "FORMULA_STARTS"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FIXED_TIME = (2000, 1, 1, 0, 0, 0)
_FIXED_W3CDTF = "2000-01-01T00:00:00Z"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_MAX_WIDTH = 60


def neutralise(value: str) -> str:
    """A CSV text cell that no spreadsheet runs as a formula.

    >>> neutralise("=1+1"), neutralise("-2"), neutralise("xã A")
    ("'=1+1", "'-2", 'xã A')
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def export_tables(sections) -> list[tuple[str, str, pd.DataFrame]]:
    """(file key, readable label, table) of every table to export, in report order.

    Tables whose name ends in ``_shown`` (a display copy of another table) are left out."""
    out = []
    for content in sections:
        section_title = resolve(content.title, content.lang) if content.title is not None else ""
        labels = content.labels
        names = [n for n in content.tables if not n.endswith("_shown")]
        for name in names:
            label = resolve(labels[name], content.lang) if name in labels else ""
            if not label:
                label = section_title if len(names) == 1 else f"{section_title} – {name.split('_', 1)[-1]}"
            out.append((name, label or name, content.tables[name]))
    return out


def sheet_names(labels: list[str]) -> list[str]:
    """Readable, valid, unique sheet names (at most 31 characters; ``…`` where cut).

    >>> sheet_names(["Kết quả các đơn vị – UBND huyện Na Rì rất dài quá", "A/B", "A/B"])
    ['Kết quả các đơn vị – UBND huyệ…', 'A-B', 'A-B (2)']
    """
    used, out = set(), []
    for label in labels:
        base = _BAD_SHEET_CHARS.sub("-", label).strip("' ") or "Sheet"
        base = base if len(base) <= 31 else base[:30] + "…"
        name, k = base, 1
        while name.casefold() in used:
            k += 1
            suffix = f" ({k})"
            name = (base if len(base) + len(suffix) <= 31 else base[:31 - len(suffix) - 1] + "…") + suffix
        used.add(name.casefold())
        out.append(name)
    return out


def _number_format(df: pd.DataFrame, col: str, kind: str, decimals, unit: str) -> str:
    if kind == "int":
        return "#,##0"
    if kind == "pvalue":
        return "0.000"
    if decimals is None:
        vals = pd.to_numeric(df[col], errors="coerce").dropna()
        decimals = max((decimals_needed(v) for v in vals), default=0)
    body = "#,##0" + ("." + "0" * decimals if decimals else "")
    return (("0." + "0" * decimals) if decimals else "0") + "%" if unit == "percent" else body


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry times and fixed document dates in docProps/core.xml."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                              rb"\g<1>" + _FIXED_W3CDTF.encode() + rb"\g<3>", body)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            out.writestr(entry, body)
    return buf.getvalue()


def _write_cell(ws, row: int, col: int, value, kind: str, unit: str, fmt: str | None):
    cell = ws.cell(row=row, column=col)
    if kind in NUMERIC_KINDS and not isinstance(value, str):
        if value is None or pd.isna(value):
            return cell
        v = float(value)
        cell.value = v / 100.0 if unit == "percent" else (int(v) if kind == "int" and v == int(v) else v)
        cell.number_format = fmt
        return cell
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return cell
    cell.value = str(value)
    cell.data_type = "s"  # never a formula, whatever the text starts with
    if cell.value.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return cell


def write_xlsx(sections, path, lang: str) -> Path:
    """One sheet per table of ``sections`` (report order); returns ``path`` (written atomically)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    tables = export_tables(sections)
    wb = Workbook()
    wb.remove(wb.active)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="F2F2F2")
    for (name, label, df), sheet in zip(tables, sheet_names([t[1] for t in tables])):
        ws = wb.create_sheet(sheet)
        cols = list(df.columns)
        specs = [column_spec(df, col) for col in cols]
        widths = []
        for j, (col, (kind, dec, unit)) in enumerate(zip(cols, specs), start=1):
            head = header(col, lang, unit)
            cell = ws.cell(row=1, column=j, value=head)
            cell.data_type = "s"
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(horizontal="right" if kind in NUMERIC_KINDS else "left", wrap_text=True,
                                       vertical="top")
            fmt = _number_format(df, col, kind, dec, unit) if kind in NUMERIC_KINDS else None
            width = len(head)
            for i, value in enumerate(df[col].tolist(), start=2):
                shown = value if kind in NUMERIC_KINDS else (
                    cell_text(value, kind, dec, lang) if not (value is None or (not isinstance(value, str)
                                                                                 and pd.isna(value))) else None)
                _write_cell(ws, i, j, shown, kind, unit, fmt)
                width = max(width, len(cell_text(value, kind, dec, lang)) + (1 if unit == "percent" else 0))
            widths.append(min(_MAX_WIDTH, width + 2))
        for j, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(j)].width = w
        ws.freeze_panes = "A2"
        if cols:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{max(1, len(df) + 1)}"
    if not wb.sheetnames:
        wb.create_sheet("–")
    props = wb.properties
    props.creator = "analysis-766"
    props.lastModifiedBy = "analysis-766"
    props.created = props.modified = pd.Timestamp("2000-01-01").to_pydatetime()
    buf = io.BytesIO()
    wb.save(buf)
    path = Path(path)
    atomic_write_bytes(path, _deterministic_zip(buf.getvalue()))
    return path


def write_csv(sections, directory, lang: str) -> Path:
    """``directory/<table>.csv`` for every table: UTF-8 with a BOM (Excel on Windows reads the
    Vietnamese letters), headers and code values in ``lang``, numbers as values, formula-like
    text neutralised."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, _label, df in export_tables(sections):
        cols = list(df.columns)
        specs = [column_spec(df, col) for col in cols]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; a field with CR or LF is quoted
        w.writerow([header(col, lang, unit) for col, (_, _, unit) in zip(cols, specs)])
        for row in df.itertuples(index=False):
            out = []
            for value, (kind, dec, _) in zip(row, specs):
                if value is None or (not isinstance(value, str) and pd.isna(value)):
                    out.append("")
                elif kind in NUMERIC_KINDS and not isinstance(value, str):
                    out.append(repr(float(value)).removesuffix(".0") if kind != "int" else str(int(value)))
                else:
                    out.append(neutralise(cell_text(value, kind, dec, lang)))
            w.writerow(out)
        atomic_write_bytes(directory / f"{name.replace('/', '__').replace('#', '_')}.csv",
                           buf.getvalue().encode("utf-8-sig"))
    return directory
